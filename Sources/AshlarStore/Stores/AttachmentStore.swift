import AshlarCore
import Foundation
import SQLKit

/// Volume attachments. As everywhere, status changes are compare-and-swaps, and an attachment is only created by
/// a statement that checks its volume's state as it inserts.
public struct AttachmentStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// The fields a list may filter and sort on, with their columns.
    public static let columns: [String: String] = [
        "id": "id", "volume_id": "volume_id", "instance_id": "instance_uuid", "instance_uuid": "instance_uuid",
        "status": "attach_status", "attach_status": "attach_status", "project_id": "project_id",
        "created_at": "created_at", "updated_at": "updated_at", "attached_host": "attached_host",
    ]

    static let listing = TableListing(
        table: "volume_attachments", columns: columns, nullableText: ["instance_uuid", "attached_host"])

    /// Inserts the attachment if every one of `conditions` holds in the same statement. Returns whether it did.
    public func insert(_ a: Attachment, requiring conditions: [Requirement] = []) async throws -> Bool {
        let values: [any SQLExpression] = [
            SQLBind(a.id), SQLBind(a.volumeID), SQLBind(a.projectID), SQLBind(a.instanceUUID), SQLBind(a.attachedHost),
            SQLBind(a.mountpoint), SQLBind(a.mode), SQLBind(a.status.rawValue), SQLBind(Self.encode(a.connector)),
            SQLBind(Self.encode(a.connectionInfo)), SQLBind(a.attachTime?.stored), SQLBind(a.createdAt.stored),
            SQLBind(a.updatedAt?.stored),
        ]
        return try await Self.listing.insert(
            on: db.write,
            columns: [
                "id", "volume_id", "project_id", "instance_uuid", "attached_host", "mountpoint", "attach_mode",
                "attach_status", "connector", "connection_info", "attach_time", "created_at", "updated_at"
            ], values: values, requiring: conditions)
    }

    /// The attachment with this id if `projectID` may see it (nil project: any).
    public func get(_ id: String, projectID: String? = nil) async throws -> Attachment? {
        let select = db.read.select().column(SQLLiteral.all).from("volume_attachments").where("id", .equal, id)
        if let projectID { select.where("project_id", .equal, projectID) }
        return try await select.first().map(Self.decode)
    }

    /// One page of attachments. Throws `.notFound` when the marker does not exist.
    public func list(_ query: ListQuery) async throws -> [Attachment] {
        try await Self.listing.page(
            db.read.select().column(SQLLiteral.all).from("volume_attachments"), query,
            markerExists: { try await get($0, projectID: query.projectID) != nil }, decode: Self.decode)
    }

    /// A volume's attachments, oldest first.
    public func of(volumeID: String) async throws -> [Attachment] {
        try await db.read.select().column(SQLLiteral.all).from("volume_attachments")
            .where("volume_id", .equal, volumeID).orderBy("created_at").orderBy("id").all().map(Self.decode)
    }

    /// Attachments of the volumes placed on a backend (`host@backend`, any pool).
    public func onBackend(_ backend: String) async throws -> [Attachment] {
        try await db.read.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("volume_attachments")))
            .from("volume_attachments")
            .join(
                "volumes", on: SQLColumn("id", table: "volumes"), .equal,
                SQLColumn("volume_id", table: "volume_attachments")
            )
            .where(VolumeStore.hasPrefix("host", backend + "#"))
            .all().map(Self.decode)
    }

    /// Applies `update` when the row's status is one of `statusIn` (nil: any); nil when it did not match.
    @discardableResult
    public func update(
        _ id: String, statusIn: Set<AttachStatus>? = nil, set update: AttachmentUpdate
    ) async throws -> Attachment? {
        let builder = db.write.update("volume_attachments")
        update.apply(to: builder)
        builder.set("updated_at", to: Date().stored)
        builder.where("id", .equal, id)
        if let statusIn { builder.where("attach_status", .in, statusIn.map(\.rawValue).sorted()) }
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// Applies one transition of `AttachmentStateMachine` (with `update`'s other columns) as one
    /// compare-and-swap; nil when the attachment was not in a status the event starts from (narrowed to
    /// `expecting`, the status the caller read, when given).
    @discardableResult
    public func apply(
        _ event: AttachmentEvent, to id: String, choosing chosen: AttachStatus? = nil,
        expecting: AttachStatus? = nil, also update: AttachmentUpdate = .init()
    ) async throws -> Attachment? {
        let builder = try db.write.transition(
            AttachmentStateMachine.table[event], of: "volume_attachments", id: id, column: "attach_status",
            chosen: chosen)
        if let expecting { builder.where("attach_status", .equal, expecting.rawValue) }
        update.apply(to: builder)
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// Removes the row; true when a row was removed.
    @discardableResult
    public func delete(_ id: String) async throws -> Bool {
        try await !db.write.delete(from: "volume_attachments").where("id", .equal, id).returning("id").all().isEmpty
    }

    /// The volume has no live attachment other than `except` (a condition for a second attachment of a volume
    /// that is not multiattach).
    public static func noOtherLiveAttachment(volumeID: String, except: String? = nil) -> Requirement {
        Requirement(
            SQLQueryString(
                "NOT EXISTS (SELECT 1 FROM volume_attachments WHERE volume_id = \(bind: volumeID) AND id != \(bind: except ?? "") AND attach_status IN (\(binds: Attachment.live.map(\.rawValue).sorted())))"
            ))
    }

    /// The volume has no live attachment at all (a condition for its delete).
    public static func noLiveAttachment(volumeID: String) -> Requirement { noOtherLiveAttachment(volumeID: volumeID) }

    /// Removes every attachment row of a volume (those left in an error state when the volume goes).
    public func deleteAll(ofVolume volumeID: String) async throws {
        try await db.write.delete(from: "volume_attachments").where("volume_id", .equal, volumeID).run()
    }

    static func encode(_ map: [String: JSONValue]?) -> String? {
        guard let map else { return nil }
        return String(decoding: (try? JSONEncoder().encode(map)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func decodeMap(_ text: String?) -> [String: JSONValue]? {
        guard let text else { return nil }
        return try? JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8))
    }

    static func decode(_ row: any SQLRow) throws -> Attachment {
        Attachment(
            id: try row.decode(column: "id", as: String.self),
            volumeID: try row.decode(column: "volume_id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            instanceUUID: try row.optional("instance_uuid", String.self),
            attachedHost: try row.optional("attached_host", String.self),
            mountpoint: try row.optional("mountpoint", String.self),
            mode: try row.decode(column: "attach_mode", as: String.self),
            status: AttachStatus(try row.decode(column: "attach_status", as: String.self)),
            connector: decodeMap(try row.optional("connector", String.self)),
            connectionInfo: decodeMap(try row.optional("connection_info", String.self)),
            attachTime: try row.optionalDate("attach_time"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"))
    }
}

/// The columns an attachment change sets; nil leaves a column alone. The status changes only by a transition
/// of `AttachmentStateMachine` (`AttachmentStore.apply`).
public struct AttachmentUpdate: Sendable {
    public var connector: [String: JSONValue]??
    public var connectionInfo: [String: JSONValue]??
    public var attachedHost: String??
    public var mountpoint: String??
    public var instanceUUID: String??
    public var mode: String?
    public var attachTime: Date?

    public init(
        connector: [String: JSONValue]?? = nil,
        connectionInfo: [String: JSONValue]?? = nil, attachedHost: String?? = nil, mountpoint: String?? = nil,
        instanceUUID: String?? = nil, mode: String? = nil, attachTime: Date? = nil
    ) {
        self.connector = connector
        self.connectionInfo = connectionInfo
        self.attachedHost = attachedHost
        self.mountpoint = mountpoint
        self.instanceUUID = instanceUUID
        self.mode = mode
        self.attachTime = attachTime
    }

    func apply(to builder: SQLUpdateBuilder) {
        if let connector { builder.set("connector", to: SQLBind(AttachmentStore.encode(connector))) }
        if let connectionInfo { builder.set("connection_info", to: SQLBind(AttachmentStore.encode(connectionInfo))) }
        if let attachedHost { builder.set("attached_host", to: SQLBind(attachedHost)) }
        if let mountpoint { builder.set("mountpoint", to: SQLBind(mountpoint)) }
        if let instanceUUID { builder.set("instance_uuid", to: SQLBind(instanceUUID)) }
        if let mode { builder.set("attach_mode", to: mode) }
        if let attachTime { builder.set("attach_time", to: attachTime.stored) }
    }
}
