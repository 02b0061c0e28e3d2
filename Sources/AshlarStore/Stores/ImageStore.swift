import AshlarCore
import Foundation
import SQLKit

/// The records of the image store built into the all-in-one. A change of status is a compare-and-swap on the
/// status it expects, so two uploads of one image cannot both begin.
public struct ImageStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    static let columns = [
        "id", "name", "status", "visibility", "protected", "owner", "disk_format", "container_format", "size",
        "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "tags", "properties",
        "created_at", "updated_at",
    ]

    static func values(_ i: Image) -> [any SQLExpression] {
        [
            SQLBind(i.id), SQLBind(i.name), SQLBind(i.status), SQLBind(i.visibility), SQLBind(i.protected),
            SQLBind(i.owner), SQLBind(i.diskFormat), SQLBind(i.containerFormat), SQLBind(i.size),
            SQLBind(i.virtualSize), SQLBind(i.checksum), SQLBind(i.osHashAlgorithm), SQLBind(i.osHashValue),
            SQLBind(i.minDisk), SQLBind(i.minRAM), SQLBind(encodeList(i.tags)), SQLBind(encodeMap(i.properties)),
            SQLBind(i.createdAt.stored), SQLBind(i.updatedAt.stored),
        ]
    }

    public func insert(_ image: Image) async throws {
        try await db.write.insert(into: "images").columns(Self.columns).values(Self.values(image)).run()
    }

    public func get(_ id: String) async throws -> Image? {
        try await db.read.select().column("*").from("images").where("id", .equal, id).first().map(Self.decode)
    }

    /// Every image, oldest first (the store is small: its filters and pages are applied by the caller).
    public func all() async throws -> [Image] {
        try await db.read.select().column("*").from("images").orderBy("created_at").orderBy("id").all()
            .map(Self.decode)
    }

    /// Writes `image` over its row if the row's status is still one of `statuses`; false otherwise.
    public func replace(_ image: Image, ifStatusIn statuses: Set<String>) async throws -> Bool {
        let update = db.write.update("images")
        for (column, value) in zip(Self.columns, Self.values(image)).dropFirst() { update.set(SQLColumn(column), to: value) }
        return try await !update.where("id", .equal, image.id).where("status", .in, Array(statuses))
            .returning("id").all().isEmpty
    }

    /// Removes the row; false when there was none.
    public func delete(_ id: String) async throws -> Bool {
        try await !db.write.delete(from: "images").where("id", .equal, id).returning("id").all().isEmpty
    }

    static func decode(_ row: any SQLRow) throws -> Image {
        Image(
            id: try row.decode(column: "id", as: String.self), name: try row.optional("name", String.self),
            status: try row.decode(column: "status", as: String.self),
            visibility: try row.decode(column: "visibility", as: String.self),
            protected: try row.decode(column: "protected", as: Bool.self),
            owner: try row.optional("owner", String.self),
            diskFormat: try row.optional("disk_format", String.self),
            containerFormat: try row.optional("container_format", String.self),
            size: try row.optional("size", Int64.self), virtualSize: try row.optional("virtual_size", Int64.self),
            checksum: try row.optional("checksum", String.self),
            osHashAlgorithm: try row.optional("os_hash_algo", String.self),
            osHashValue: try row.optional("os_hash_value", String.self),
            minDisk: try row.decode(column: "min_disk", as: Int.self),
            minRAM: try row.decode(column: "min_ram", as: Int.self),
            tags: try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "tags", as: String.self).utf8)),
            properties: try row.stringMap("properties"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}

/// Encodes a list of strings as JSON text for a TEXT column.
func encodeList(_ list: [String]) -> String {
    String(decoding: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), as: UTF8.self)
}
