import AshlarCore
import Foundation
import SQLKit

/// The columns a change sets; nil leaves a column alone. Double optionals set a nullable column to NULL.
/// The status is not among them: it changes only by a transition of `VolumeStateMachine` (`VolumeStore.apply`).
public struct VolumeUpdate: Sendable {
    public var attachStatus: AttachStatus?
    public var host: String??
    public var name: String??
    public var description: String??
    public var size: Int?
    public var bootable: Bool?
    public var availabilityZone: String?
    public var migrationStatus: String??
    public var previousStatus: String??
    public var metadata: [String: String]?
    public var adminMetadata: [String: String]?
    public var imageMetadata: [String: String]?
    public var launchedAt: Date?
    public var extendTo: Int??
    public var providerLocation: String??
    public var providerAuth: String??
    public var consumesQuota: Bool?
    /// The owner, changed by an accepted transfer.
    public var projectID: String?
    public var userID: String?
    /// The type, changed by a retype (with `multiattach`, which follows it).
    public var volumeTypeID: String?
    public var multiattach: Bool?

    public init(
        attachStatus: AttachStatus? = nil, host: String?? = nil, name: String?? = nil,
        description: String?? = nil, size: Int? = nil, bootable: Bool? = nil, availabilityZone: String? = nil,
        migrationStatus: String?? = nil, previousStatus: String?? = nil, metadata: [String: String]? = nil,
        adminMetadata: [String: String]? = nil, imageMetadata: [String: String]? = nil, launchedAt: Date? = nil,
        extendTo: Int?? = nil, consumesQuota: Bool? = nil, providerLocation: String?? = nil,
        providerAuth: String?? = nil
    ) {
        self.attachStatus = attachStatus
        self.host = host
        self.name = name
        self.description = description
        self.size = size
        self.bootable = bootable
        self.availabilityZone = availabilityZone
        self.migrationStatus = migrationStatus
        self.previousStatus = previousStatus
        self.metadata = metadata
        self.adminMetadata = adminMetadata
        self.imageMetadata = imageMetadata
        self.launchedAt = launchedAt
        self.extendTo = extendTo
        self.consumesQuota = consumesQuota
        self.providerLocation = providerLocation
        self.providerAuth = providerAuth
    }

    func apply(to builder: SQLUpdateBuilder) {
        if let attachStatus { builder.set("attach_status", to: attachStatus.rawValue) }
        if let host { builder.set("host", to: SQLBind(host)) }
        if let name { builder.set("name", to: SQLBind(name)) }
        if let description { builder.set("description", to: SQLBind(description)) }
        if let size { builder.set("size", to: size) }
        if let bootable { builder.set("bootable", to: bootable) }
        if let availabilityZone { builder.set("availability_zone", to: availabilityZone) }
        if let migrationStatus { builder.set("migration_status", to: SQLBind(migrationStatus)) }
        if let previousStatus { builder.set("previous_status", to: SQLBind(previousStatus)) }
        if let metadata { builder.set("metadata", to: encodeMap(metadata)) }
        if let adminMetadata { builder.set("admin_metadata", to: encodeMap(adminMetadata)) }
        if let imageMetadata { builder.set("image_metadata", to: encodeMap(imageMetadata)) }
        if let launchedAt { builder.set("launched_at", to: launchedAt.stored) }
        if let extendTo { builder.set("extend_to", to: SQLBind(extendTo)) }
        if let consumesQuota { builder.set("consumes_quota", to: consumesQuota) }
        if let providerLocation { builder.set("provider_location", to: SQLBind(providerLocation)) }
        if let providerAuth { builder.set("provider_auth", to: SQLBind(providerAuth)) }
        if let projectID { builder.set("project_id", to: projectID) }
        if let userID { builder.set("user_id", to: userID) }
        if let volumeTypeID { builder.set("volume_type_id", to: volumeTypeID) }
        if let multiattach { builder.set("multiattach", to: multiattach) }
    }
}

