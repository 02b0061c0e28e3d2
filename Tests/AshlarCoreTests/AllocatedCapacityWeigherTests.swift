import Foundation
import Testing

@testable import AshlarCore

@Suite("AllocatedCapacityWeigher")
struct AllocatedCapacityWeigherTests {
    static let pools = [
        makePool(pool: "mid", allocated: 50),
        makePool(pool: "low", allocated: 10),
        makePool(pool: "high", allocated: 90),
    ]

    @Test(arguments: [(-1.0, "node1@lvm#low"), (-0.5, "node1@lvm#low"), (1.0, "node1@lvm#high"), (3.0, "node1@lvm#high")])
    func multiplierSignDecidesBetweenLeastAndMostAllocated(_ multiplier: Double, _ expected: String) {
        let scheduler = FilterScheduler(filters: [], weighers: [AllocatedCapacityWeigher(multiplier: multiplier)])
        #expect(scheduler.choose(from: Self.pools, for: makeSpec()).chosenName == expected)
        #expect(scheduler.choose(from: Self.pools.reversed(), for: makeSpec()).chosenName == expected)
    }

    @Test(arguments: [0.0, 12.5, 4096])
    func rawWeightIsTheAllocatedCapacity(_ allocated: Double) {
        #expect(AllocatedCapacityWeigher().weight(of: makePool(allocated: allocated, provisioned: 1), for: makeSpec()) == allocated)
    }

    @Test func defaultsFavourTheLeastAllocated() {
        #expect(AllocatedCapacityWeigher().multiplier == -1)
        #expect(AllocatedCapacityWeigher().name == "AllocatedCapacityWeigher")
        let scheduler = FilterScheduler(filters: [], weighers: [AllocatedCapacityWeigher()])
        #expect(scheduler.choose(from: Self.pools, for: makeSpec()).chosenName == "node1@lvm#low")
    }
}
