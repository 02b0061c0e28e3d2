import Foundation
import Synchronization
import Testing

@testable import AshlarCore

@Suite("ChanceWeigher")
struct ChanceWeigherTests {
    @Test func defaultWeightsAreInTheUnitIntervalAndVary() {
        let weigher = ChanceWeigher()
        let weights = (0..<200).map { _ in weigher.weight(of: makePool(), for: makeSpec()) }
        #expect(weights.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(Set(weights).count > 1)
    }

    @Test(arguments: [0.0, 0.25, 0.999])
    func weightComesFromTheSource(_ value: Double) {
        #expect(ChanceWeigher(source: { value }).weight(of: makePool(), for: makeSpec()) == value)
    }

    @Test(arguments: [
        ([0.1, 0.9, 0.5], "node1@lvm#b"),
        ([0.9, 0.1, 0.5], "node1@lvm#a"),
        ([0.2, 0.3, 0.7], "node1@lvm#c"),
    ])
    func theHighestDrawWins(_ draws: [Double], _ expected: String) {
        let source = Draws(draws)
        let weigher = ChanceWeigher(source: { source.next() })
        let pools = ["a", "b", "c"].map { makePool(pool: $0) }
        let scheduler = FilterScheduler(filters: [], weighers: [weigher])
        #expect(scheduler.choose(from: pools, for: makeSpec()).chosenName == expected)
    }

    @Test func everyEqualPoolGetsChosenSometimes() {
        let pools = ["a", "b", "c"].map { makePool(pool: $0) }
        let scheduler = FilterScheduler(filters: [], weighers: [ChanceWeigher()])
        let chosen = Set((0..<300).compactMap { _ in scheduler.choose(from: pools, for: makeSpec()).chosenName })
        #expect(chosen == ["node1@lvm#a", "node1@lvm#b", "node1@lvm#c"])
    }

    @Test func defaults() {
        #expect(ChanceWeigher().multiplier == 1)
        #expect(ChanceWeigher().name == "ChanceWeigher")
    }
}

/// Hands out fixed draws in order, for a deterministic ChanceWeigher.
private final class Draws: Sendable {
    let values: [Double]
    let index = Mutex(0)
    init(_ values: [Double]) { self.values = values }
    func next() -> Double {
        index.withLock { i in
            defer { i += 1 }
            return values[i % values.count]
        }
    }
}
