import Foundation
import Testing

@testable import AshlarCore

/// A weigher with fixed raw weights per pool name, to exercise the weighing arithmetic.
private struct FixedWeigher: BackendWeigher {
    var weights: [String: Double]
    var multiplier: Double
    var name: String { "FixedWeigher" }
    func weight(of pool: PoolState, for spec: RequestSpec) -> Double { weights[pool.name] ?? 0 }
}

/// A filter that rejects the pools it is told to, to check the chain stops at the first rejection.
private struct RejectingFilter: BackendFilter {
    var name: String
    var rejects: Set<String>
    func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        rejects.contains(pool.name) ? "rejected by \(name)" : nil
    }
}

@Suite("FilterScheduler")
struct FilterSchedulerTests {
    @Test func makeBuildsTheConfiguredChainInOrder() throws {
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: ["CapabilitiesFilter", "AvailabilityZoneFilter", "CapacityFilter"],
            defaultWeighers: ["CapacityWeigher"], capacityWeightMultiplier: -2.5))
        #expect(scheduler.filters.map(\.name) == ["CapabilitiesFilter", "AvailabilityZoneFilter", "CapacityFilter"])
        #expect(scheduler.weighers.map(\.name) == ["CapacityWeigher"])
        #expect(scheduler.weighers.first?.multiplier == -2.5)
    }

    @Test func makeAcceptsEmptyLists() throws {
        let scheduler = try FilterScheduler.make(SchedulerOptions(defaultFilters: [], defaultWeighers: [], capacityWeightMultiplier: 1))
        #expect(scheduler.filters.isEmpty)
        #expect(scheduler.weighers.isEmpty)
    }

    @Test(arguments: ["jsonfilter", "capacityfilter", "", "driverfilter", "instancelocalityfilter"])
    func unknownFilterIsAConfigurationError(_ name: String) {
        let error = #expect(throws: AshlarError.self) {
            try FilterScheduler.make(SchedulerOptions(
                defaultFilters: ["CapacityFilter", name], defaultWeighers: ["CapacityWeigher"], capacityWeightMultiplier: 1))
        }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("scheduler_default_filters") == true)
    }

    @Test(arguments: ["goodnessweigher", "chanceweigher", "capacityweigher"])
    func unknownWeigherIsAConfigurationError(_ name: String) {
        let error = #expect(throws: AshlarError.self) {
            try FilterScheduler.make(SchedulerOptions(
                defaultFilters: ["CapacityFilter"], defaultWeighers: [name], capacityWeightMultiplier: 1))
        }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains(name) == true)
    }

    @Test func choosesTheMostFreePoolThatPasses() throws {
        let pools = [
            makePool(backend: "node1@lvm", pool: "a", zone: "az1", free: .gb(500), provisioned: 0),
            makePool(backend: "node2@lvm", pool: "b", zone: "az2", free: .gb(60), provisioned: 40),
            makePool(backend: "node3@lvm", pool: "c", zone: "az2", free: .gb(80), provisioned: 20),
        ]
        let decision = try defaultScheduler().choose(from: pools, for: makeSpec(size: 10, zone: "az2"))
        #expect(decision.chosenName == "node3@lvm#c")
    }

    @Test func tooLargeVolumeIsRejectedByCapacityFilterWithTheSize() throws {
        let pools = [
            makePool(backend: "node1@lvm", pool: "a", free: .gb(100)),
            makePool(backend: "node2@lvm", pool: "b", free: .gb(40), provisioned: 60),
        ]
        let rejections = try #require(try defaultScheduler().choose(from: pools, for: makeSpec(size: 500)).rejections)
        #expect(rejections.map(\.pool) == ["node1@lvm#a", "node2@lvm#b"])
        for rejection in rejections {
            #expect(rejection.filter == "CapacityFilter")
            #expect(rejection.reason.contains("500 GiB"))
            #expect(rejection.description.hasPrefix("CapacityFilter: \(rejection.pool) "))
        }
    }

    @Test func eachPoolIsRejectedOnceByTheFirstFilterThatFails() throws {
        let pools = [
            makePool(backend: "node1@lvm", pool: "wrong-zone", zone: "az9", free: .gb(1)),
            makePool(backend: "node2@lvm", pool: "too-small", zone: "az1", free: .gb(1), provisioned: 99),
            makePool(
                backend: "node3@nfs", pool: "wrong-backend", zone: "az1",
                capabilities: ["volume_backend_name": "nfs"]),
        ]
        let spec = makeSpec(size: 10, zone: "az1", extraSpecs: ["volume_backend_name": "lvm"])
        let rejections = try #require(try defaultScheduler().choose(from: pools, for: spec).rejections)
        #expect(rejections.count == 3)
        #expect(rejections[0].pool == "node1@lvm#wrong-zone")
        #expect(rejections[0].filter == "AvailabilityZoneFilter")
        #expect(rejections[1].pool == "node2@lvm#too-small")
        #expect(rejections[1].filter == "CapacityFilter")
        #expect(rejections[2].pool == "node3@nfs#wrong-backend")
        #expect(rejections[2].filter == "CapabilitiesFilter")
    }

    @Test func filtersRunInTheConfiguredOrder() {
        let pools = [makePool(pool: "p")]
        let scheduler = FilterScheduler(
            filters: [
                RejectingFilter(name: "First", rejects: ["node1@lvm#p"]),
                RejectingFilter(name: "Second", rejects: ["node1@lvm#p"]),
            ], weighers: [])
        let rejections = scheduler.choose(from: pools, for: makeSpec()).rejections
        #expect(rejections == [FilterScheduler.Rejection(pool: "node1@lvm#p", filter: "First", reason: "rejected by First")])
    }

    @Test func noPoolsIsNoValidBackendWithNoRejections() throws {
        let decision = try defaultScheduler().choose(from: [], for: makeSpec())
        #expect(decision.rejections == [])
    }

    @Test func poolsOfAttemptedBackendsAreSkipped() throws {
        let pools = [
            makePool(backend: "node1@lvm", pool: "a", free: .gb(900)),
            makePool(backend: "node1@lvm", pool: "b", free: .gb(800)),
            makePool(backend: "node2@lvm", pool: "a", free: .gb(10), provisioned: 90),
        ]
        let spec = makeSpec(size: 5, attempted: ["node1@lvm"])
        #expect(try defaultScheduler().choose(from: pools, for: spec).chosenName == "node2@lvm#a")
    }

    @Test func allBackendsAttemptedIsNoValidBackend() throws {
        let pools = [
            makePool(backend: "node1@lvm", pool: "a"),
            makePool(backend: "node2@lvm", pool: "b"),
        ]
        let spec = makeSpec(size: 5, attempted: ["node2@lvm", "node1@lvm"])
        let rejections = try #require(try defaultScheduler().choose(from: pools, for: spec).rejections)
        #expect(rejections.map(\.pool) == ["node1@lvm#a", "node2@lvm#b"])
        #expect(rejections.allSatisfy { $0.filter == "Retry" })
    }

    @Test func attemptedHostsMatchWholeBackendsOnly() throws {
        // "node1@lvm" must not exclude "node1@lvm2", nor a pool-qualified name exclude anything.
        let pools = [makePool(backend: "node1@lvm2", pool: "a")]
        let scheduler = try defaultScheduler()
        #expect(scheduler.choose(from: pools, for: makeSpec(attempted: ["node1@lvm"])).chosenName == "node1@lvm2#a")
        #expect(scheduler.choose(from: pools, for: makeSpec(attempted: ["node1"])).chosenName == "node1@lvm2#a")
    }

    @Test func tiesGoToTheFirstPoolListed() throws {
        let a = makePool(backend: "node1@lvm", pool: "a", free: .gb(50), provisioned: 50)
        let b = makePool(backend: "node2@lvm", pool: "b", free: .gb(50), provisioned: 50)
        let scheduler = try defaultScheduler()
        #expect(scheduler.choose(from: [a, b], for: makeSpec()).chosenName == "node1@lvm#a")
        #expect(scheduler.choose(from: [b, a], for: makeSpec()).chosenName == "node2@lvm#b")
        let stacking = try defaultScheduler(multiplier: -1)
        #expect(stacking.choose(from: [b, a], for: makeSpec()).chosenName == "node2@lvm#b")
    }

    @Test func withoutWeighersTheFirstCandidateWins() {
        let pools = [
            makePool(pool: "small", free: .gb(5), provisioned: 95),
            makePool(pool: "big", free: .gb(95), provisioned: 5),
        ]
        let scheduler = FilterScheduler(filters: [CapacityFilter()], weighers: [])
        #expect(scheduler.choose(from: pools, for: makeSpec(size: 1)).chosenName == "node1@lvm#small")
        #expect(scheduler.choose(from: pools, for: makeSpec(size: 10)).chosenName == "node1@lvm#big")
    }

    @Test func weightsAreNormalisedBeforeTheMultiplier() {
        // Raw weights on very different scales: normalised, B wins on the second weigher's larger multiplier.
        let pools = [makePool(pool: "a"), makePool(pool: "b"), makePool(pool: "c")]
        let scheduler = FilterScheduler(
            filters: [],
            weighers: [
                FixedWeigher(weights: ["node1@lvm#a": 1_000_000, "node1@lvm#b": 0, "node1@lvm#c": 500_000], multiplier: 1),
                FixedWeigher(weights: ["node1@lvm#a": 0, "node1@lvm#b": 2, "node1@lvm#c": 1], multiplier: 2),
            ])
        // Totals: a = 1 + 0 = 1, b = 0 + 2 = 2, c = 0.5 + 1 = 1.5.
        #expect(scheduler.choose(from: pools, for: makeSpec()).chosenName == "node1@lvm#b")
    }

    @Test(arguments: [
        ([Double](), [Double]()),
        ([7], [0]),
        ([3, 3, 3], [0, 0, 0]),
        ([0, 5, 10], [0, 0.5, 1]),
        ([10, -1, 4], [1, 0, 5.0 / 11]),
        ([5, .infinity], [0, 1]),
        ([.infinity, 2, 2], [1, 0, 0]),
    ] as [([Double], [Double])])
    func normalise(_ raw: [Double], _ expected: [Double]) {
        let result = FilterScheduler.normalize(raw)
        #expect(result.count == expected.count)
        for (got, want) in zip(result, expected) {
            #expect(abs(got - want) < 1e-9, "\(raw) → \(result)")
        }
    }

    /// Upstream replaces +inf by `max + (max - min) * 100` before normalising, so the order of finite
    /// weights below an infinite one survives: [0, 10, inf] → [0, 10/1010, 1].
    @Test func normalisingKeepsFiniteWeightsBelowInfinity() {
        let result = FilterScheduler.normalize([0, 10, .infinity])
        #expect(result.first == 0)
        #expect(result.last == 1)
        #expect(result[1] < 1)
        #expect(abs(result[1] - 10.0 / 1010) < 1e-9)
    }
}

