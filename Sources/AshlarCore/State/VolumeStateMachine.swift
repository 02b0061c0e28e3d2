import Foundation

/// What happens to a volume. The service named in each comment owns that end of the transition: the API records
/// intent (the compare-and-swap into the transitional state) and casts; the service doing the work finishes it.
public enum VolumeEvent: String, CaseIterable, Hashable, Sendable {
    /// Volume service: the backend made the volume.
    case created
    /// Volume service: the image a volume is made from is being fetched and written (`downloading`).
    case downloadBegun
    /// Scheduler or volume service: the volume cannot be made; its quota goes back.
    case createFailed
    /// API: a delete is accepted.
    case deleteRequested
    /// API: a delete of a volume whose manage failed (upstream's `error_managing_deleting`).
    case deleteOfFailedManageRequested
    /// API: an administrator's delete whatever the status (not while already deleting).
    case forceDeleteRequested
    /// Volume service: the backend could not remove the data.
    case deleteFailed
    /// API: an extend is accepted (quota for the new size admitted in the same statement).
    case extendRequested
    /// API from 3.42: an attached volume may grow too.
    case extendAttachedRequested
    /// Scheduler: the pool cannot take the growth.
    case extendRefused
    /// Volume service: the volume has its new size.
    case extended
    /// Volume service: the backend could not grow it.
    case extendFailed
    /// API: a revert to the latest snapshot is accepted.
    case revertRequested
    /// Volume service: the data is the snapshot's again.
    case reverted
    /// Volume service: the revert failed half-way (as upstream: `error`).
    case revertFailed
    /// Recovery: the service stopped before the revert began; nothing was changed.
    case revertAbandoned
    /// API, Nova's os-reserve.
    case legacyReserved
    /// API, os-reserve of a multiattach volume, which may already be attached.
    case legacyReservedMultiattach
    /// API, Nova's os-attach: the volume is attached (the attachment row is made next).
    case attached
    /// API, os-attach of a multiattach volume, which may already be attached.
    case attachedMultiattach
    /// API, attachment create: the volume is held for an instance (3.27).
    case attachmentReserved
    /// API, attachment create on a multiattach volume, which may already be held or attached.
    case attachmentReservedMultiattach
    /// API, Nova's os-begin_detaching.
    case detachBegun
    /// API, Nova's os-roll_detaching.
    case detachRolledBack
    /// API, os-reset_status (administrator).
    case reset
    /// API: a transfer of the volume to another project is offered.
    case transferOffered
    /// API: the transfer is accepted (the volume now another project's) or withdrawn.
    case transferEnded
    /// API: its group is deleted with `delete-volumes`, and the volume with it.
    case deletedWithGroup
    /// API, os-retype: the volume is to take another type.
    case retypeRequested
    /// Volume service: the backend took the new type; the same statement sets it.
    case retyped
    /// Scheduler or volume service (or recovery): the retype cannot be done; the type is as it was.
    case retypeFailed
    /// API, os-migrate_volume: the volume is to move to another backend; it is in maintenance meanwhile.
    case migrationRequested
    /// Destination volume service: the data is there; the same statement moves the volume.
    case migrated
    /// Scheduler or volume service (or recovery): the move cannot be done; the volume stays where it was.
    case migrationFailed
    /// API, os-volume_upload_image: the volume's data is to be sent to an image.
    case uploadRequested
    /// Volume service (or recovery): the upload ended, done or not; the volume is as it was.
    case uploadEnded
}

/// The volume table (reference: Cinder's `conditional_update` calls in `volume/api.py` and the managers'
/// completions).
public enum VolumeStateMachine {
    public typealias Machine = StateMachine<VolumeStatus, VolumeEvent>

