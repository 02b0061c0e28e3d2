import Foundation
import Testing

@testable import AshlarCore

@Suite("VolumeNumberWeigher")
struct VolumeNumberWeigherTests {
    static let pools = [
        makePool(pool: "mid", volumes: 5),
        makePool(pool: "few", volumes: 1),
        makePool(pool: "many", volumes: 40),
    ]

    @Test(arguments: [(-1.0, "node1@lvm#few"), (-2.0, "node1@lvm#few"), (1.0, "node1@lvm#many")])
    func multiplierSignDecidesBetweenFewestAndMostVolumes(_ multiplier: Double, _ expected: String) {
        let scheduler = FilterScheduler(filters: [], weighers: [VolumeNumberWeigher(multiplier: multiplier)])
        #expect(scheduler.choose(from: Self.pools, for: makeSpec()).chosenName == expected)
        #expect(scheduler.choose(from: Self.pools.reversed(), for: makeSpec()).chosenName == expected)
    }

    @Test(arguments: [0, 1, 250])
    func rawWeightIsTheVolumeCount(_ count: Int) {
        #expect(VolumeNumberWeigher().weight(of: makePool(volumes: count), for: makeSpec()) == Double(count))
    }

    @Test func consumingAVolumeMakesThePoolHeavier() {
        var pool = makePool(volumes: 2)
        pool.consume(sizeGB: 1)
        #expect(VolumeNumberWeigher().weight(of: pool, for: makeSpec()) == 3)
    }

    @Test func defaultsSpreadVolumes() {
        #expect(VolumeNumberWeigher().multiplier == -1)
        #expect(VolumeNumberWeigher().name == "VolumeNumberWeigher")
    }
}
