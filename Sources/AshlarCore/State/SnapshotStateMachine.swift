import Foundation

/// What happens to a snapshot; owners as for `VolumeEvent`.
public enum SnapshotEvent: String, CaseIterable, Hashable, Sendable {
    /// Volume service: the backend took the snapshot.
    case created
    /// Volume service: it could not; the quota goes back.
    case createFailed
    /// API: a delete is accepted.
    case deleteRequested
    /// API: an administrator's delete whatever the status.
    case forceDeleteRequested
    /// API: its volume is deleted with `cascade`, and the snapshot with it.
    case deletedWithVolume
    /// API: the group snapshot it is a member of is deleted, and the snapshot with it.
    case deletedWithGroupSnapshot
    /// Volume service: the backend could not remove it.
    case deleteFailed
    /// API: its volume is being reverted to it.
    case restoreBegun
    /// Volume service (or recovery): the revert is over, whichever way.
    case restoreEnded
    /// API, os-reset_status.
    case reset
    /// API, os-update_snapshot_status (a driver's progress reports): creating and deleting move on only.
    case statusUpdatedWhileCreating
    case statusUpdatedWhileDeleting
}

public enum SnapshotStateMachine {
    public typealias Machine = StateMachine<SnapshotStatus, SnapshotEvent>

    public static let table = Machine([
        .created: .init(from: [.creating], to: .status(.available)),
        .createFailed: .init(from: [.creating], to: .status(.error), effects: [.releaseQuota]),
        .deleteRequested: .init(from: SnapshotTransitions.deletable, to: .status(.deleting)),
        // From deleting too, as upstream: the delete is sent again (it is idempotent on the backend).
        .forceDeleteRequested: .init(from: Set(SnapshotStatus.all), to: .status(.deleting)),
        .deletedWithVolume: .init(from: cascadable, to: .status(.deleting)),
        .deletedWithGroupSnapshot: .init(from: cascadable, to: .status(.deleting)),
        .deleteFailed: .init(from: [.deleting], to: .status(.errorDeleting)),
        .restoreBegun: .init(from: [.available], to: .status(.restoring)),
        .restoreEnded: .init(from: [.restoring], to: .status(.available)),
        // Not from deleting (the volume service is finishing a delete); to deleting, yes: the volume service's
        // recovery then finishes that delete, or a force delete does it at once.
        .reset: .init(from: Set(SnapshotStatus.all).subtracting([.deleting]), to: .chosen(Set(SnapshotStatus.all))),
        .statusUpdatedWhileCreating: .init(
            from: [.creating], to: .chosen(SnapshotTransitions.statusUpdates[.creating] ?? [])),
        .statusUpdatedWhileDeleting: .init(
            from: [.deleting], to: .chosen(SnapshotTransitions.statusUpdates[.deleting] ?? [])),
    ])

    /// Statuses of the snapshots a cascading delete of their volume may take with it.
    public static let cascadable: Set<SnapshotStatus> = [.available, .error, .errorDeleting, .deleting]

    /// Statuses an operation is under way in; each has a recovery.
    public static let transitional: Set<SnapshotStatus> = [.creating, .deleting, .restoring]

    /// Who finishes each transitional status: creating and deleting are done again by the volume service;
    /// restoring ends with its volume's revert.
    public static let recovery: [SnapshotStatus: SnapshotEvent?] = [
        .creating: nil, .deleting: nil, .restoring: .restoreEnded,
    ]
}

/// What happens to an attachment.
public enum AttachmentEvent: String, CaseIterable, Hashable, Sendable {
    /// API: a connector is given (attachment update, or create with a connector).
    case connecting
    /// API: the backend could not export it.
    case connectFailed
    /// API, os-complete: the host is connected.
    case completed
    /// API: the attachment is being removed; its export goes next.
    case detached
    /// API: the backend could not end the connection; the attachment is as it was.
    case detachRolledBack
}

public enum AttachmentStateMachine {
    public typealias Machine = StateMachine<AttachStatus, AttachmentEvent>

    /// Statuses from which an attachment may be given a connector.
    public static let connectable: Set<AttachStatus> = [.reserved, .attaching, .attached, .errorAttaching]

    public static let table = Machine([
        .connecting: .init(from: connectable, to: .status(.attaching)),
        .connectFailed: .init(from: [.attaching], to: .status(.errorAttaching)),
        .completed: .init(from: [.attaching], to: .status(.attached)),
        .detached: .init(from: Attachment.live.union([.errorAttaching]), to: .status(.detached)),
        .detachRolledBack: .init(
            from: [.detached], to: .chosen(Attachment.live.union([.errorAttaching]))),
    ])
}
