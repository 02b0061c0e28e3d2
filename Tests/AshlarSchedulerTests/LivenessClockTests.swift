import Foundation
import Testing

@testable import AshlarScheduler

@Suite("LivenessClock")
struct LivenessClockTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test("without an outage heartbeats are judged against now")
    func noOutage() {
        let clock = LivenessClock()
        clock.beatSucceeded(at: t0)
        #expect(clock.asOf(now: t0 + 5, downTime: 60) == t0 + 5)
    }

    @Test("during an outage, as of its start; after it, shifted by its length until service_down_time has passed")
    func outage() {
        let clock = LivenessClock()
        clock.beatSucceeded(at: t0)
        clock.beatFailed(at: t0 + 1)
        clock.beatFailed(at: t0 + 2)
        #expect(clock.asOf(now: t0 + 3, downTime: 10) == t0)
        clock.beatSucceeded(at: t0 + 4)  // the outage lasted 4 s (from the last beat that got through)
        #expect(clock.asOf(now: t0 + 6, downTime: 10) == t0 + 2)
        #expect(clock.asOf(now: t0 + 13, downTime: 10) == t0 + 9)
        // Past the grace: now again, and it stays so.
        #expect(clock.asOf(now: t0 + 14, downTime: 10) == t0 + 14)
        #expect(clock.asOf(now: t0 + 15, downTime: 10) == t0 + 15)
    }
}
