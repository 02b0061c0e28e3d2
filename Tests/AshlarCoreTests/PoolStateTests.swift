import Foundation
import Testing

@testable import AshlarCore

@Suite("PoolState")
struct PoolStateTests {
    @Test func nameIsBackendHashPool() {
        let pool = makePool(backend: "node1@lvm", pool: "fast")
        #expect(pool.name == "node1@lvm#fast")
        #expect(pool.backend == "node1@lvm")
        #expect(pool.poolName == "fast")
    }

    @Test func consumeTakesTheSpaceFromAThickPool() {
        var pool = makePool(total: .gb(100), free: .gb(100), allocated: 5, provisioned: 7)
        pool.totalVolumes = 2
        pool.consume(sizeGB: 10)
        #expect(pool.allocatedCapacityGB == 15)
        #expect(pool.provisionedCapacityGB == 17)
        #expect(pool.freeCapacityGB == .gb(90))
        #expect(pool.totalVolumes == 3)
        #expect(pool.totalCapacityGB == .gb(100))
        pool.consume(sizeGB: 90)
        #expect(pool.freeCapacityGB == .gb(0))
        #expect(pool.allocatedCapacityGB == 105)
    }

    @Test(arguments: [Capacity.infinite, .unknown])
    func consumeLeavesInfiniteAndUnknownFreeSpaceAlone(_ free: Capacity) {
        var pool = makePool(free: free)
        pool.consume(sizeGB: 10)
        #expect(pool.freeCapacityGB == free)
        #expect(pool.allocatedCapacityGB == 10)
        #expect(pool.provisionedCapacityGB == 10)
        #expect(pool.totalVolumes == 1)
    }

    @Test func consumedSpaceIsSeenByTheCapacityFilter() {
        var pool = makePool(total: .gb(100), free: .gb(20), provisioned: 80)
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 10)) == nil)
        pool.consume(sizeGB: 15)
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 10)) != nil)
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 5)) == nil)
    }

    @Test func consumedSpaceIsSeenByTheThinArithmetic() {
        // 100 GiB at ratio 2: 200 may be provisioned.
        var pool = makePool(total: .gb(100), free: .gb(100), ratio: 2, thin: true)
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 150)) == nil)
        pool.consume(sizeGB: 150)
        #expect(pool.provisionedCapacityGB == 150)
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 51)) != nil)
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 50)) == nil)
    }

    /// `consume_from_volume` subtracts the size from a numeric free capacity whatever the pool's thin support,
    /// which a thick-type request on a thin pool relies on.
    @Test func consumeTakesTheSpaceFromAThinPoolToo() {
        var pool = makePool(total: .gb(100), free: .gb(100), thin: true)
        pool.consume(sizeGB: 30)
        #expect(pool.freeCapacityGB == .gb(70))
        // 100 GiB free before, 30 placed: a thick 80 GiB volume no longer fits.
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 80, thick: true)) != nil)
    }

    struct FreeCase: Sendable, CustomTestStringConvertible {
        var label: String
        var pool: PoolState
        var thin: Bool
        var expected: Double
        var testDescription: String { label }
    }

    /// `calculate_virtual_free_capacity` for cases where the two formulas agree.
    static let agreeingFree: [FreeCase] = [
        .init(label: "thick, consistent", pool: makePool(total: .gb(100), free: .gb(60), provisioned: 40), thin: true, expected: 60),
        .init(
            label: "thick, reserve floored", pool: makePool(total: .gb(107), free: .gb(107), reserved: 10), thin: true,
            expected: 97),
        .init(
            label: "thin, no reserve", pool: makePool(total: .gb(100), free: .gb(60), provisioned: 40, ratio: 2, thin: true),
            thin: true, expected: 160),
        .init(
            label: "thin pool, thick request",
            pool: makePool(total: .gb(100), free: .gb(10), provisioned: 90, ratio: 20, thin: true), thin: false,
            expected: 10),
    ]

    @Test(arguments: agreeingFree)
    func virtualFreeCapacity(_ c: FreeCase) {
        #expect(c.pool.capacityFactors(thin: c.thin)?.virtualFree == c.expected)
    }

    @Test func infiniteOrUnknownCapacityHasNoFactors() {
        #expect(makePool(total: .gb(100), free: .infinite).capacityFactors(thin: true) == nil)
        #expect(makePool(total: .unknown, free: .gb(10)).capacityFactors(thin: false) == nil)
    }

    static let divergingFree: [FreeCase] = [
        // min(free, total - reserved - provisioned) = min(60, 90) = 60.
        .init(
            label: "thick, reserve out of total", pool: makePool(total: .gb(100), free: .gb(60), reserved: 10), thin: true,
            expected: 60),
        // min(80, 100 - 50) = 50.
        .init(
            label: "thick, provisioned counts", pool: makePool(total: .gb(100), free: .gb(80), provisioned: 50),
            thin: true, expected: 50),
        // (100 - 10) * 2 - 40 = 140.
        .init(
            label: "thin, reserve before the ratio",
            pool: makePool(total: .gb(100), free: .gb(60), provisioned: 40, reserved: 10, ratio: 2, thin: true),
            thin: true, expected: 140),
    ]

    @Test(arguments: divergingFree)
    func virtualFreeCapacityFollowsCapacityFactors(_ c: FreeCase) {
        #expect(c.pool.capacityFactors(thin: c.thin)?.virtualFree == c.expected)
    }
}