@Suite("FilterScheduler with hint filters and more weighers")
struct FilterSchedulerHintTests {
    static let allFilters = [
        "AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter", "IgnoreAttemptedHostsFilter",
        "DifferentBackendFilter", "SameBackendFilter", "JsonFilter",
    ]
    static let allWeighers = ["CapacityWeigher", "AllocatedCapacityWeigher", "VolumeNumberWeigher", "ChanceWeigher"]

    @Test func makeKnowsEveryName() throws {
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: Self.allFilters, defaultWeighers: Self.allWeighers, capacityWeightMultiplier: 2,
            allocatedCapacityWeightMultiplier: -3, volumeNumberMultiplier: 4))
        #expect(scheduler.filters.map(\.name) == Self.allFilters)
        #expect(scheduler.weighers.map(\.name) == Self.allWeighers)
        #expect(scheduler.weighers.map(\.multiplier) == [2, -3, 4, 1])
    }

    @Test func newWeighersDefaultToNegativeMultipliers() throws {
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: [], defaultWeighers: ["VolumeNumberWeigher", "AllocatedCapacityWeigher"],
            capacityWeightMultiplier: 1))
        #expect(scheduler.weighers.map(\.multiplier) == [-1, -1])
    }

    static let hinted = "11111111-1111-1111-1111-111111111111"
    static let query = #"["<", "$total_volumes", 10]"#

    static let rejectedPools = [
        makePool(backend: "node1@lvm", pool: "zone2", zone: "az2"),
        makePool(backend: "node1@lvm", pool: "full", zone: "az1", free: .gb(5), provisioned: 95),
        makePool(backend: "node2@lvm", pool: "a", zone: "az1"),
        makePool(backend: "node2@lvm", pool: "busy", zone: "az1", volumes: 50),
    ]
    static let acceptablePools = [
        makePool(backend: "node3@lvm", pool: "ok1", zone: "az1", free: .gb(60), allocated: 40, provisioned: 40),
        makePool(backend: "node3@lvm", pool: "ok2", zone: "az1", free: .gb(80), allocated: 20, provisioned: 20),
    ]

    static func spec(_ affinity: String = "different_host") -> RequestSpec {
        makeSpec(
            size: 10, zone: "az1", hints: [affinity: .string(hinted), "query": .string(query)],
            volumeHosts: [hinted: "node2@lvm#a"])
    }

    static func scheduler() throws -> FilterScheduler {
        try FilterScheduler.make(SchedulerOptions(
            defaultFilters: ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter", "DifferentBackendFilter",
                          "SameBackendFilter", "JsonFilter"],
            defaultWeighers: ["CapacityWeigher", "AllocatedCapacityWeigher", "VolumeNumberWeigher"],
            capacityWeightMultiplier: 1))
    }

    @Test func defaultFiltersPlusHintFiltersChooseTheBestRemainingPool() throws {
        let decision = try Self.scheduler().choose(from: Self.rejectedPools + Self.acceptablePools, for: Self.spec())
        #expect(decision.chosenName == "node3@lvm#ok2")
    }

    @Test func eachRejectionSaysWhichFilterAndWhy() throws {
        let decision = try Self.scheduler().choose(from: Self.rejectedPools, for: Self.spec())
        let rejections = try #require(decision.rejections)
        #expect(rejections.map(\.description) == [
            "AvailabilityZoneFilter: node1@lvm#zone2 is in zone az2, not az1",
            "CapacityFilter: node1@lvm#full needs 10 GiB, has 5 GiB free",
            "DifferentBackendFilter: node2@lvm#a holds volume \(Self.hinted), and the different_host hint asks for a "
                + "pool without it",
            "JsonFilter: node2@lvm#busy does not satisfy the query hint \(Self.query)",
        ])
    }

    @Test func sameHostPinsTheVolumeNextToTheHintedOne() throws {
        let decision = try Self.scheduler().choose(
            from: Self.rejectedPools + Self.acceptablePools, for: Self.spec("same_host"))
        #expect(decision.chosenName == "node2@lvm#a")
    }

    @Test func anInvalidQueryLeavesNoValidBackend() throws {
        let spec = makeSpec(size: 1, hints: ["query": "[\"~\", 1]"])
        let rejections = try #require(try Self.scheduler().choose(from: Self.acceptablePools, for: spec).rejections)
        #expect(rejections.count == 2)
        #expect(rejections.allSatisfy { $0.filter == "JsonFilter" && $0.reason.contains("'~' is not an operator") })
    }

    @Test(arguments: [
        // heavy: most allocated, fewest volumes; light: least allocated, most volumes. Each normalises to 0 or 1,
        // so heavy scores the allocated multiplier and light the volume one.
        ([-2.0, -1.0], "node1@lvm#light"),  // allocation matters more: the least allocated wins
        ([-1.0, -2.0], "node1@lvm#heavy"),  // volume count matters more: the fewest volumes win
        ([1.0, 3.0], "node1@lvm#light"),  // stacking by volume count
        ([3.0, -1.0], "node1@lvm#heavy"),  // stacking by allocation
    ] as [([Double], String)])
    func multipliersCombine(_ multipliers: [Double], _ expected: String) throws {
        let pools = [
            makePool(pool: "heavy", allocated: 90, volumes: 2),
            makePool(pool: "light", allocated: 10, volumes: 9),
        ]
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: [], defaultWeighers: ["AllocatedCapacityWeigher", "VolumeNumberWeigher"],
            capacityWeightMultiplier: 1, allocatedCapacityWeightMultiplier: multipliers[0],
            volumeNumberMultiplier: multipliers[1]))
        #expect(scheduler.choose(from: pools, for: makeSpec()).chosenName == expected)
    }
}
