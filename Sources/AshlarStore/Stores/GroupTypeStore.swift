import AshlarCore
import Foundation
import SQLKit

/// Group types and their group specs.
public struct GroupTypeStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    static func exists(_ name: String) -> AshlarError {
        AshlarError(.conflict, "Group Type \(name) already exists.")
    }

    /// Inserts a type; `.conflict` when the name is taken (the unique index settles a race).
    public func insert(_ t: GroupType) async throws {
        if try await get(name: t.name) != nil { throw Self.exists(t.name) }
        do {
            try await db.write.insert(into: "group_types")
                .columns("id", "name", "description", "is_public", "group_specs", "created_at", "updated_at")
                .values(
                    SQLBind(t.id), SQLBind(t.name), SQLBind(t.description), SQLBind(t.isPublic),
                    SQLBind(encodeMap(t.groupSpecs)), SQLBind(t.createdAt.stored), SQLBind(t.updatedAt?.stored))
                .run()
        } catch {
            if try await get(name: t.name) != nil { throw Self.exists(t.name) }
            throw error
        }
    }

    public func get(id: String) async throws -> GroupType? {
        try await db.read.select().column("*").from("group_types").where("id", .equal, id).first().map(Self.decode)
    }

    public func get(name: String) async throws -> GroupType? {
        try await db.read.select().column("*").from("group_types").where("name", .equal, name).first()
            .map(Self.decode)
    }

    /// By id first, then by name, as Cinder resolves `group_type` in requests.
    public func find(_ idOrName: String) async throws -> GroupType? {
        if let t = try await get(id: idOrName) { return t }
        return try await get(name: idOrName)
    }

    /// All types, optionally only public or only private ones, ordered by name.
    public func list(isPublic: Bool? = nil) async throws -> [GroupType] {
        let select = db.read.select().column("*").from("group_types")
        if let isPublic { select.where("is_public", .equal, isPublic) }
        return try await select.orderBy("name").orderBy("id").all().map(Self.decode)
    }

    /// Updates name/description/is_public/specs; nil when the type is gone (or, with `expectedSpecs`, when its
    /// specs changed meanwhile).
    @discardableResult
    public func update(
        id: String, name: String? = nil, description: String?? = nil, isPublic: Bool? = nil,
        groupSpecs: [String: String]? = nil, expectedSpecs: [String: String]? = nil
    ) async throws -> GroupType? {
        if let name, let other = try await get(name: name), other.id != id { throw Self.exists(name) }
        let builder = db.write.update("group_types")
        if let name { builder.set("name", to: name) }
        if let description { builder.set("description", to: SQLBind(description)) }
        if let isPublic { builder.set("is_public", to: isPublic) }
        if let groupSpecs { builder.set("group_specs", to: encodeMap(groupSpecs)) }
        builder.set("updated_at", to: Date().stored).where("id", .equal, id)
        if let expectedSpecs { builder.where("group_specs", .equal, encodeMap(expectedSpecs)) }
        do {
            return try await builder.returning("*").first().map(Self.decode)
        } catch {
            if let name, let other = try await get(name: name), other.id != id { throw Self.exists(name) }
            throw error
        }
    }

    /// Changes the specs with `change`, retried when a concurrent change got there first.
    public func modifySpecs(
        id: String, _ change: @Sendable ([String: String]) throws -> [String: String]
    ) async throws -> GroupType {
        for _ in 0..<20 {
            guard let current = try await get(id: id) else { throw AshlarError.groupTypeNotFound(id) }
            let specs = try change(current.groupSpecs)
            if let updated = try await update(id: id, groupSpecs: specs, expectedSpecs: current.groupSpecs) {
                return updated
            }
        }
        throw AshlarError(.conflict, "Group type \(id) is being changed concurrently; try again.")
    }

    /// Removes the type unless a group uses it, in one statement; nil when there is no such type, false when a
    /// group uses it.
    public func delete(id: String) async throws -> Bool? {
        let removed = try await db.write.delete(from: "group_types").where("id", .equal, id)
            .where(SQLRaw("NOT EXISTS (SELECT 1 FROM volume_groups WHERE volume_groups.group_type_id = group_types.id)"))
            .returning("id").all()
        if !removed.isEmpty { return true }
        return try await get(id: id) == nil ? nil : false
    }

    static func decode(_ row: any SQLRow) throws -> GroupType {
        GroupType(
            id: try row.decode(column: "id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            description: try row.optional("description", String.self),
            isPublic: try row.decode(column: "is_public", as: Bool.self),
            groupSpecs: try row.stringMap("group_specs"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"))
    }
}
