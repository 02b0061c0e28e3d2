import Foundation

/// A snapshot's `status`, as Cinder names it (`cinder/objects/fields.py: SnapshotStatus`).
public struct SnapshotStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let creating = SnapshotStatus("creating")
    public static let available = SnapshotStatus("available")
    public static let deleting = SnapshotStatus("deleting")
    public static let deleted = SnapshotStatus("deleted")
    public static let error = SnapshotStatus("error")
    public static let errorDeleting = SnapshotStatus("error_deleting")
    public static let updating = SnapshotStatus("updating")
    public static let unmanaging = SnapshotStatus("unmanaging")
    public static let backingUp = SnapshotStatus("backing-up")
    public static let restoring = SnapshotStatus("restoring")

    /// Every status Cinder knows; `os-reset_status` accepts only these.
    public static let all: [SnapshotStatus] = [
        .creating, .available, .deleting, .deleted, .error, .errorDeleting, .updating, .unmanaging, .backingUp,
        .restoring,
    ]
}

/// The preconditions of snapshot status changes, applied in the store as compare-and-swaps.
public enum SnapshotTransitions {
    /// Statuses from which a normal delete may start (`cinder/volume/api.py: delete_snapshot`).
    public static let deletable: Set<SnapshotStatus> = [.available, .error]

    /// Volume statuses a snapshot may be taken in; `in-use` only with `force` (or from 3.66 on).
    public static let volumeSnapshottable: Set<VolumeStatus> = [.available]

    /// `os-update_snapshot_status`: the statuses it may set, by the snapshot's current one.
    public static let statusUpdates: [SnapshotStatus: Set<SnapshotStatus>] = [
        .creating: [.creating, .available, .error],
        .deleting: [.deleting, .errorDeleting],
    ]
}
