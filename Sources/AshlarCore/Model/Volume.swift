import Foundation

/// A volume, as stored. The API's views are built from this; nothing here knows about JSON.
public struct Volume: Sendable, Hashable {
    public var id: String
    public var projectID: String
    public var userID: String
    public var name: String?
    public var description: String?
    /// Size in GiB.
    public var size: Int
    public var status: VolumeStatus
    public var attachStatus: AttachStatus
    public var availabilityZone: String
    public var volumeTypeID: String
    /// `host@backend#pool` once scheduled; nil before.
    public var host: String?
    public var bootable: Bool
    public var multiattach: Bool
    public var encrypted: Bool
    public var snapshotID: String?
    public var sourceVolumeID: String?
    public var migrationStatus: String?
    public var replicationStatus: String?
    public var previousStatus: String?
    public var consumesQuota: Bool
    /// While an extend is under way, the size it grows the volume to (already counted against the quota).
    public var extendTo: Int?
    /// Where the volume is exported (`portal,tid iqn lun`), while it is.
    public var providerLocation: String?
    /// `CHAP <user> <secret>` for the volume's export, made on its first attach and kept.
    public var providerAuth: String?
    public var metadata: [String: String]
    /// Admin metadata (`readonly`, …): not shown to users, read by drivers.
    public var adminMetadata: [String: String]
    /// Glance image metadata (`volume_image_metadata`).
    public var imageMetadata: [String: String]
    public var createdAt: Date
    public var updatedAt: Date?
    public var launchedAt: Date?
    /// The type's name, filled in when the volume is read (not stored with the volume).
    public var volumeTypeName: String?
    /// The generic group the volume belongs to (3.13), if any.
    public var groupID: String? = nil

    public init(
        id: String = UUID().uuidString.lowercased(), projectID: String, userID: String, name: String? = nil,
        description: String? = nil, size: Int, status: VolumeStatus = .creating,
        attachStatus: AttachStatus = .detached, availabilityZone: String, volumeTypeID: String,
        host: String? = nil, bootable: Bool = false, multiattach: Bool = false, encrypted: Bool = false,
        snapshotID: String? = nil, sourceVolumeID: String? = nil, migrationStatus: String? = nil,
        replicationStatus: String? = nil, previousStatus: String? = nil, consumesQuota: Bool = true,
        extendTo: Int? = nil, providerLocation: String? = nil, providerAuth: String? = nil,
        metadata: [String: String] = [:], adminMetadata: [String: String] = [:],
        imageMetadata: [String: String] = [:], createdAt: Date = Date(), updatedAt: Date? = nil,
        launchedAt: Date? = nil, volumeTypeName: String? = nil
    ) {
        self.id = id
        self.projectID = projectID
        self.userID = userID
        self.name = name
        self.description = description
        self.size = size
        self.status = status
        self.attachStatus = attachStatus
        self.availabilityZone = availabilityZone
        self.volumeTypeID = volumeTypeID
        self.host = host
        self.bootable = bootable
        self.multiattach = multiattach
        self.encrypted = encrypted
        self.snapshotID = snapshotID
        self.sourceVolumeID = sourceVolumeID
        self.migrationStatus = migrationStatus
        self.replicationStatus = replicationStatus
        self.previousStatus = previousStatus
        self.consumesQuota = consumesQuota
        self.extendTo = extendTo
        self.providerLocation = providerLocation
        self.providerAuth = providerAuth
        self.metadata = metadata
        self.adminMetadata = adminMetadata
        self.imageMetadata = imageMetadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.launchedAt = launchedAt
        self.volumeTypeName = volumeTypeName
    }

    /// The admin metadata key a move's destination is kept in while the move lasts.
    public static let migrationTargetKey = "migration_target"

    /// The admin metadata key of the image a volume is being made from (`imageRef`), kept for recovery.
    public static let imageSourceKey = "image_source"

    /// The admin metadata key of the image a volume is being uploaded to (`os-volume_upload_image`), kept for
    /// recovery.
    public static let uploadImageKey = "upload_image"

    /// The key of `volume_image_metadata` that shows how far a download, conversion or upload has got while it
    /// runs (`openstack volume show`); it is never copied to another volume or image.
    public static let imageProgressKey = "progress"

    /// Whether a migration has begun and not ended (`migration_status` set, and neither success nor error).
    public var isMigrating: Bool { migrationStatus.map { !["success", "error"].contains($0) } ?? false }

    /// Whether the volume was made read-only with `os-update_readonly_flag`.
    public var isReadOnly: Bool { adminMetadata["readonly"] == "True" }
}
