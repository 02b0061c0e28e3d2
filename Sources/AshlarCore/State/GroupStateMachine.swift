import Foundation

/// What happens to a group. The API records intent; the volume service on the group's backend finishes what it
/// started (a create settles once no member volume is still creating, a delete once no member is left).
public enum GroupEvent: String, CaseIterable, Hashable, Sendable {
    /// Volume service: the group and every member made from a source are ready.
    case created
    /// Scheduler or volume service: no backend could take it, or a member could not be made.
    case createFailed
    /// API: a delete is accepted.
    case deleteRequested
    /// Volume service: a member could not be deleted; the group stays for a retry.
    case deleteFailed
    /// API, reset_status (3.20).
    case reset
}

public enum GroupStateMachine {
    public typealias Machine = StateMachine<GroupStatus, GroupEvent>

    /// Statuses a group may be deleted from (`cinder/group/api.py: delete`).
    public static let deletable: Set<GroupStatus> = [.available, .error, .errorDeleting]

    public static let table = Machine([
        .created: .init(from: [.creating], to: .status(.available)),
        .createFailed: .init(from: [.creating], to: .status(.error)),
        .deleteRequested: .init(from: deletable, to: .status(.deleting)),
        .deleteFailed: .init(from: [.deleting], to: .status(.errorDeleting)),
        // Not from deleting: the volume service is finishing a delete.
        .reset: .init(from: Set(GroupStatus.all).subtracting([.deleting]), to: .chosen(Set(GroupStatus.all))),
    ])

    /// Statuses an operation is under way in; the volume service's recovery settles each.
    public static let transitional: Set<GroupStatus> = [.creating, .deleting]
}

/// What happens to a group snapshot; owners as for `GroupEvent`.
public enum GroupSnapshotEvent: String, CaseIterable, Hashable, Sendable {
    /// Volume service: every member snapshot is available.
    case created
    /// Volume service: a member snapshot could not be taken.
    case createFailed
    /// API: a delete is accepted.
    case deleteRequested
    /// Volume service: a member snapshot could not be deleted.
    case deleteFailed
    /// API, reset_status (3.19).
    case reset
}

public enum GroupSnapshotStateMachine {
    public typealias Machine = StateMachine<GroupSnapshotStatus, GroupSnapshotEvent>

    public static let deletable: Set<GroupSnapshotStatus> = [.available, .error, .errorDeleting]

    public static let table = Machine([
        .created: .init(from: [.creating], to: .status(.available)),
        .createFailed: .init(from: [.creating], to: .status(.error)),
        .deleteRequested: .init(from: deletable, to: .status(.deleting)),
        .deleteFailed: .init(from: [.deleting], to: .status(.errorDeleting)),
        .reset: .init(
            from: Set(GroupSnapshotStatus.all).subtracting([.deleting]), to: .chosen(Set(GroupSnapshotStatus.all))),
    ])

    public static let transitional: Set<GroupSnapshotStatus> = [.creating, .deleting]
}
