import AshlarCore
import Foundation
import SQLKit

/// Volume types, their extra specs, project access and per-project default types.
public struct VolumeTypeStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// Inserts a type. Throws `.conflict` when the name is taken.
    public func insert(_ t: VolumeType) async throws {
        if try await get(name: t.name) != nil {
            throw AshlarError(.conflict, "Volume Type \(t.name) already exists.")
        }
        do {
            try await db.write.insert(into: "volume_types")
                .columns(
                    "id", "name", "description", "is_public", "extra_specs", "qos_specs_id", "created_at", "updated_at"
                )
                .values(
                    SQLBind(t.id), SQLBind(t.name), SQLBind(t.description), SQLBind(t.isPublic),
                    SQLBind(encodeMap(t.extraSpecs)), SQLBind(t.qosSpecsID), SQLBind(t.createdAt.stored),
                    SQLBind(t.updatedAt?.stored)
                )
                .run()
        } catch {
            // A racing insert of the same name loses on the unique index.
            if try await get(name: t.name) != nil {
                throw AshlarError(.conflict, "Volume Type \(t.name) already exists.")
            }
            throw error
        }
    }

    public func get(id: String) async throws -> VolumeType? {
        try await db.read.select().column("*").from("volume_types").where("id", .equal, id).first().map(Self.decode)
    }

    public func get(name: String) async throws -> VolumeType? {
        try await db.read.select().column("*").from("volume_types").where("name", .equal, name).first().map(Self.decode)
    }

    /// By id first, then by name, as Cinder resolves `volume_type` in requests.
    public func find(_ idOrName: String) async throws -> VolumeType? {
        if let t = try await get(id: idOrName) { return t }
        return try await get(name: idOrName)
    }

    /// All types, optionally only public or only private ones, ordered by name.
    public func list(isPublic: Bool? = nil) async throws -> [VolumeType] {
        let select = db.read.select().column("*").from("volume_types")
        if let isPublic { select.where("is_public", .equal, isPublic) }
        return try await select.orderBy("name").all().map(Self.decode)
    }

    /// Updates name/description/is_public/extra specs; returns nil when the type is gone.
    @discardableResult
    public func update(
        id: String, name: String? = nil, description: String?? = nil, isPublic: Bool? = nil,
        extraSpecs: [String: String]? = nil, expectedSpecs: [String: String]? = nil
    ) async throws -> VolumeType? {
        if let name, let other = try await get(name: name), other.id != id {
            throw AshlarError(.conflict, "Volume Type \(name) already exists.")
        }
        let builder = db.write.update("volume_types")
        if let name { builder.set("name", to: name) }
        if let description { builder.set("description", to: SQLBind(description)) }
        if let isPublic { builder.set("is_public", to: isPublic) }
        if let extraSpecs { builder.set("extra_specs", to: encodeMap(extraSpecs)) }
        builder.set("updated_at", to: Date().stored).where("id", .equal, id)
        if let expectedSpecs { builder.where("extra_specs", .equal, encodeMap(expectedSpecs)) }
        do {
            return try await builder.returning("*").first().map(Self.decode)
        } catch {
            // A concurrent rename to the same name loses on the unique index.
            if let name, let other = try await get(name: name), other.id != id {
                throw AshlarError(.conflict, "Volume Type \(name) already exists.")
            }
            throw error
        }
    }

    /// Changes the extra specs with `change`, retrying when a concurrent change got there first.
    public func modifySpecs(
        id: String, _ change: @Sendable ([String: String]) throws -> [String: String]
    )
        async throws -> VolumeType
    {
        for _ in 0..<20 {
            guard let current = try await get(id: id) else { throw AshlarError.volumeTypeNotFound(id) }
            let specs = try change(current.extraSpecs)
            if let updated = try await update(id: id, extraSpecs: specs, expectedSpecs: current.extraSpecs) {
                return updated
            }
        }
        throw AshlarError(.conflict, "Volume type \(id) is being changed concurrently; try again.")
    }

    public func delete(id: String) async throws -> Bool {
        try await !db.write.delete(from: "volume_types").where("id", .equal, id).returning("id").all().isEmpty
    }

    // MARK: Access

    public func projects(typeID: String) async throws -> [String] {
        try await db.read.select().column("project_id").from("volume_type_projects")
            .where("volume_type_id", .equal, typeID).orderBy("project_id").all()
            .map { try $0.decode(column: "project_id", as: String.self) }
    }

    /// Adds access; false when the project already had it (also when a concurrent add won).
    public func addAccess(typeID: String, projectID: String) async throws -> Bool {
        try await !db.write.insert(into: "volume_type_projects").columns("volume_type_id", "project_id")
            .values(SQLBind(typeID), SQLBind(projectID)).ignoringConflicts(with: ["volume_type_id", "project_id"])
            .returning("project_id").all().isEmpty
    }

    /// Removes access; false when the project did not have it.
    public func removeAccess(typeID: String, projectID: String) async throws -> Bool {
        try await !db.write.delete(from: "volume_type_projects").where("volume_type_id", .equal, typeID)
            .where("project_id", .equal, projectID).returning("project_id").all().isEmpty
    }

    // MARK: Default types (3.62)

    /// Sets or replaces the project's default type in one statement (an upsert), so racing calls cannot collide.
    public func setDefault(projectID: String, typeID: String) async throws {
        try await db.write.insert(into: "default_types").columns("project_id", "volume_type_id")
            .values(SQLBind(projectID), SQLBind(typeID))
            .onConflict(with: ["project_id"]) { $0.set(excludedValueOf: "volume_type_id") }
            .run()
    }

    public func defaultTypeID(projectID: String) async throws -> String? {
        try await db.read.select().column("volume_type_id").from("default_types").where("project_id", .equal, projectID)
            .first()?.decode(column: "volume_type_id", as: String.self)
    }

    public func defaults() async throws -> [(projectID: String, typeID: String)] {
        try await db.read.select().column("*").from("default_types").orderBy("project_id").all().map {
            (
                try $0.decode(column: "project_id", as: String.self),
                try $0.decode(column: "volume_type_id", as: String.self)
            )
        }
    }

    public func unsetDefault(projectID: String) async throws -> Bool {
        try await !db.write.delete(from: "default_types").where("project_id", .equal, projectID)
            .returning("project_id").all().isEmpty
    }

    public func isDefaultForAnyProject(typeID: String) async throws -> Bool {
        try await db.read.select().column("project_id").from("default_types").where("volume_type_id", .equal, typeID)
            .limit(1).first() != nil
    }

    static func decode(_ row: any SQLRow) throws -> VolumeType {
        VolumeType(
            id: try row.decode(column: "id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            description: try row.optional("description", String.self),
            isPublic: try row.decode(column: "is_public", as: Bool.self),
            extraSpecs: try row.stringMap("extra_specs"),
            qosSpecsID: try row.optional("qos_specs_id", String.self),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at")
        )
    }
}