    public static let table = Machine([
        .created: .init(from: [.creating, .downloading], to: .status(.available)),
        .downloadBegun: .init(from: [.creating], to: .status(.downloading)),
        .createFailed: .init(from: [.creating, .downloading], to: .status(.error), effects: [.releaseQuota]),
        .deleteRequested: .init(
            from: VolumeTransitions.deletable.subtracting([.errorManaging]), to: .status(.deleting),
            effects: [.savePrevious]),
        .deleteOfFailedManageRequested: .init(
            from: [.errorManaging], to: .status(.errorManagingDeleting), effects: [.savePrevious]),
        .forceDeleteRequested: .init(
            from: Set(VolumeStatus.all).subtracting(VolumeTransitions.forceDeleteRefused).subtracting([.errorManaging]),
            to: .status(.deleting), effects: [.savePrevious]),
        .deleteFailed: .init(from: [.deleting, .errorManagingDeleting], to: .status(.errorDeleting)),
        .extendRequested: .init(
            from: VolumeTransitions.extendable, to: .status(.extending), effects: [.savePrevious]),
        .extendAttachedRequested: .init(
            from: VolumeTransitions.extendable.union([.inUse]), to: .status(.extending), effects: [.savePrevious]),
        .extendRefused: .init(
            from: [.extending], to: .previous(orElse: .available), effects: [.clearPrevious, .clearPendingSize]),
        .extended: .init(
            from: [.extending], to: .previous(orElse: .available), effects: [.clearPrevious, .clearPendingSize]),
        .extendFailed: .init(
            from: [.extending], to: .status(.errorExtending), effects: [.clearPrevious, .clearPendingSize]),
        .revertRequested: .init(from: [.available], to: .status(.reverting)),
        .reverted: .init(from: [.reverting], to: .status(.available)),
        .revertFailed: .init(from: [.reverting], to: .status(.error)),
        .revertAbandoned: .init(from: [.reverting], to: .status(.available)),
        .legacyReserved: .init(from: [.available], to: .status(.attaching)),
        .legacyReservedMultiattach: .init(from: [.available, .inUse], to: .status(.attaching)),
        .attached: .init(from: [.available, .attaching, .reserved], to: .status(.inUse)),
        .attachedMultiattach: .init(from: [.available, .attaching, .reserved, .inUse], to: .status(.inUse)),
        .attachmentReserved: .init(from: [.available], to: .status(.reserved)),
        .attachmentReservedMultiattach: .init(from: [.available, .inUse, .reserved], to: .status(.reserved)),
        .detachBegun: .init(from: [.inUse], to: .status(.detaching)),
        .detachRolledBack: .init(from: [.detaching], to: .status(.inUse)),
        .transferOffered: .init(from: [.available], to: .status(.awaitingTransfer)),
        .transferEnded: .init(from: [.awaitingTransfer], to: .status(.available)),
        .retypeRequested: .init(from: [.available, .inUse], to: .status(.retyping), effects: [.savePrevious]),
        .retyped: .init(from: [.retyping], to: .previous(orElse: .available), effects: [.clearPrevious]),
        .retypeFailed: .init(from: [.retyping], to: .previous(orElse: .available), effects: [.clearPrevious]),
        .migrationRequested: .init(from: [.available], to: .status(.maintenance), effects: [.savePrevious]),
        .migrated: .init(from: [.maintenance], to: .previous(orElse: .available), effects: [.clearPrevious]),
        .migrationFailed: .init(from: [.maintenance], to: .previous(orElse: .available), effects: [.clearPrevious]),
        .uploadRequested: .init(from: [.available, .inUse], to: .status(.uploading), effects: [.savePrevious]),
        .uploadEnded: .init(from: [.uploading], to: .previous(orElse: .available), effects: [.clearPrevious]),
        .deletedWithGroup: .init(
            from: VolumeTransitions.deletable.subtracting([.errorManaging]), to: .status(.deleting),
            effects: [.savePrevious]),
        .reset: .init(
            from: Set(VolumeStatus.all).subtracting(VolumeTransitions.resetRefused),
            to: .chosen(Set(VolumeStatus.all).subtracting(VolumeTransitions.resetRefused))),
    ])

    /// Statuses an operation is under way in. Each has a recovery: nothing may stay in one.
    public static let transitional: Set<VolumeStatus> = [
        .creating, .downloading, .deleting, .errorManagingDeleting, .extending, .reverting, .attaching, .detaching,
        .retyping, .uploading,
    ]

    /// How nothing stays in a transitional status: who finishes it after a crash or a lost message.
    public enum Recovery: Hashable, Sendable {
        /// The owner does the operation again from the start (its inputs still exist), else fails it.
        case redo
        /// The operation is undone by this event.
        case undo(VolumeEvent)
        /// Recomputed from the live attachments (the client that began it goes on or rolls it back).
        case fromAttachments
    }

    /// The recovery of every transitional status.
    public static let recovery: [VolumeStatus: Recovery] = [
        .creating: .redo, .deleting: .redo, .errorManagingDeleting: .redo, .extending: .redo,
        .reverting: .redo, .attaching: .fromAttachments, .detaching: .fromAttachments,
        .retyping: .undo(.retypeFailed), .downloading: .redo, .uploading: .undo(.uploadEnded),
    ]

    /// Statuses nothing leads out of but a delete or an administrator's reset: the operation failed.
    public static let failed: Set<VolumeStatus> = [.error, .errorDeleting, .errorExtending, .errorRestoring]
}
