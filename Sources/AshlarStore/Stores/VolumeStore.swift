import AshlarCore
import Foundation
import SQLKit

/// Volumes in the database. Status changes are compare-and-swaps: a change applies only when the row still
/// matches the expected state, and the caller learns whether it did.
public struct VolumeStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// The fields a list may filter and sort on, with their columns.
    public static let columns: [String: String] = [
        "id": "id", "name": "name", "display_name": "name", "description": "description",
        "display_description": "description", "status": "status", "size": "size",
        "availability_zone": "availability_zone", "bootable": "bootable", "created_at": "created_at",
        "updated_at": "updated_at", "volume_type_id": "volume_type_id", "host": "host", "user_id": "user_id",
        "project_id": "project_id", "attach_status": "attach_status", "migration_status": "migration_status",
        "multiattach": "multiattach", "encrypted": "encrypted", "snapshot_id": "snapshot_id",
        "source_volid": "source_volid", "consumes_quota": "consumes_quota", "replication_status": "replication_status",
        "group_id": "group_id",
    ]
    static let listing = TableListing(
        table: "volumes", columns: columns,
        nullableText: [
            "name", "description", "host", "migration_status", "snapshot_id", "source_volid", "replication_status",
            "group_id",
        ])

    /// Inserts the volume if, in the same statement, every one of `conditions` holds (the project's quota, the
    /// state of the snapshot or volume it is made from). Returns whether it was inserted.
    @discardableResult
    public func insert(_ v: Volume, requiring conditions: [Requirement] = []) async throws -> Bool {
        let values: [any SQLExpression] = [
            SQLBind(v.id), SQLBind(v.projectID), SQLBind(v.userID), SQLBind(v.name), SQLBind(v.description),
            SQLBind(v.size), SQLBind(v.status.rawValue), SQLBind(v.attachStatus.rawValue),
            SQLBind(v.availabilityZone), SQLBind(v.volumeTypeID), SQLBind(v.host), SQLBind(v.bootable),
            SQLBind(v.multiattach), SQLBind(v.encrypted), SQLBind(v.snapshotID), SQLBind(v.sourceVolumeID),
            SQLBind(v.migrationStatus), SQLBind(v.replicationStatus), SQLBind(v.previousStatus),
            SQLBind(v.consumesQuota), SQLBind(encodeMap(v.metadata)), SQLBind(encodeMap(v.adminMetadata)),
            SQLBind(encodeMap(v.imageMetadata)), SQLBind(v.createdAt.stored), SQLBind(v.updatedAt?.stored),
            SQLBind(v.launchedAt?.stored), SQLBind(v.extendTo), SQLBind(v.groupID),
        ]
        return try await Self.listing.insert(
            on: db.write,
            columns: [
                "id", "project_id", "user_id", "name", "description", "size", "status", "attach_status",
                "availability_zone", "volume_type_id", "host", "bootable", "multiattach", "encrypted", "snapshot_id",
                "source_volid", "migration_status", "replication_status", "previous_status", "consumes_quota",
                "metadata", "admin_metadata", "image_metadata", "created_at", "updated_at", "launched_at", "extend_to",
                "group_id",
            ], values: values, requiring: conditions)
    }

    /// The volume with this id, in any project; nil when there is none.
    public func get(_ id: String) async throws -> Volume? {
        // The hottest read of the API (clients poll volumes): written once as text, because building and
        // serialising the same select for every call cost about a tenth of a show's CPU.
        try await db.read.raw("\(unsafeRaw: Self.selectVolumesSQL) WHERE volumes.id = \(bind: id)").first()
            .map(Self.decode)
    }

    /// The volume with this id if `projectID` may see it (nil project: any).
    public func get(_ id: String, projectID: String?) async throws -> Volume? {
        guard let v = try await get(id) else { return nil }
        if let projectID, v.projectID != projectID { return nil }
        return v
    }

    /// One page of volumes. Throws `.notFound` when the marker does not exist.
    public func list(_ query: ListQuery) async throws -> [Volume] {
        try await Self.listing.page(
            selectVolumes(), query, markerExists: { try await get($0, projectID: query.projectID) != nil },
            decode: Self.decode)
    }

    /// How many volumes match the query's filters (pagination ignored).
    public func count(_ query: ListQuery) async throws -> Int {
        try await Self.listing.count(on: db.read, query)
    }

    /// Count and total size of a project's volumes (nil: all projects).
    public func totals(projectID: String?, query: ListQuery? = nil) async throws -> (count: Int, gigabytes: Int) {
        let select = db.read.select()
            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
            .column(
                SQLFunction("COALESCE", args: SQLFunction("SUM", args: SQLIdentifier("size")), SQLLiteral.numeric("0")),
                as: "gb"
            )
            .from("volumes")
        try Self.listing.applyFilters(query ?? ListQuery(projectID: projectID), to: select)
        guard let row = try await select.first() else { return (0, 0) }
        return (try row.decode(column: "n", as: Int.self), try row.decode(column: "gb", as: Int.self))
    }

    /// Volume counts by status, for metrics.
    public func countsByStatus() async throws -> [String: Int] {
        let rows = try await db.read.select().column("status")
            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("volumes").groupBy("status").all()
        var result: [String: Int] = [:]
        for row in rows {
            result[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return result
    }

    /// Volumes placed on a backend (`host@backend`, any pool).
    public func onBackend(_ backend: String) async throws -> [Volume] {
        try await selectVolumes()
            .where(Self.hasPrefix("host", backend + "#"))
            .all().map(Self.decode)
    }

    /// Volumes placed on no backend in one of `statuses` whose last change was before `cutoff` (those the
    /// scheduler owns: accepted, not yet placed).
    public func unplaced(statusIn statuses: Set<VolumeStatus>, changedBefore cutoff: Date) async throws -> [Volume] {
        try await selectVolumes()
            .where(SQLBinaryExpression(SQLIdentifier("host"), .is, SQLLiteral.null))
            .where("status", .in, statuses.map(\.rawValue).sorted())
            .where(
                SQLFunction("COALESCE", args: SQLIdentifier("updated_at"), SQLIdentifier("created_at")), .lessThan,
                SQLBind(cutoff.stored))
            .all().map(Self.decode)
    }

    /// Applies `update` when the row matches `condition`; returns the updated volume, or nil when it did not match.
    @discardableResult
    public func update(
        _ id: String, where condition: VolumeCondition = .init(), set update: VolumeUpdate
    )
        async throws -> Volume?
    {
        let builder = db.write.update("volumes")
        update.apply(to: builder)
        builder.set("updated_at", to: Date().stored)
        builder.where("id", .equal, id)
        condition.apply(to: builder, id: id)
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// Applies one transition of `VolumeStateMachine` as one compare-and-swap: the row must be in a status the
    /// event starts from and meet `condition`; `update` sets the operation's other columns in the same
    /// statement. Returns the volume as changed, or nil when it did not match.
    @discardableResult
    public func apply(
        _ event: VolumeEvent, to id: String, choosing chosen: VolumeStatus? = nil,
        where condition: VolumeCondition = .init(), also update: VolumeUpdate = .init()
    ) async throws -> Volume? {
        let builder = try db.write.transition(VolumeStateMachine.table[event], of: "volumes", id: id, chosen: chosen)
        update.apply(to: builder)
        condition.apply(to: builder, id: id)
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// Removes the row; true when a row was removed. With `expected`, only while the status is one of those.
    @discardableResult
    public func delete(_ id: String, expected: Set<VolumeStatus>? = nil, unplaced: Bool = false) async throws -> Bool {
        let builder = db.write.delete(from: "volumes").where("id", .equal, id)
        if let expected { builder.where("status", .in, expected.map(\.rawValue)) }
        if unplaced { builder.where("host", .is, SQLLiteral.null) }
        return try await !builder.returning("id").all().isEmpty
    }

    /// The volume `volumeID` exists, is in one of `statuses` and, with `placed`, has a host (a condition for
    /// other statements).
    public static func volume(
        _ volumeID: String, statusIn statuses: Set<VolumeStatus>, placed: Bool = false
    ) -> Requirement {
        Requirement(SQLQueryString(
            "EXISTS (SELECT 1 FROM volumes WHERE id = \(bind: volumeID)\(unsafeRaw: placed ? " AND host IS NOT NULL" : "") AND status IN (\(binds: statuses.map(\.rawValue).sorted())))"
        ))
    }

    /// Whether any volume uses the type.
    public func anyUses(typeID: String) async throws -> Bool {
        try await db.read.select().column("id").from("volumes").where("volume_type_id", .equal, typeID).limit(1)
            .first() != nil
    }

    // MARK: - Query building

    /// Every column of `volumes` plus the type's name, read in the same statement so that views need no second
    /// query and the name is never stale.
    /// `selectVolumes()` as text.
    private static let selectVolumesSQL =
        "SELECT volumes.*, (SELECT volume_types.name FROM volume_types"
        + " WHERE volume_types.id = volumes.volume_type_id) AS type_name FROM volumes"

    private func selectVolumes() -> SQLSelectBuilder {
        db.read.select().column(SQLColumn(SQLLiteral.all, table: SQLIdentifier("volumes")))
            .column(
                SQLSubquery.select { sub in
                    sub.column("name").from("volume_types")
                        .where(
                            SQLColumn("id", table: "volume_types"), .equal,
                            SQLColumn("volume_type_id", table: "volumes"))
                }, as: "type_name"
            )
            .from("volumes")
    }

    /// `column` starts with `prefix`, compared exactly (LIKE would treat `_` and `%` as wildcards and ignore case).
    /// What each project keeps on backend `host` (its pools included): volumes and their GiB, snapshots of those
    /// volumes and their GiB, by project.
    public func usage(onHost host: String) async throws -> [(
        projectID: String, volumes: Int, volumeGB: Int, snapshots: Int, snapshotGB: Int
    )] {
        let volumes = try await db.read.raw(
            """
            SELECT project_id, COUNT(*) AS n, COALESCE(SUM(size), 0) AS gb FROM volumes
            WHERE host = \(bind: host) OR substr(host, 1, \(bind: host.count + 1)) = \(bind: host + "#")
            GROUP BY project_id
            """
        ).all()
        let snapshots = try await db.read.raw(
            """
            SELECT s.project_id AS project_id, COUNT(*) AS n, COALESCE(SUM(s.volume_size), 0) AS gb
            FROM snapshots s JOIN volumes v ON v.id = s.volume_id
            WHERE v.host = \(bind: host) OR substr(v.host, 1, \(bind: host.count + 1)) = \(bind: host + "#")
            GROUP BY s.project_id
            """
        ).all()
        var byProject: [String: (Int, Int, Int, Int)] = [:]
        for row in volumes {
            let project = try row.decode(column: "project_id", as: String.self)
            byProject[project, default: (0, 0, 0, 0)].0 = try row.decode(column: "n", as: Int.self)
            byProject[project, default: (0, 0, 0, 0)].1 = try row.decode(column: "gb", as: Int.self)
        }
        for row in snapshots {
            let project = try row.decode(column: "project_id", as: String.self)
            byProject[project, default: (0, 0, 0, 0)].2 = try row.decode(column: "n", as: Int.self)
            byProject[project, default: (0, 0, 0, 0)].3 = try row.decode(column: "gb", as: Int.self)
        }
        return byProject.sorted { $0.key < $1.key }.map { ($0.key, $0.value.0, $0.value.1, $0.value.2, $0.value.3) }
    }

    static func hasPrefix(_ column: String, _ prefix: String) -> any SQLExpression {
        SQLBinaryExpression(
            SQLFunction(
                "substr", args: SQLIdentifier(column), SQLLiteral.numeric("1"), SQLLiteral.numeric(String(prefix.count))
            ),
            .equal, SQLBind(prefix))
    }

    static func decode(_ row: any SQLRow) throws -> Volume {
        var volume = Volume(
            id: try row.decode(column: "id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            userID: try row.decode(column: "user_id", as: String.self),
            name: try row.optional("name", String.self),
            description: try row.optional("description", String.self),
            size: try row.decode(column: "size", as: Int.self),
            status: VolumeStatus(try row.decode(column: "status", as: String.self)),
            attachStatus: AttachStatus(try row.decode(column: "attach_status", as: String.self)),
            availabilityZone: try row.decode(column: "availability_zone", as: String.self),
            volumeTypeID: try row.decode(column: "volume_type_id", as: String.self),
            host: try row.optional("host", String.self),
            bootable: try row.decode(column: "bootable", as: Bool.self),
            multiattach: try row.decode(column: "multiattach", as: Bool.self),
            encrypted: try row.decode(column: "encrypted", as: Bool.self),
            snapshotID: try row.optional("snapshot_id", String.self),
            sourceVolumeID: try row.optional("source_volid", String.self),
            migrationStatus: try row.optional("migration_status", String.self),
            replicationStatus: try row.optional("replication_status", String.self),
            previousStatus: try row.optional("previous_status", String.self),
            consumesQuota: try row.decode(column: "consumes_quota", as: Bool.self),
            extendTo: try row.optional("extend_to", Int.self),
            providerLocation: try row.optional("provider_location", String.self),
            providerAuth: try row.optional("provider_auth", String.self),
            metadata: try row.stringMap("metadata"),
            adminMetadata: try row.stringMap("admin_metadata"),
            imageMetadata: try row.stringMap("image_metadata"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"),
            launchedAt: try row.optionalDate("launched_at"),
            volumeTypeName: row.contains(column: "type_name") ? try row.optional("type_name", String.self) : nil
        )
        volume.groupID = try row.optional("group_id", String.self)
        return volume
    }
}

extension VolumeStore {
    /// One of a volume's string maps.
    public enum VolumeMap: Sendable {
        case metadata, imageMetadata

        func read(_ v: Volume) -> [String: String] {
            switch self {
            case .metadata: v.metadata
            case .imageMetadata: v.imageMetadata
            }
        }
    }

    /// Read-modify-write of one of the volume's maps as a compare-and-swap on its previous value, retried when a
    /// concurrent change got there first (with `onceOnly`, that is a 412 instead: the caller's If-Match). Refused
    /// while the volume is in maintenance. Returns the map as stored.
    public func modify(
        _ volume: Volume, _ map: VolumeMap, onceOnly: Bool = false,
        _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String] {
        var current = volume
        for _ in 0..<20 {
            let before = map.read(current)
            var condition = VolumeCondition(statusNotIn: VolumeTransitions.updateRefused)
            var update = VolumeUpdate()
            switch map {
            case .metadata:
                condition.metadataEquals = before
                update.metadata = change(before)
            case .imageMetadata:
                condition.imageMetadataEquals = before
                update.imageMetadata = change(before)
            }
            if let done = try await self.update(current.id, where: condition, set: update) { return map.read(done) }
            guard let reread = try await get(current.id) else { throw AshlarError.volumeNotFound(current.id) }
            if VolumeTransitions.updateRefused.contains(reread.status) {
                throw AshlarError.invalidVolume("The volume is in \(reread.status.rawValue) and cannot be changed.")
            }
            if onceOnly {
                throw AshlarError(
                    .preconditionFailed, "The metadata changed since it was read (If-Match does not match its ETag).")
            }
            current = reread
        }
        throw AshlarError(.conflict, "The volume is being changed concurrently; try again.")
    }
}

extension VolumeStore {
    /// Ends an upload, done or not: the volume back from `uploading` to its previous status, without the upload's
    /// image id or its progress, in one compare-and-swap on what it read. Nil when the volume is not uploading.
    @discardableResult
    public func endUpload(_ id: String) async throws -> Volume? {
        guard let now = try await get(id) else { return nil }
        var admin = now.adminMetadata
        admin[Volume.uploadImageKey] = nil
        var imageMetadata = now.imageMetadata
        imageMetadata[Volume.imageProgressKey] = nil
        return try await apply(
            .uploadEnded, to: id, where: .init(adminMetadataEquals: now.adminMetadata),
            also: .init(adminMetadata: admin, imageMetadata: imageMetadata))
    }

    /// Moves a volume that is still `creating` to `error` and tells its project why, in a user message: the one
    /// way a create that cannot finish ends, wherever it failed. A volume that was never made uses no quota: it is
    /// released in the same statement. Returns false (and says nothing) when the volume was no longer creating.
    @discardableResult
    public func failCreate(
        _ volume: Volume, messages: MessageStore, requestID: String?, eventID: String, message: String
    ) async throws -> Bool {
        guard try await apply(.createFailed, to: volume.id) != nil else { return false }
        try await messages.insert(
            UserMessage(
                projectID: volume.projectID, requestID: requestID, resourceType: "VOLUME", resourceUUID: volume.id,
                eventID: eventID, userMessage: message))
        return true
    }
}
