import Foundation

/// A resource's state machine as a table: for each event, the statuses it may start from, the status it ends
/// in, and what else the same compare-and-swap does. The store turns one row of the table into one `UPDATE …
/// WHERE status IN (from)`, so a transition either happens whole or not at all, and of two racing ones exactly
/// one wins. Volumes, snapshots and attachments have a table each; backups, transfers and groups will get theirs
/// in the same shape.
public struct StateMachine<Status: Hashable & Sendable, Event: Hashable & Sendable & CaseIterable>: Sendable {
    /// Where an event leaves the resource.
    public enum Target: Hashable, Sendable {
        /// Always this status.
        case status(Status)
        /// The status saved when the operation began (`previous_status`), else this one.
        case previous(orElse: Status)
        /// Whatever the live attachments imply (volumes only: `Attachment.volumeStatus(for:)`).
        case fromAttachments
        /// The status the caller names, which must be one of these (reset_status, os-update_snapshot_status).
        case chosen(Set<Status>)
    }

    public typealias Effects = TransitionEffects

    /// One row of the table.
    public struct Transition: Hashable, Sendable {
        public var from: Set<Status>
        public var to: Target
        public var effects: Effects

        public init(from: Set<Status>, to: Target, effects: Effects = []) {
            self.from = from
            self.to = to
            self.effects = effects
        }

        /// The status this transition leaves a resource in that is now `current` (with `previous` saved), or
        /// nil when the event cannot happen from there. `chosen` is the caller's pick for `.chosen` targets.
        public func target(from current: Status, previous: Status? = nil, chosen: Status? = nil) -> Status? {
            guard from.contains(current) else { return nil }
            switch to {
            case .status(let status): return status
            case .previous(let fallback): return previous ?? fallback
            case .fromAttachments: return nil
            case .chosen(let allowed):
                guard let chosen, allowed.contains(chosen) else { return nil }
                return chosen
            }
        }
    }

    public let transitions: [Event: Transition]

    public init(_ transitions: [Event: Transition]) {
        self.transitions = transitions
    }

    /// The row of `event`; every event has one (checked by the tests).
    public subscript(_ event: Event) -> Transition { transitions[event]! }

    /// Every status an event can lead to from `status`.
    public func successors(of status: Status) -> Set<Status> {
        var result = Set<Status>()
        for transition in transitions.values where transition.from.contains(status) {
            switch transition.to {
            case .status(let s): result.insert(s)
            case .previous(let s): result.insert(s)
            case .chosen(let allowed): result.formUnion(allowed)
            case .fromAttachments: break
            }
        }
        return result
    }
}

/// What the compare-and-swap of a transition does besides the status.
public struct TransitionEffects: OptionSet, Hashable, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Saves the status left in `previous_status`, for an operation that returns to it.
    public static let savePrevious = TransitionEffects(rawValue: 1 << 0)
    /// Clears `previous_status`.
    public static let clearPrevious = TransitionEffects(rawValue: 1 << 1)
    /// The resource stops counting against the quota (`consumes_quota = false`): it was never made.
    public static let releaseQuota = TransitionEffects(rawValue: 1 << 2)
    /// A pending extend stops holding quota (`extend_to = NULL`).
    public static let clearPendingSize = TransitionEffects(rawValue: 1 << 3)
}
