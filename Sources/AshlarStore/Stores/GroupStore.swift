import AshlarCore
import Foundation
import SQLKit

/// Generic volume groups and their volume types. As for volumes, every status change is a compare-and-swap of
/// `GroupStateMachine`; a create and a delete settle in one statement each once their members are done.
public struct GroupStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// The fields a list may filter and sort on, with their columns.
    public static let columns: [String: String] = [
        "id": "id", "name": "name", "description": "description", "status": "status",
        "availability_zone": "availability_zone", "created_at": "created_at", "updated_at": "updated_at",
        "project_id": "project_id", "user_id": "user_id", "group_type_id": "group_type_id", "host": "host",
    ]
    static let listing = TableListing(
        table: "volume_groups", columns: columns, nullableText: ["name", "description", "host"])

    /// Inserts the group if, in the same statement, every one of `conditions` holds (the project's group quota,
    /// the state of its source). The volume types go first: rows of a group that never got in are harmless.
    public func insert(_ g: VolumeGroup, requiring conditions: [Requirement] = []) async throws -> Bool {
        for (ordinal, typeID) in g.volumeTypeIDs.enumerated() {
            try await db.write.insert(into: "group_volume_types").columns("group_id", "volume_type_id", "ordinal")
                .values(SQLBind(g.id), SQLBind(typeID), SQLBind(ordinal))
                .ignoringConflicts(with: ["group_id", "volume_type_id"]).run()
        }
        let inserted = try await Self.listing.insert(
            on: db.write,
            columns: [
                "id", "project_id", "user_id", "name", "description", "group_type_id", "status",
                "availability_zone", "host", "group_snapshot_id", "source_group_id", "replication_status",
                "created_at", "updated_at",
            ],
            values: [
                SQLBind(g.id), SQLBind(g.projectID), SQLBind(g.userID), SQLBind(g.name), SQLBind(g.description),
                SQLBind(g.groupTypeID), SQLBind(g.status.rawValue), SQLBind(g.availabilityZone), SQLBind(g.host),
                SQLBind(g.groupSnapshotID), SQLBind(g.sourceGroupID), SQLBind(g.replicationStatus),
                SQLBind(g.createdAt.stored), SQLBind(g.updatedAt?.stored),
            ], requiring: conditions)
        if !inserted { try await removeTypes(of: g.id) }
        return inserted
    }

    private func removeTypes(of groupID: String) async throws {
        try await db.write.delete(from: "group_volume_types").where("group_id", .equal, groupID).run()
    }

    /// The group if `projectID` may see it (nil project: any).
    public func get(_ id: String, projectID: String? = nil) async throws -> VolumeGroup? {
        let select = db.read.select().column("*").from("volume_groups").where("id", .equal, id)
        if let projectID { select.where("project_id", .equal, projectID) }
        guard let row = try await select.first() else { return nil }
        return try await withTypes([try Self.decode(row)]).first
    }

    /// One page of groups. Throws `.notFound` when the marker does not exist.
    public func list(_ query: ListQuery) async throws -> [VolumeGroup] {
        let rows = try await Self.listing.page(
            db.read.select().column("*").from("volume_groups"), query,
            markerExists: { try await get($0, projectID: query.projectID) != nil }, decode: Self.decode)
        return try await withTypes(rows)
    }

    /// Groups on a backend (`host@backend`) in one of `statuses`.
    public func onBackend(_ backend: String, statusIn statuses: Set<GroupStatus>) async throws -> [VolumeGroup] {
        let rows = try await db.read.select().column("*").from("volume_groups").where("host", .equal, backend)
            .where("status", .in, statuses.map(\.rawValue).sorted()).all().map(Self.decode)
        return try await withTypes(rows)
    }

    /// Groups not placed yet, creating, whose last change was before `cutoff` (their message to a scheduler was
    /// lost).
    public func unplaced(changedBefore cutoff: Date) async throws -> [VolumeGroup] {
        let rows = try await db.read.select().column("*").from("volume_groups")
            .where(SQLBinaryExpression(SQLIdentifier("host"), .is, SQLLiteral.null))
            .where("status", .equal, GroupStatus.creating.rawValue)
            .where(
                SQLBinaryExpression(
                    SQLFunction("COALESCE", args: SQLIdentifier("updated_at"), SQLIdentifier("created_at")),
                    .lessThan, SQLBind(cutoff.stored))
            ).all().map(Self.decode)
        return try await withTypes(rows)
    }

    /// How many groups the project has (its `groups` quota usage).
    public func count(projectID: String) async throws -> Int {
        try await db.read.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("volume_groups")
            .where("project_id", .equal, projectID).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// The project has fewer than `limit` groups, checked in the statement that inserts one (nil: unlimited).
    public static func quota(projectID: String, limit: Int?) -> Requirement? {
        guard let limit, limit >= 0 else { return nil }
        return Requirement(SQLQueryString(
            "(SELECT COUNT(*) FROM volume_groups AS quota_groups WHERE quota_groups.project_id = \(bind: projectID)) < \(bind: limit)"))
    }

    /// The group `id` is in one of `statuses` (a condition for other statements).
    public static func group(_ id: String, statusIn statuses: Set<GroupStatus>) -> Requirement {
        Requirement(SQLQueryString(
            "EXISTS (SELECT 1 FROM volume_groups WHERE id = \(bind: id) AND status IN (\(binds: statuses.map(\.rawValue).sorted())))"))
    }

    /// Applies one transition of `GroupStateMachine` as one compare-and-swap; `requiring` adds conditions the
    /// same statement checks. Returns the group as changed, or nil when it did not match.
    @discardableResult
    public func apply(
        _ event: GroupEvent, to id: String, choosing chosen: GroupStatus? = nil, requiring conditions: [Requirement] = []
    ) async throws -> VolumeGroup? {
        let builder = try db.write.transition(GroupStateMachine.table[event], of: "volume_groups", id: id, chosen: chosen)
        for condition in conditions { builder.where(condition.sql) }
        guard let row = try await builder.returning("*").first() else { return nil }
        return try await withTypes([try Self.decode(row)]).first
    }

    /// Sets name and description; false when the group is gone.
    @discardableResult
    public func rename(_ id: String, name: String??, description: String??) async throws -> Bool {
        let builder = db.write.update("volume_groups").set("updated_at", to: Date().stored).where("id", .equal, id)
        if let name { builder.set("name", to: SQLBind(name)) }
        if let description { builder.set("description", to: SQLBind(description)) }
        return try await !builder.returning("id").all().isEmpty
    }

    /// Records where a creating, unplaced group lives; false when it was placed or changed meanwhile.
    public func place(_ id: String, on backend: String, availabilityZone: String) async throws -> Bool {
        try await !db.write.update("volume_groups").set("host", to: backend)
            .set("availability_zone", to: availabilityZone).set("updated_at", to: Date().stored)
            .where("id", .equal, id).where("status", .equal, GroupStatus.creating.rawValue)
            .where(SQLBinaryExpression(SQLIdentifier("host"), .is, SQLLiteral.null))
            .returning("id").all().isEmpty
    }

    /// A creating group whose members are all made becomes available (or error, if one failed), in one
    /// statement; nil while a member is still creating (or the group is not creating).
    @discardableResult
    public func settleCreate(_ id: String) async throws -> GroupStatus? {
        let noneCreating = Requirement(SQLQueryString(
            "NOT EXISTS (SELECT 1 FROM volumes WHERE volumes.group_id = \(bind: id) AND volumes.status = 'creating')"))
        let someFailed = Requirement(SQLQueryString(
            "EXISTS (SELECT 1 FROM volumes WHERE volumes.group_id = \(bind: id) AND volumes.status = 'error')"))
        if try await apply(.createFailed, to: id, requiring: [noneCreating, someFailed]) != nil { return .error }
        if try await apply(.created, to: id, requiring: [noneCreating]) != nil { return .available }
        return nil
    }

    /// Removes a deleting group once no volume is left in it; true when it went.
    @discardableResult
    public func settleDelete(_ id: String) async throws -> Bool {
        try await delete(id, expected: [.deleting])
    }

    /// Removes a group with no volumes outright (one never placed, or a create undone); true when it went.
    @discardableResult
    public func delete(_ id: String, expected: Set<GroupStatus>, unplaced: Bool = false) async throws -> Bool {
        let builder = db.write.delete(from: "volume_groups").where("id", .equal, id)
        if unplaced { builder.where(SQLBinaryExpression(SQLIdentifier("host"), .is, SQLLiteral.null)) }
        let removed = try await builder
            .where("status", .in, expected.map(\.rawValue).sorted())
            .where(SQLQueryString("NOT EXISTS (SELECT 1 FROM volumes WHERE volumes.group_id = \(bind: id))"))
            .returning("id").all()
        guard !removed.isEmpty else { return false }
        try await removeTypes(of: id)
        return true
    }

    /// Whether any group takes this volume type.
    public func anyUses(volumeTypeID: String) async throws -> Bool {
        try await db.read.select().column("group_id").from("group_volume_types")
            .where("volume_type_id", .equal, volumeTypeID).limit(1).first() != nil
    }

    /// Fills in each group's volume types, in the order they were given, with one query.
    private func withTypes(_ groups: [VolumeGroup]) async throws -> [VolumeGroup] {
        guard !groups.isEmpty else { return groups }
        let rows = try await db.read.select().column("group_id").column("volume_type_id").from("group_volume_types")
            .where("group_id", .in, groups.map(\.id)).orderBy("ordinal").all()
        var types: [String: [String]] = [:]
        for row in rows {
            types[try row.decode(column: "group_id", as: String.self), default: []].append(
                try row.decode(column: "volume_type_id", as: String.self))
        }
        return groups.map { g in
            var g = g
            g.volumeTypeIDs = types[g.id] ?? []
            return g
        }
    }

    static func decode(_ row: any SQLRow) throws -> VolumeGroup {
        VolumeGroup(
            id: try row.decode(column: "id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            userID: try row.decode(column: "user_id", as: String.self),
            name: try row.optional("name", String.self),
            description: try row.optional("description", String.self),
            groupTypeID: try row.decode(column: "group_type_id", as: String.self),
            volumeTypeIDs: [],
            status: GroupStatus(try row.decode(column: "status", as: String.self)),
            availabilityZone: try row.decode(column: "availability_zone", as: String.self),
            host: try row.optional("host", String.self),
            groupSnapshotID: try row.optional("group_snapshot_id", String.self),
            sourceGroupID: try row.optional("source_group_id", String.self),
            replicationStatus: try row.optional("replication_status", String.self),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"))
    }
}
