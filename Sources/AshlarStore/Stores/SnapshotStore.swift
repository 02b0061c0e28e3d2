import AshlarCore
import Foundation
import SQLKit

/// Snapshots in the database. As with volumes, every status change is a compare-and-swap, and a snapshot is
/// only ever created by a statement that checks its volume's state (and the project's quota) as it inserts.
public struct SnapshotStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// The fields a list may filter and sort on, with their columns.
    public static let columns: [String: String] = [
        "id": "id", "name": "name", "display_name": "name", "description": "description",
        "display_description": "description", "status": "status", "volume_id": "volume_id", "size": "volume_size",
        "volume_size": "volume_size", "created_at": "created_at", "updated_at": "updated_at",
        "project_id": "project_id", "user_id": "user_id", "consumes_quota": "consumes_quota",
        "progress": "progress", "group_snapshot_id": "group_snapshot_id",
    ]

    static let listing = TableListing(table: "snapshots", columns: columns, nullableText: ["name", "description", "group_snapshot_id"])

    /// Inserts the snapshot if, in the same statement, every one of `conditions` holds (its volume's state, the
    /// quota). Returns whether it was inserted.
    public func insert(_ s: Snapshot, requiring conditions: [Requirement] = []) async throws -> Bool {
        let values: [any SQLExpression] = [
            SQLBind(s.id), SQLBind(s.projectID), SQLBind(s.userID), SQLBind(s.volumeID), SQLBind(s.name),
            SQLBind(s.description), SQLBind(s.status.rawValue), SQLBind(s.progress), SQLBind(s.volumeSize),
            SQLBind(s.volumeTypeID), SQLBind(s.consumesQuota), SQLBind(encodeMap(s.metadata)),
            SQLBind(s.createdAt.stored), SQLBind(s.updatedAt?.stored), SQLBind(s.groupSnapshotID),
        ]
        return try await Self.listing.insert(
            on: db.write,
            columns: [
                "id", "project_id", "user_id", "volume_id", "name", "description", "status", "progress",
                "volume_size", "volume_type_id", "consumes_quota", "metadata", "created_at", "updated_at",
                "group_snapshot_id",
            ], values: values, requiring: conditions)
    }

    /// The snapshot with this id if `projectID` may see it (nil project: any).
    public func get(_ id: String, projectID: String? = nil) async throws -> Snapshot? {
        let select = db.read.select().column(SQLLiteral.all).from("snapshots").where("id", .equal, id)
        if let projectID { select.where("project_id", .equal, projectID) }
        return try await select.first().map(Self.decode)
    }

    /// One page of snapshots. Throws `.notFound` when the marker does not exist.
    public func list(_ query: ListQuery) async throws -> [Snapshot] {
        try await Self.listing.page(
            db.read.select().column(SQLLiteral.all).from("snapshots"), query,
            markerExists: { try await get($0, projectID: query.projectID) != nil }, decode: Self.decode)
    }

    /// How many snapshots match the query's filters (pagination ignored).
    public func count(_ query: ListQuery) async throws -> Int {
        try await Self.listing.count(on: db.read, query)
    }

    /// A volume's snapshots, newest first.
    public func of(volumeID: String) async throws -> [Snapshot] {
        try await db.read.select().column(SQLLiteral.all).from("snapshots").where("volume_id", .equal, volumeID)
            .orderBy("created_at", .descending).orderBy("id", .descending).all().map(Self.decode)
    }

    /// Snapshots of the volumes placed on a backend (`host@backend`, any pool).
    public func onBackend(_ backend: String) async throws -> [Snapshot] {
        try await db.read.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("snapshots")))
            .from("snapshots")
            .join("volumes", on: SQLColumn("id", table: "volumes"), .equal, SQLColumn("volume_id", table: "snapshots"))
            .where(VolumeStore.hasPrefix("host", backend + "#"))
            .all().map(Self.decode)
    }

    /// Applies `update` when the row's status is one of `statusIn` (nil: any) and every one of `conditions`
    /// holds; returns the updated snapshot, or nil when it did not match.
    @discardableResult
    public func update(
        _ id: String, statusIn: Set<SnapshotStatus>? = nil, requiring conditions: [Requirement] = [],
        set update: SnapshotUpdate
    ) async throws -> Snapshot? {
        let builder = db.write.update("snapshots")
        update.apply(to: builder)
        builder.set("updated_at", to: Date().stored)
        builder.where("id", .equal, id)
        if let statusIn { builder.where("status", .in, statusIn.map(\.rawValue).sorted()) }
        for condition in conditions { builder.where(condition.sql) }
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// Applies one transition of `SnapshotStateMachine` as one compare-and-swap (with `conditions` and `update`'s
    /// other columns); nil when the snapshot was not in a status the event starts from.
    @discardableResult
    public func apply(
        _ event: SnapshotEvent, to id: String, choosing chosen: SnapshotStatus? = nil,
        requiring conditions: [Requirement] = [], also update: SnapshotUpdate = .init()
    ) async throws -> Snapshot? {
        let builder = try db.write.transition(SnapshotStateMachine.table[event], of: "snapshots", id: id, chosen: chosen)
        update.apply(to: builder)
        for condition in conditions { builder.where(condition.sql) }
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// Applies `event` to every snapshot of a volume that it can start from (a cascading delete); returns them.
    public func apply(_ event: SnapshotEvent, toSnapshotsOf volumeID: String) async throws -> [Snapshot] {
        try await apply(event, whereColumn: "volume_id", equals: volumeID)
    }

    /// Applies `event` to every snapshot whose `column` is `value` that it can start from; returns them.
    func apply(_ event: SnapshotEvent, whereColumn column: String, equals value: String) async throws -> [Snapshot] {
        try await db.write.transition(SnapshotStateMachine.table[event], of: "snapshots", where: column, equals: value)
            .returning("*").all().map(Self.decode)
    }

    /// Removes the row; true when a row was removed.
    @discardableResult
    public func delete(_ id: String) async throws -> Bool {
        try await !db.write.delete(from: "snapshots").where("id", .equal, id).returning("id").all().isEmpty
    }

    /// Read-modify-write of the metadata as a compare-and-swap on its previous value, retried when a concurrent
    /// change got there first (with `onceOnly`, that is a 412 instead: the caller's If-Match).
    public func modifyMetadata(
        _ snapshot: Snapshot, onceOnly: Bool = false, _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String] {
        var before = snapshot.metadata
        for _ in 0..<20 {
            let done = try await update(
                snapshot.id, requiring: [Requirement(SQLBinaryExpression(SQLIdentifier("metadata"), .equal, SQLBind(encodeMap(before))))],
                set: .init(metadata: change(before)))
            if let done { return done.metadata }
            guard let reread = try await get(snapshot.id) else {
                throw AshlarError(.notFound, "Snapshot \(snapshot.id) could not be found.")
            }
            if onceOnly {
                throw AshlarError(
                    .preconditionFailed, "The metadata changed since it was read (If-Match does not match its ETag).")
            }
            before = reread.metadata
        }
        throw AshlarError(.conflict, "The snapshot is being changed concurrently; try again.")
    }

    // MARK: Conditions used by other statements

    /// The snapshot exists and is in one of `statuses` (a condition for a volume made from it).
    public static func snapshot(_ snapshotID: String, statusIn statuses: Set<SnapshotStatus>) -> Requirement {
        Requirement(SQLQueryString(
            "EXISTS (SELECT 1 FROM snapshots WHERE id = \(bind: snapshotID) AND status IN (\(binds: statuses.map(\.rawValue).sorted())))"
        ))
    }

    /// Gives the snapshots of `volumeID` to `projectID` and `userID` (an accepted transfer that takes them along).
    public func changeOwner(ofSnapshotsOf volumeID: String, to projectID: String, userID: String) async throws {
        try await db.write.update("snapshots").set("project_id", to: projectID).set("user_id", to: userID)
            .where("volume_id", .equal, volumeID).run()
    }

    /// No volume is being made from this snapshot right now: deleting it would pull the data from under it.
    public static func notSourceOfCreatingVolume(_ snapshotID: String) -> Requirement {
        Requirement(SQLQueryString(
            "NOT EXISTS (SELECT 1 FROM volumes WHERE snapshot_id = \(bind: snapshotID) AND status = \(bind: VolumeStatus.creating.rawValue))"
        ))
    }

    static func decode(_ row: any SQLRow) throws -> Snapshot {
        var snapshot = Snapshot(
            id: try row.decode(column: "id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            userID: try row.decode(column: "user_id", as: String.self),
            volumeID: try row.decode(column: "volume_id", as: String.self),
            name: try row.optional("name", String.self),
            description: try row.optional("description", String.self),
            status: SnapshotStatus(try row.decode(column: "status", as: String.self)),
            progress: try row.decode(column: "progress", as: String.self),
            volumeSize: try row.decode(column: "volume_size", as: Int.self),
            volumeTypeID: try row.decode(column: "volume_type_id", as: String.self),
            consumesQuota: try row.decode(column: "consumes_quota", as: Bool.self),
            metadata: try row.stringMap("metadata"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"))
        snapshot.groupSnapshotID = try row.optional("group_snapshot_id", String.self)
        return snapshot
    }
}

/// The columns a snapshot change sets; nil leaves a column alone. The status changes only by a transition of
/// `SnapshotStateMachine` (`SnapshotStore.apply`).
public struct SnapshotUpdate: Sendable {
    public var progress: String?
    public var name: String??
    public var description: String??
    public var metadata: [String: String]?
    public var consumesQuota: Bool?

    public init(
        progress: String? = nil, name: String?? = nil, description: String?? = nil,
        metadata: [String: String]? = nil, consumesQuota: Bool? = nil
    ) {
        self.progress = progress
        self.name = name
        self.description = description
        self.metadata = metadata
        self.consumesQuota = consumesQuota
    }

    func apply(to builder: SQLUpdateBuilder) {
        if let progress { builder.set("progress", to: progress) }
        if let name { builder.set("name", to: SQLBind(name)) }
        if let description { builder.set("description", to: SQLBind(description)) }
        if let metadata { builder.set("metadata", to: encodeMap(metadata)) }
        if let consumesQuota { builder.set("consumes_quota", to: consumesQuota) }
    }
}
