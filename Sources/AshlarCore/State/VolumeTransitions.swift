import Foundation

/// The preconditions of the API's status changes, as tables. Each one is applied in the store as a single
/// compare-and-swap `UPDATE … WHERE status IN (…)`, so two racing requests can never both pass.
public enum VolumeTransitions {
    /// Statuses from which a normal (non-forced) delete may start (`cinder/volume/api.py: delete`).
    public static let deletable: Set<VolumeStatus> = [
        .available, .error, .errorRestoring, .errorExtending, .errorManaging,
    ]

    /// Statuses a forced delete may not start from: a delete is already under way.
    public static let forceDeleteRefused: Set<VolumeStatus> = [.deleting]

    /// Statuses `os-reset_status` refuses to set (Cinder's list; `deleting` must go through delete).
    public static let resetRefused: Set<VolumeStatus> = [.deleting]

    /// Statuses a volume may be cloned from (`source_volid`).
    public static let cloneable: Set<VolumeStatus> = [.available, .inUse]

    /// Statuses an extend may start from (in-use from microversion 3.42).
    public static let extendable: Set<VolumeStatus> = [.available]

    /// Statuses in which metadata and name updates are refused.
    public static let updateRefused: Set<VolumeStatus> = [.maintenance]

    /// The status a delete moves to from `status`.
    public static func deletingStatus(from status: VolumeStatus) -> VolumeStatus {
        status == .errorManaging ? .errorManagingDeleting : .deleting
    }
}
