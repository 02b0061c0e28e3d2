import Foundation

/// A volume's `status`, as Cinder names it (`cinder/objects/fields.py`, plus the statuses used outside the enum).
public struct VolumeStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let creating = VolumeStatus("creating")
    public static let available = VolumeStatus("available")
    public static let deleting = VolumeStatus("deleting")
    public static let error = VolumeStatus("error")
    public static let errorDeleting = VolumeStatus("error_deleting")
    public static let errorManaging = VolumeStatus("error_managing")
    public static let managing = VolumeStatus("managing")
    public static let attaching = VolumeStatus("attaching")
    public static let inUse = VolumeStatus("in-use")
    public static let detaching = VolumeStatus("detaching")
    public static let maintenance = VolumeStatus("maintenance")
    public static let restoringBackup = VolumeStatus("restoring-backup")
    public static let errorRestoring = VolumeStatus("error_restoring")
    public static let reserved = VolumeStatus("reserved")
    public static let awaitingTransfer = VolumeStatus("awaiting-transfer")
    public static let backingUp = VolumeStatus("backing-up")
    public static let errorBackingUp = VolumeStatus("error_backing-up")
    public static let errorExtending = VolumeStatus("error_extending")
    public static let downloading = VolumeStatus("downloading")
    public static let uploading = VolumeStatus("uploading")
    public static let retyping = VolumeStatus("retyping")
    public static let extending = VolumeStatus("extending")
    public static let reverting = VolumeStatus("reverting")
    public static let unmanaging = VolumeStatus("unmanaging")
    public static let errorUnmanaging = VolumeStatus("error_unmanaging")
    public static let errorManagingDeleting = VolumeStatus("error_managing_deleting")

    /// Every status Cinder knows; `os-reset_status` accepts only these.
    public static let all: [VolumeStatus] = [
        .creating, .available, .deleting, .error, .errorDeleting, .errorManaging, .managing, .attaching, .inUse,
        .detaching, .maintenance, .restoringBackup, .errorRestoring, .reserved, .awaitingTransfer, .backingUp,
        .errorBackingUp, .errorExtending, .downloading, .uploading, .retyping, .extending, .reverting, .unmanaging,
        .errorUnmanaging, .errorManagingDeleting,
    ]

    /// The status shown by the API: internal manage states are mapped as Cinder's view does.
    public var displayed: VolumeStatus {
        switch self {
        case .managing: .creating
        case .errorManaging: .error
        case .errorManagingDeleting: .deleting
        default: self
        }
    }
}

/// A volume's or an attachment's `attach_status`.
public struct AttachStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let attached = AttachStatus("attached")
    public static let attaching = AttachStatus("attaching")
    public static let detached = AttachStatus("detached")
    public static let reserved = AttachStatus("reserved")
    public static let detaching = AttachStatus("detaching")
    public static let errorAttaching = AttachStatus("error_attaching")
    public static let errorDetaching = AttachStatus("error_detaching")
}
