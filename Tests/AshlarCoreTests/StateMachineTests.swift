import Testing

@testable import AshlarCore

/// The state tables walked without I/O: each row as upstream's (reference section B), and random event sequences
/// that must keep the invariants.
@Suite("State machines")
struct StateMachineTests {
    @Test("every event of every machine has a row")
    func complete() {
        #expect(Set(VolumeStateMachine.table.transitions.keys) == Set(VolumeEvent.allCases))
        #expect(Set(SnapshotStateMachine.table.transitions.keys) == Set(SnapshotEvent.allCases))
        #expect(Set(AttachmentStateMachine.table.transitions.keys) == Set(AttachmentEvent.allCases))
    }

    @Test("volume rows as upstream's conditional updates")
    func volumeRows() {
        let t = VolumeStateMachine.table
        // delete: available, error, error_restoring, error_extending, error_managing (its own way).
        #expect(t[.deleteRequested].from.union(t[.deleteOfFailedManageRequested].from)
            == [.available, .error, .errorRestoring, .errorExtending, .errorManaging])
        #expect(t[.deleteRequested].target(from: .error) == .deleting)
        #expect(t[.deleteOfFailedManageRequested].target(from: .errorManaging) == .errorManagingDeleting)
        #expect(t[.deleteRequested].effects.contains(.savePrevious))
        // force delete: anything but deleting.
        #expect(t[.forceDeleteRequested].target(from: .deleting) == nil)
        #expect(t[.forceDeleteRequested].target(from: .attaching) == .deleting)
        #expect(t[.created].target(from: .creating) == .available)
        #expect(t[.createFailed].target(from: .creating) == .error)
        #expect(t[.createFailed].effects.contains(.releaseQuota))
        #expect(t[.deleteFailed].target(from: .deleting) == .errorDeleting)
        // extend: available (3.42+ in-use) → extending, back to the previous status.
        #expect(t[.extendRequested].from == [.available])
        #expect(t[.extendAttachedRequested].from == [.available, .inUse])
        #expect(t[.extended].target(from: .extending, previous: .inUse) == .inUse)
        #expect(t[.extended].target(from: .extending) == .available)
        #expect(t[.extendRefused].target(from: .extending, previous: .available) == .available)
        #expect(t[.extendFailed].target(from: .extending) == .errorExtending)
        #expect(t[.extended].effects.isSuperset(of: [.clearPrevious, .clearPendingSize]))
        // revert: available → reverting → available, or error.
        #expect(t[.revertRequested].target(from: .available) == .reverting)
        #expect(t[.revertRequested].target(from: .inUse) == nil)
        #expect(t[.reverted].target(from: .reverting) == .available)
        #expect(t[.revertFailed].target(from: .reverting) == .error)
        // legacy attach.
        #expect(t[.legacyReserved].target(from: .available) == .attaching)
        #expect(t[.legacyReservedMultiattach].target(from: .inUse) == .attaching)
        #expect(t[.detachBegun].target(from: .inUse) == .detaching)
        #expect(t[.detachRolledBack].target(from: .detaching) == .inUse)
        #expect(t[.attachmentReserved].target(from: .available) == .reserved)
        #expect(t[.attachmentReserved].target(from: .inUse) == nil)
        #expect(t[.attachmentReservedMultiattach].target(from: .inUse) == .reserved)
        // reset: anything but deleting, to anything but deleting.
        #expect(t[.reset].target(from: .error, chosen: .available) == .available)
        #expect(t[.reset].target(from: .error, chosen: .deleting) == nil)
        #expect(t[.reset].target(from: .deleting, chosen: .available) == nil)
    }

    @Test("snapshot and attachment rows as upstream's")
    func snapshotAndAttachmentRows() {
        let s = SnapshotStateMachine.table
        #expect(s[.created].target(from: .creating) == .available)
        #expect(s[.createFailed].target(from: .creating) == .error)
        #expect(s[.deleteRequested].from == [.available, .error])
        #expect(s[.deleteFailed].target(from: .deleting) == .errorDeleting)
        #expect(s[.restoreBegun].target(from: .available) == .restoring)
        #expect(s[.restoreEnded].target(from: .restoring) == .available)
        #expect(s[.statusUpdatedWhileCreating].target(from: .creating, chosen: .available) == .available)
        #expect(s[.statusUpdatedWhileCreating].target(from: .creating, chosen: .errorDeleting) == nil)
        #expect(s[.statusUpdatedWhileDeleting].target(from: .deleting, chosen: .errorDeleting) == .errorDeleting)
        let a = AttachmentStateMachine.table
        #expect(a[.connecting].target(from: .reserved) == .attaching)
        #expect(a[.connecting].target(from: .detached) == nil)
        #expect(a[.completed].target(from: .attaching) == .attached)
        #expect(a[.connectFailed].target(from: .attaching) == .errorAttaching)
        #expect(a[.detached].target(from: .attached) == .detached)
        #expect(a[.detachRolledBack].target(from: .detached, chosen: .attached) == .attached)
    }

    @Test("every transitional status has a recovery, and only delete or reset leave a failed status")
    func recoveriesAndTerminals() {
        for status in VolumeStateMachine.transitional {
            #expect(VolumeStateMachine.recovery[status] != nil, "\(status) has no recovery")
        }
        for status in SnapshotStateMachine.transitional {
            #expect(SnapshotStateMachine.recovery.keys.contains(status), "\(status) has no recovery")
        }
        let exits: Set<VolumeEvent> = [
            .deleteRequested, .forceDeleteRequested, .reset, .deleteOfFailedManageRequested, .deletedWithGroup,
        ]
        for status in VolumeStateMachine.failed {
            for (event, transition) in VolumeStateMachine.table.transitions where transition.from.contains(status) {
                #expect(exits.contains(event), "\(event) leads out of the failed status \(status)")
            }
        }
    }

    @Test("random event sequences: every status reached is known, transitional ones recoverable, failed ones terminal")
    func randomVolumeSequences() {
        var generator = SeededGenerator(seed: 0x5EED)
        let known = Set(VolumeStatus.all)
        let events = VolumeEvent.allCases.filter { $0 != .reset }
        for _ in 0..<2_000 {
            var status = VolumeStatus.creating
            var previous: VolumeStatus?
            for _ in 0..<40 {
                let event = events.randomElement(using: &generator)!
                let transition = VolumeStateMachine.table[event]
                guard let next = transition.target(from: status, previous: previous) else { continue }
                if transition.effects.contains(.savePrevious) { previous = status }
                if transition.effects.contains(.clearPrevious) { previous = nil }
                #expect(known.contains(next))
                if VolumeStateMachine.failed.contains(status) {
                    #expect(
                        [.deleteRequested, .forceDeleteRequested, .deletedWithGroup].contains(event), "\(event) left \(status)")
                }
                status = next
                if VolumeStateMachine.transitional.contains(status) {
                    #expect(VolumeStateMachine.recovery[status] != nil)
                }
            }
        }
    }

    @Test("groups and group snapshots: every event has a row, creates and deletes settle from their transitional status, reset never interrupts a delete")
    func groupTables() {
        #expect(Set(GroupStateMachine.table.transitions.keys) == Set(GroupEvent.allCases))
        #expect(Set(GroupSnapshotStateMachine.table.transitions.keys) == Set(GroupSnapshotEvent.allCases))
        let g = GroupStateMachine.table
        #expect(g[.created].target(from: .creating) == .available)
        #expect(g[.createFailed].target(from: .creating) == .error)
        #expect(g[.deleteRequested].target(from: .available) == .deleting)
        #expect(g[.deleteRequested].target(from: .creating) == nil)
        #expect(g[.deleteFailed].target(from: .deleting) == .errorDeleting)
        #expect(g[.reset].target(from: .deleting, chosen: .available) == nil)
        #expect(g[.reset].target(from: .error, chosen: .creating) == .creating)
        #expect(g[.reset].target(from: .error, chosen: GroupStatus("bogus")) == nil)
        // Every transitional status is left by the volume service's own events, so the sweep can settle it.
        for status in GroupStateMachine.transitional {
            #expect(g.transitions.contains { $0.key != .reset && $0.value.from.contains(status) }, "\(status)")
        }
        let s = GroupSnapshotStateMachine.table
        #expect(s[.created].target(from: .creating) == .available)
        #expect(s[.deleteRequested].target(from: .error) == .deleting)
        #expect(s[.reset].target(from: .deleting, chosen: .available) == nil)
        for status in GroupSnapshotStateMachine.transitional {
            #expect(s.transitions.contains { $0.key != .reset && $0.value.from.contains(status) }, "\(status)")
        }
        // A member volume may go with its group only from where a plain delete may start.
        #expect(VolumeStateMachine.table[.deletedWithGroup].from == VolumeStateMachine.table[.deleteRequested].from)
    }

    @Test("random attachment sequences: the volume is in-use exactly when an attachment is attached")
    func volumeAgreesWithAttachments() {
        var generator = SeededGenerator(seed: 0xA77AC4)
        for _ in 0..<2_000 {
            var attachments: [AttachStatus] = []
            for _ in 0..<30 {
                if attachments.count < 3, Bool.random(using: &generator) {
                    attachments.append(.reserved)
                    continue
                }
                guard !attachments.isEmpty else { continue }
                let index = Int.random(in: 0..<attachments.count, using: &generator)
                let event = AttachmentEvent.allCases.randomElement(using: &generator)!
                let chosen = Attachment.live.randomElement(using: &generator)
                if let next = AttachmentStateMachine.table[event].target(from: attachments[index], chosen: chosen) {
                    attachments[index] = next
                }
                if attachments[index] == .detached, Bool.random(using: &generator) { attachments.remove(at: index) }
                let live = attachments.filter { Attachment.live.contains($0) }
                let (volume, attach) = Attachment.volumeStatus(for: live)
                #expect((volume == .inUse) == live.contains(.attached))
                #expect((volume == .available) == live.isEmpty)
                #expect((attach == .detached) == live.isEmpty)
            }
        }
    }
}

/// A small deterministic generator, so a failing sequence is the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
