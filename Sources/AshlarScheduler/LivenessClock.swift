import Foundation
import Synchronization

/// The moment a service's heartbeat is judged against. Normally now; but while the database was unreachable no
/// service could write its heartbeat, so for `service_down_time` after it is back the scheduler grants every service
/// the outage's length as well, rather than taking them all for down and failing the creates that arrive first.
///
/// The scheduler's own heartbeat tells it of an outage: one that fails starts it, the next that succeeds ends it.
final class LivenessClock: Sendable {
    private struct State {
        var lastBeat: Date?
        var outageBegan: Date?
        var recovered: Date?
    }

    private let state = Mutex(State())

    func beatSucceeded(at now: Date = Date()) {
        state.withLock { state in
            if state.outageBegan != nil, state.recovered == nil { state.recovered = now }
            state.lastBeat = now
        }
    }

    func beatFailed(at now: Date = Date()) {
        state.withLock { state in
            // A new outage, or the database lost again before the last one's grace ran out: it began no later than
            // the last beat that got through.
            if state.outageBegan == nil || state.recovered != nil {
                state.outageBegan = state.lastBeat ?? now
                state.recovered = nil
            }
        }
    }

    /// The time to judge heartbeats `downTime` seconds old against.
    func asOf(now: Date = Date(), downTime: Int) -> Date {
        state.withLock { state in
            guard let began = state.outageBegan else { return now }
            guard let recovered = state.recovered else { return began }
            if now.timeIntervalSince(recovered) >= Double(downTime) {
                state.outageBegan = nil
                state.recovered = nil
                return now
            }
            return now.addingTimeInterval(-recovered.timeIntervalSince(began))
        }
    }
}