@Suite("PoolState.pools(fromReport:)")
struct PoolReportTests {
    static let time = Date(timeIntervalSince1970: 1_700_000_123.5)

    static let lvmReport: [String: JSONValue] = [
        "volume_backend_name": "lvmbackend",
        "vendor_name": "Open Source",
        "driver_version": "3.0.0",
        "storage_protocol": "iSCSI",
        "shared_targets": false,
        "pools": [
            [
                "pool_name": "fast",
                "total_capacity_gb": 100,
                "free_capacity_gb": .double(80.5),
                "allocated_capacity_gb": 10,
                "provisioned_capacity_gb": 30,
                "reserved_percentage": 5,
                "max_over_subscription_ratio": "20.0",
                "thin_provisioning_support": true,
                "thick_provisioning_support": false,
                "total_volumes": 3,
                "vendor_name": "Pool Vendor",
                "multiattach": true,
            ],
            [
                "pool_name": "slow",
                "total_capacity_gb": "infinite",
                "free_capacity_gb": "unknown",
                "allocated_capacity_gb": "7",
                "max_over_subscription_ratio": .double(1.5),
            ],
        ],
    ]

    static func pools(_ report: [String: JSONValue]) -> [PoolState] {
        PoolState.pools(fromReport: report, backend: "node1@lvm", availabilityZone: "az1", at: time)
    }

    @Test func eachPoolOfTheListBecomesAPool() throws {
        let pools = Self.pools(Self.lvmReport)
        #expect(pools.map(\.name) == ["node1@lvm#fast", "node1@lvm#slow"])
        #expect(pools.allSatisfy { $0.backend == "node1@lvm" })
        #expect(pools.allSatisfy { $0.availabilityZone == "az1" })
        #expect(pools.allSatisfy { $0.updatedAt == Self.time })
    }

    @Test func poolFiguresAreRead() throws {
        let fast = try #require(Self.pools(Self.lvmReport).first)
        #expect(fast.poolName == "fast")
        #expect(fast.totalCapacityGB == .gb(100))
        #expect(fast.freeCapacityGB == .gb(80.5))
        #expect(fast.allocatedCapacityGB == 10)
        #expect(fast.provisionedCapacityGB == 30)
        #expect(fast.reservedPercentage == 5)
        #expect(fast.maxOverSubscriptionRatio == 20)
        #expect(fast.thinProvisioningSupport)
        #expect(!fast.thickProvisioningSupport)
        #expect(fast.totalVolumes == 3)
    }

    @Test func missingFiguresGetCinderDefaults() throws {
        let slow = try #require(Self.pools(Self.lvmReport).last)
        #expect(slow.totalCapacityGB == .infinite)
        #expect(slow.freeCapacityGB == .unknown)
        #expect(slow.allocatedCapacityGB == 7)
        // provisioned_capacity_gb defaults to allocated_capacity_gb.
        #expect(slow.provisionedCapacityGB == 7)
        #expect(slow.reservedPercentage == 0)
        #expect(slow.maxOverSubscriptionRatio == 1.5)
        #expect(!slow.thinProvisioningSupport)
        #expect(slow.totalVolumes == 0)
    }

    @Test func poolsInheritBackendKeysAndOverrideThem() throws {
        let pools = Self.pools(Self.lvmReport)
        let fast = try #require(pools.first)
        let slow = try #require(pools.last)
        for pool in pools {
            #expect(pool.capabilities["volume_backend_name"] == "lvmbackend")
            #expect(pool.capabilities["storage_protocol"] == "iSCSI")
            #expect(pool.capabilities["driver_version"] == "3.0.0")
            #expect(pool.capabilities["pools"] == nil)
        }
        #expect(fast.capabilities["vendor_name"] == "Pool Vendor")
        #expect(slow.capabilities["vendor_name"] == "Open Source")
        #expect(fast.capabilities["multiattach"] == true)
        #expect(slow.capabilities["multiattach"] == nil)
        #expect(fast.capabilities["pool_name"] == "fast")
        // The backend's keys steer the CapabilitiesFilter through the pool.
        let spec = makeSpec(extraSpecs: ["volume_backend_name": "lvmbackend", "storage_protocol": "iSCSI"])
        #expect(CapabilitiesFilter().rejection(of: slow, for: spec) == nil)
    }

