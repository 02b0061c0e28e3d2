import AshlarCore
import Foundation
import SQLKit

/// Group snapshots. Their members are ordinary snapshots naming them (`snapshots.group_snapshot_id`); a create
/// settles once no member is creating, a delete once none is left.
public struct GroupSnapshotStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    public static let columns: [String: String] = [
        "id": "id", "name": "name", "description": "description", "status": "status", "group_id": "group_id",
        "created_at": "created_at", "updated_at": "updated_at", "project_id": "project_id", "user_id": "user_id",
        "group_type_id": "group_type_id",
    ]
    static let listing = TableListing(table: "group_snapshots", columns: columns, nullableText: ["name", "description"])

    /// Inserts the group snapshot if, in the same statement, every one of `conditions` holds.
    public func insert(_ g: GroupSnapshot, requiring conditions: [Requirement] = []) async throws -> Bool {
        try await Self.listing.insert(
            on: db.write,
            columns: [
                "id", "group_id", "project_id", "user_id", "name", "description", "group_type_id", "status",
                "created_at", "updated_at",
            ],
            values: [
                SQLBind(g.id), SQLBind(g.groupID), SQLBind(g.projectID), SQLBind(g.userID), SQLBind(g.name),
                SQLBind(g.description), SQLBind(g.groupTypeID), SQLBind(g.status.rawValue),
                SQLBind(g.createdAt.stored), SQLBind(g.updatedAt?.stored),
            ], requiring: conditions)
    }

    public func get(_ id: String, projectID: String? = nil) async throws -> GroupSnapshot? {
        let select = db.read.select().column("*").from("group_snapshots").where("id", .equal, id)
        if let projectID { select.where("project_id", .equal, projectID) }
        return try await select.first().map(Self.decode)
    }

    public func list(_ query: ListQuery) async throws -> [GroupSnapshot] {
        try await Self.listing.page(
            db.read.select().column("*").from("group_snapshots"), query,
            markerExists: { try await get($0, projectID: query.projectID) != nil }, decode: Self.decode)
    }

    /// The group snapshots of a group.
    public func of(groupID: String) async throws -> [GroupSnapshot] {
        try await db.read.select().column("*").from("group_snapshots").where("group_id", .equal, groupID)
            .orderBy("created_at").all().map(Self.decode)
    }

    /// Group snapshots of the groups on a backend, in one of `statuses`.
    public func onBackend(_ backend: String, statusIn statuses: Set<GroupSnapshotStatus>) async throws -> [GroupSnapshot] {
        try await db.read.select().column("*").from("group_snapshots")
            .where("status", .in, statuses.map(\.rawValue).sorted())
            .where(SQLQueryString(
                "group_id IN (SELECT id FROM volume_groups WHERE host = \(bind: backend))"))
            .all().map(Self.decode)
    }

    /// The group snapshot `id` is in one of `statuses` (a condition for other statements).
    public static func groupSnapshot(_ id: String, statusIn statuses: Set<GroupSnapshotStatus>) -> Requirement {
        Requirement(SQLQueryString(
            "EXISTS (SELECT 1 FROM group_snapshots WHERE id = \(bind: id) AND status IN (\(binds: statuses.map(\.rawValue).sorted())))"))
    }

    /// The group has no group snapshot (a condition for deleting it).
    public static func none(ofGroup groupID: String) -> Requirement {
        Requirement(SQLQueryString("NOT EXISTS (SELECT 1 FROM group_snapshots WHERE group_id = \(bind: groupID))"))
    }

    @discardableResult
    public func apply(
        _ event: GroupSnapshotEvent, to id: String, choosing chosen: GroupSnapshotStatus? = nil,
        requiring conditions: [Requirement] = []
    ) async throws -> GroupSnapshot? {
        let builder = try db.write.transition(
            GroupSnapshotStateMachine.table[event], of: "group_snapshots", id: id, chosen: chosen)
        for condition in conditions { builder.where(condition.sql) }
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// A creating group snapshot whose members are all done becomes available (error, if one failed), in one
    /// statement; nil while a member is still creating.
    @discardableResult
    public func settleCreate(_ id: String) async throws -> GroupSnapshotStatus? {
        let noneCreating = Requirement(SQLQueryString(
            "NOT EXISTS (SELECT 1 FROM snapshots WHERE snapshots.group_snapshot_id = \(bind: id) AND snapshots.status = 'creating')"))
        let someFailed = Requirement(SQLQueryString(
            "EXISTS (SELECT 1 FROM snapshots WHERE snapshots.group_snapshot_id = \(bind: id) AND snapshots.status = 'error')"))
        if try await apply(.createFailed, to: id, requiring: [noneCreating, someFailed]) != nil { return .error }
        if try await apply(.created, to: id, requiring: [noneCreating]) != nil { return .available }
        return nil
    }

    /// Removes a deleting group snapshot once no member is left; true when it went.
    @discardableResult
    public func settleDelete(_ id: String) async throws -> Bool {
        try await !db.write.delete(from: "group_snapshots").where("id", .equal, id)
            .where("status", .equal, GroupSnapshotStatus.deleting.rawValue)
            .where(SQLQueryString("NOT EXISTS (SELECT 1 FROM snapshots WHERE snapshots.group_snapshot_id = \(bind: id))"))
            .returning("id").all().isEmpty
    }

    /// Removes a group snapshot outright, whatever its members (used to undo an insert that could not finish).
    public func remove(_ id: String) async throws {
        try await db.write.delete(from: "group_snapshots").where("id", .equal, id).run()
    }

    static func decode(_ row: any SQLRow) throws -> GroupSnapshot {
        GroupSnapshot(
            id: try row.decode(column: "id", as: String.self),
            groupID: try row.decode(column: "group_id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            userID: try row.decode(column: "user_id", as: String.self),
            name: try row.optional("name", String.self),
            description: try row.optional("description", String.self),
            groupTypeID: try row.decode(column: "group_type_id", as: String.self),
            status: GroupSnapshotStatus(try row.decode(column: "status", as: String.self)),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"))
    }
}

extension SnapshotStore {
    /// The member snapshots of a group snapshot.
    public func members(ofGroupSnapshot id: String) async throws -> [Snapshot] {
        try await list(ListQuery(projectID: nil, conditions: [.init("group_snapshot_id", .eq, .string(id))], sort: [.init("created_at", ascending: true)]))
    }

    /// Every member of the group snapshot that may be deleted goes to `deleting` in one statement.
    @discardableResult
    public func markDeleting(ofGroupSnapshot id: String) async throws -> [Snapshot] {
        try await apply(.deletedWithGroupSnapshot, whereColumn: "group_snapshot_id", equals: id)
    }
}