/// What a row must still look like for a change to apply: the "compare" of compare-and-swap.
public struct VolumeCondition: Sendable {
    public var statusIn: Set<VolumeStatus>?
    public var statusNotIn: Set<VolumeStatus>?
    public var attachStatusNot: AttachStatus?
    /// The metadata must still equal this map (for read-modify-write of the metadata column).
    public var metadataEquals: [String: String]?
    public var imageMetadataEquals: [String: String]?
    public var adminMetadataEquals: [String: String]?
    /// The volume has no snapshots (a delete without cascade).
    public var hasNoSnapshots: Bool
    /// Every snapshot of the volume is in one of these statuses (a cascading delete).
    public var snapshotsIn: Set<SnapshotStatus>?
    /// No volume is being made from this one (a delete would pull the data from under the clone).
    public var notSourceOfCreatingVolume: Bool
    /// `provider_auth` is still unset (credentials are made once).
    public var providerAuthIsNull: Bool
    /// The volume is placed on this host (`.some(nil)`: on none).
    public var hostEquals: String??
    /// The migration status must be this one (a move under way).
    public var migrationStatusEquals: String? = nil
    /// Further conditions, e.g. the project's quota for the change.
    public var requiring: [Requirement]

    public init(
        statusIn: Set<VolumeStatus>? = nil, statusNotIn: Set<VolumeStatus>? = nil, attachStatusNot: AttachStatus? = nil,
        metadataEquals: [String: String]? = nil, imageMetadataEquals: [String: String]? = nil,
        adminMetadataEquals: [String: String]? = nil, hasNoSnapshots: Bool = false,
        snapshotsIn: Set<SnapshotStatus>? = nil, notSourceOfCreatingVolume: Bool = false,
        providerAuthIsNull: Bool = false, hostEquals: String?? = nil, requiring: [Requirement] = []
    ) {
        self.hostEquals = hostEquals
        self.statusIn = statusIn
        self.statusNotIn = statusNotIn
        self.attachStatusNot = attachStatusNot
        self.metadataEquals = metadataEquals
        self.imageMetadataEquals = imageMetadataEquals
        self.adminMetadataEquals = adminMetadataEquals
        self.hasNoSnapshots = hasNoSnapshots
        self.snapshotsIn = snapshotsIn
        self.notSourceOfCreatingVolume = notSourceOfCreatingVolume
        self.requiring = requiring
        self.providerAuthIsNull = providerAuthIsNull
    }

    func apply(to builder: SQLUpdateBuilder, id: String) {
        if let statusIn { builder.where("status", .in, statusIn.map(\.rawValue).sorted()) }
        if let statusNotIn { builder.where("status", .notIn, statusNotIn.map(\.rawValue).sorted()) }
        if let attachStatusNot { builder.where("attach_status", .notEqual, attachStatusNot.rawValue) }
        if let metadataEquals { builder.where("metadata", .equal, encodeMap(metadataEquals)) }
        if let imageMetadataEquals { builder.where("image_metadata", .equal, encodeMap(imageMetadataEquals)) }
        if let adminMetadataEquals { builder.where("admin_metadata", .equal, encodeMap(adminMetadataEquals)) }
        if hasNoSnapshots {
            builder.where(SQLQueryString("NOT EXISTS (SELECT 1 FROM snapshots WHERE volume_id = \(bind: id))"))
        }
        if let snapshotsIn {
            builder.where(
                SQLQueryString(
                    "NOT EXISTS (SELECT 1 FROM snapshots WHERE volume_id = \(bind: id) AND status NOT IN (\(binds: snapshotsIn.map(\.rawValue).sorted())))"
                ))
            // Nor may a snapshot that goes with the volume be the source of a volume being made right now.
            builder.where(
                SQLQueryString(
                    "NOT EXISTS (SELECT 1 FROM volumes AS copy JOIN snapshots AS source ON copy.snapshot_id = source.id WHERE source.volume_id = \(bind: id) AND copy.status = \(bind: VolumeStatus.creating.rawValue))"
                ))
        }
        if notSourceOfCreatingVolume {
            // Aliased: inside the subquery, `volumes` alone would mean the row being updated.
            builder.where(
                SQLQueryString(
                    "NOT EXISTS (SELECT 1 FROM volumes AS copy WHERE copy.source_volid = \(bind: id) AND copy.status = \(bind: VolumeStatus.creating.rawValue))"
                ))
        }
        if providerAuthIsNull { builder.where(SQLBinaryExpression(SQLIdentifier("provider_auth"), .is, SQLLiteral.null)) }
        switch hostEquals {
        case .none: break
        case .some(.none): builder.where(SQLBinaryExpression(SQLIdentifier("host"), .is, SQLLiteral.null))
        case .some(.some(let host)): builder.where("host", .equal, host)
        }
        if let migrationStatusEquals { builder.where("migration_status", .equal, migrationStatusEquals) }
        for condition in requiring { builder.where(condition.sql) }
    }
}
