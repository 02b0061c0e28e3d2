import Foundation
import Testing

@testable import AshlarCore

@Suite("CapacityWeigher")
struct CapacityWeigherTests {
    static func choose(_ pools: [PoolState], multiplier: Double = 1, thick: Bool = false) -> String? {
        let scheduler = FilterScheduler(filters: [], weighers: [CapacityWeigher(multiplier: multiplier)])
        return scheduler.choose(from: pools, for: makeSpec(size: 1, thick: thick)).chosenName
    }

    static let spread = [
        makePool(pool: "a", free: .gb(10), provisioned: 90),
        makePool(pool: "b", free: .gb(50), provisioned: 50),
        makePool(pool: "c", free: .gb(30), provisioned: 70),
    ]

    @Test func positiveMultiplierSpreadsToTheMostFree() {
        #expect(Self.choose(Self.spread) == "node1@lvm#b")
        #expect(Self.choose(Self.spread.reversed()) == "node1@lvm#b")
    }

    @Test func negativeMultiplierStacksOnTheLeastFree() {
        #expect(Self.choose(Self.spread, multiplier: -1) == "node1@lvm#a")
        #expect(Self.choose(Self.spread.reversed(), multiplier: -1) == "node1@lvm#a")
    }

    @Test func defaultMultiplierIsOne() {
        #expect(CapacityWeigher().multiplier == 1)
        #expect(CapacityWeigher().name == "CapacityWeigher")
    }

    @Test func rawWeightIsTheFreeSpace() {
        let weigher = CapacityWeigher()
        #expect(weigher.weight(of: makePool(free: .gb(42), provisioned: 58), for: makeSpec()) == 42)
        // Reserve is floored out of it: 107 * 10% = 10.7 → 10.
        #expect(weigher.weight(of: makePool(total: .gb(107), free: .gb(107), reserved: 10), for: makeSpec()) == 97)
    }

    @Test(arguments: [
        (Capacity.unknown, Capacity.gb(100)), (Capacity.gb(100), Capacity.unknown), (Capacity.unknown, Capacity.unknown),
    ])
    func unknownCapacityIsTheWorstEitherWay(_ free: Capacity, _ total: Capacity) {
        let pools = [
            makePool(pool: "unknown", total: total, free: free),
            makePool(pool: "small", free: .gb(1), provisioned: 99),
            makePool(pool: "big", free: .gb(90), provisioned: 10),
        ]
        #expect(Self.choose(pools, multiplier: 1) == "node1@lvm#big")
        #expect(Self.choose(pools, multiplier: -1) == "node1@lvm#small")
        // Even when it is the only alternative to an almost full pool.
        #expect(Self.choose([pools[0], pools[1]], multiplier: 1) == "node1@lvm#small")
        #expect(Self.choose([pools[0], pools[2]], multiplier: -1) == "node1@lvm#big")
    }

    @Test func thinPoolsAreWeighedByVirtualFreeSpace() {
        let thinPool = makePool(pool: "thin", total: .gb(100), free: .gb(10), provisioned: 90, ratio: 20, thin: true)
        let thickPool = makePool(pool: "thick", total: .gb(100), free: .gb(50), provisioned: 50)
        // Thin: 100 * 20 - 90 = 1910 virtual GiB beat 50.
        #expect(Self.choose([thickPool, thinPool]) == "node1@lvm#thin")
        // provisioning:type=thick weighs the thin pool by its real 10 GiB.
        #expect(Self.choose([thinPool, thickPool], thick: true) == "node1@lvm#thick")
    }

    /// Upstream gives `infinite` and `unknown` the same weight: -1 when the multiplier is positive
    /// (`weights/capacity.py`), so a pool that reports infinite space is the last choice, not the first.
    @Test func infiniteFreeCapacityIsTheWorstWhenSpreading() {
        let pools = [
            makePool(pool: "infinite", total: .gb(100), free: .infinite),
            makePool(pool: "real", free: .gb(10), provisioned: 90),
        ]
        #expect(Self.choose(pools, multiplier: 1) == "node1@lvm#real")
        #expect(Self.choose(pools, multiplier: -1) == "node1@lvm#real")
    }

    /// With a negative multiplier upstream weighs an infinite/unknown total as +inf, i.e. the last choice.
    @Test func infiniteTotalIsTheWorstWhenStacking() {
        let pools = [
            makePool(pool: "no-total", total: .infinite, free: .gb(50)),
            makePool(pool: "small", free: .gb(20), provisioned: 80),
            makePool(pool: "big", free: .gb(80), provisioned: 20),
        ]
        #expect(Self.choose(pools, multiplier: 1) == "node1@lvm#big")
        #expect(Self.choose(pools, multiplier: -1) == "node1@lvm#small")
    }
}