    @Test func reportWithoutPoolsIsOnePoolNamedAfterTheBackendName() throws {
        let report: [String: JSONValue] = [
            "volume_backend_name": "legacy",
            "total_capacity_gb": "50",
            "free_capacity_gb": "25.5",
            "allocated_capacity_gb": .double(12.5),
            "reserved_percentage": "10",
            "thin_provisioning_support": "True",
            "max_over_subscription_ratio": "2.5",
            "total_volumes": "4",
        ]
        let pools = Self.pools(report)
        let pool = try #require(pools.first)
        #expect(pools.count == 1)
        #expect(pool.name == "node1@lvm#legacy")
        #expect(pool.totalCapacityGB == .gb(50))
        #expect(pool.freeCapacityGB == .gb(25.5))
        #expect(pool.allocatedCapacityGB == 12.5)
        #expect(pool.provisionedCapacityGB == 12.5)
        #expect(pool.reservedPercentage == 10)
        #expect(pool.thinProvisioningSupport)
        #expect(pool.maxOverSubscriptionRatio == 2.5)
        #expect(pool.totalVolumes == 4)
        #expect(pool.capabilities["volume_backend_name"] == "legacy")
        #expect(pool.capabilities["total_capacity_gb"] == "50")
    }

    @Test(
        arguments: [
            (JSONValue.int(10), Capacity.gb(10)), (.double(10.25), .gb(10.25)), ("10.25", .gb(10.25)), ("0", .gb(0)),
            ("infinite", .infinite), ("unknown", .unknown), (nil, .unknown), ("lots", .unknown), (true, .unknown),
        ] as [(JSONValue, Capacity)])
    func capacityValues(_ reported: JSONValue, _ expected: Capacity) throws {
        let pool = try #require(
            Self.pools(["pools": [["pool_name": "p", "total_capacity_gb": reported, "free_capacity_gb": reported]]]).first)
        #expect(pool.totalCapacityGB == expected)
        #expect(pool.freeCapacityGB == expected)
    }

    @Test func absentCapacitiesAreUnknown() throws {
        let pool = try #require(Self.pools(["pools": [["pool_name": "p"]]]).first)
        #expect(pool.totalCapacityGB == .unknown)
        #expect(pool.freeCapacityGB == .unknown)
        #expect(pool.allocatedCapacityGB == 0)
        #expect(pool.provisionedCapacityGB == 0)
        // Unknown free space passes the CapacityFilter, as Cinder assumes such backends can serve.
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 1000)) == nil)
    }

    @Test(
        arguments: [
            (JSONValue.bool(true), true), (false, false), ("true", true), ("False", false), ("yes", true), ("0", false),
        ] as [(JSONValue, Bool)])
    func booleanValues(_ reported: JSONValue, _ expected: Bool) throws {
        let pool = try #require(
            Self.pools(["pools": [["pool_name": "p", "thin_provisioning_support": reported, "thick_provisioning_support": reported]]]).first)
        #expect(pool.thinProvisioningSupport == expected)
        #expect(pool.thickProvisioningSupport == expected)
    }

    @Test func emptyPoolListIsNoPools() {
        #expect(Self.pools(["volume_backend_name": "lvm", "pools": []]).isEmpty)
    }

    @Test func entriesThatAreNotObjectsAreSkipped() {
        let pools = Self.pools(["pools": ["oops", 3, nil, ["pool_name": "real"]]])
        #expect(pools.map(\.name) == ["node1@lvm#real"])
    }
}

@Suite("Capacity")
struct CapacityTests {
    @Test(
        arguments: [
            (Capacity.gb(5), "5"), (.gb(5.5), "5.5"), (.gb(0), "0"), (.infinite, "infinite"), (.unknown, "unknown"),
        ] as [(Capacity, String)])
    func description(_ capacity: Capacity, _ text: String) {
        #expect(capacity.description == text)
    }

    @Test func valueIsTheNumberOnly() {
        #expect(Capacity.gb(12.5).value == 12.5)
        #expect(Capacity.infinite.value == nil)
        #expect(Capacity.unknown.value == nil)
    }

    @Test(
        arguments: [
            ("5", Capacity.gb(5)), ("12.5", .gb(12.5)), ("\"infinite\"", .infinite), ("\"unknown\"", .unknown),
            ("\"12.5\"", .gb(12.5)), ("\"junk\"", .unknown),
        ] as [(String, Capacity)])
    func decodes(_ json: String, _ expected: Capacity) throws {
        #expect(try JSONDecoder().decode(Capacity.self, from: Data(json.utf8)) == expected)
    }

    @Test(arguments: [Capacity.gb(5), .gb(12.5), .infinite, .unknown])
    func roundTrips(_ capacity: Capacity) throws {
        let data = try JSONEncoder().encode([capacity])
        #expect(try JSONDecoder().decode([Capacity].self, from: data) == [capacity])
    }

    @Test func encodesInfiniteAndUnknownAsCinderStrings() throws {
        let data = try JSONEncoder().encode([Capacity.infinite, .unknown])
        #expect(String(decoding: data, as: UTF8.self) == #"["infinite","unknown"]"#)
    }
}
