import AshlarCore
import Foundation
import SQLKit

/// Volume transfers. Accepted ones stay, marked, as the history 3.57 lists.
public struct TransferStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    public func insert(_ t: Transfer) async throws {
        try await db.write.insert(into: "transfers")
            .columns(
                "id", "volume_id", "name", "salt", "crypt_hash", "source_project_id", "destination_project_id",
                "accepted", "no_snapshots", "created_at", "updated_at"
            )
            .values(
                SQLBind(t.id), SQLBind(t.volumeID), SQLBind(t.name), SQLBind(t.salt), SQLBind(t.cryptHash),
                SQLBind(t.sourceProjectID), SQLBind(t.destinationProjectID), SQLBind(t.accepted),
                SQLBind(t.noSnapshots), SQLBind(t.createdAt.stored), SQLBind(t.updatedAt?.stored)
            )
            .run()
    }

    /// A transfer not yet accepted.
    public func pending(id: String) async throws -> Transfer? {
        try await db.read.select().column("*").from("transfers").where("id", .equal, id)
            .where("accepted", .equal, false).first().map(Self.decode)
    }

    /// The pending transfers, of one source project or (nil) all, oldest first.
    public func list(projectID: String?) async throws -> [Transfer] {
        let select = db.read.select().column("*").from("transfers").where("accepted", .equal, false)
        if let projectID { select.where("source_project_id", .equal, projectID) }
        return try await select.orderBy("created_at").orderBy("id").all().map(Self.decode)
    }

    /// Removes a pending transfer; false when there was none (gone, or accepted meanwhile).
    public func deletePending(id: String) async throws -> Bool {
        try await !db.write.delete(from: "transfers").where("id", .equal, id).where("accepted", .equal, false)
            .returning("id").all().isEmpty
    }

    /// Marks a pending transfer accepted by `projectID`; false when it was not pending.
    @discardableResult
    public func markAccepted(id: String, by projectID: String) async throws -> Bool {
        try await !db.write.update("transfers").set("accepted", to: true).set("destination_project_id", to: projectID)
            .set("updated_at", to: Date().stored).where("id", .equal, id).where("accepted", .equal, false)
            .returning("id").all().isEmpty
    }

    static func decode(_ row: any SQLRow) throws -> Transfer {
        Transfer(
            id: try row.decode(column: "id", as: String.self),
            volumeID: try row.decode(column: "volume_id", as: String.self),
            name: try row.optional("name", String.self),
            salt: try row.decode(column: "salt", as: String.self),
            cryptHash: try row.decode(column: "crypt_hash", as: String.self),
            sourceProjectID: try row.decode(column: "source_project_id", as: String.self),
            destinationProjectID: try row.optional("destination_project_id", String.self),
            accepted: try row.decode(column: "accepted", as: Bool.self),
            noSnapshots: try row.decode(column: "no_snapshots", as: Bool.self),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at")
        )
    }
}
