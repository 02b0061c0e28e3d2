import Foundation
import Testing

@testable import AshlarCore

@Suite("DriverFilter")
struct DriverFilterTests {
    static func pool(_ function: JSONValue?, free: Capacity = .gb(40), name: String = "p") -> PoolState {
        var caps: [String: JSONValue] = [
            "volume_backend_name": "lvm", "vendor_name": "Open Source", "storage_protocol": "iSCSI",
            "driver_version": "3.0.0", "QoS_support": false, "total_volumes": 7, "tier": "gold",
        ]
        if let function { caps["filter_function"] = function }
        return makePool(backend: "h@b", pool: name, total: .gb(100), free: free, allocated: 60, provisioned: 70,
                        reserved: 5, capabilities: caps)
    }

    @Test(arguments: [
        ("stats.free_capacity_gb >= 10", true), ("stats.free_capacity_gb > 40", false),
        ("stats.total_capacity_gb == 100", true), ("stats.allocated_capacity_gb == 60", true),
        ("stats.provisioned_capacity_gb == 70", true), ("stats.reserved_percentage == 5", true),
        ("stats.volume_backend_name == 'lvm'", true), ("stats.vendor_name == 'Open Source'", true),
        ("stats.driver_version == '3.0.0'", true), ("stats.storage_protocol == iSCSI", true),
        ("stats.QoS_support", false), ("stats.host == 'h@b#p'", true), ("stats.backend_id == 'h@b#q'", false),
        ("capabilities.total_volumes < 10", true), ("capabilities.tier == 'silver'", false),
        ("extra.tier == capabilities.tier", true), ("volume.size <= 5", true), ("volume.size > 5", false),
        ("stats.free_capacity_gb - volume.size * 10", true), ("stats.free_capacity_gb - volume.size * 8", false),
        ("1", true), ("0", false), ("''", false),
    ])
    func evaluatesTheFunction(_ function: String, _ passes: Bool) {
        let spec = makeSpec(size: 5, extraSpecs: ["tier": "gold"])
        let reason = DriverFilter().rejection(of: Self.pool(.string(function)), for: spec)
        #expect((reason == nil) == passes, "\(function): \(reason ?? "passed")")
        if let reason { #expect(reason == "does not satisfy its filter_function \(function)") }
    }

    @Test func noFunctionPasses() {
        #expect(DriverFilter().rejection(of: Self.pool(nil), for: makeSpec()) == nil)
        #expect(DriverFilter().rejection(of: Self.pool(.null), for: makeSpec()) == nil)
    }

    @Test(arguments: [
        ("stats.free_capacity_gb >", "unexpected end"), ("qos.max_iops > 1", "unknown variable qos.max_iops"),
        ("extra.missing == 1", "unknown variable extra.missing"), ("1 / 0", "division by zero"),
    ])
    func errorsReject(_ function: String, _ message: String) {
        let reason = DriverFilter().rejection(of: Self.pool(.string(function)), for: makeSpec())
        #expect(reason?.hasPrefix("cannot be chosen because its filter_function \(function) is not valid: ") == true)
        #expect(reason?.contains(message) == true, "\(reason ?? "passed")")
    }

    @Test func infiniteCapacityIsAStringThatCannotBeOrdered() {
        let reason = DriverFilter().rejection(
            of: Self.pool("stats.free_capacity_gb > 1", free: .infinite), for: makeSpec())
        #expect(reason?.contains("not supported") == true)
        #expect(DriverFilter().rejection(
            of: Self.pool("stats.free_capacity_gb == infinite", free: .infinite), for: makeSpec()) == nil)
    }

    @Test func compiledCheckReusesOneParsePerFunction() {
        let check = DriverFilter().compiled(for: makeSpec(size: 20))
        let pools = [Self.pool("stats.free_capacity_gb >= volume.size", free: .gb(40), name: "a"),
                     Self.pool("stats.free_capacity_gb >= volume.size", free: .gb(10), name: "b"),
                     Self.pool("volume.size < 1", name: "c"), Self.pool(nil, name: "d")]
        #expect(pools.map { check($0) == nil } == [true, false, false, true])
        #expect(pools.map { check($0) == nil } == [true, false, false, true])
    }

    static func protocolPool(_ reported: JSONValue?, _ function: String) -> PoolState {
        var caps: [String: JSONValue] = ["filter_function": .string(function)]
        if let reported { caps["storage_protocol"] = reported }
        return makePool(backend: "h@b", capabilities: caps)
    }

    @Test(arguments: [
        // A backend reporting one spelling matches a function written for any spelling of its protocol.
        ("iSCSI", "stats.storage_protocol == 'iscsi'", true), ("iscsi", "stats.storage_protocol == iSCSI", true),
        ("iSCSI", "capabilities.storage_protocol == 'iscsi'", true),
        ("FC", "stats.storage_protocol == 'fibre_channel'", true), ("fc", "stats.storage_protocol == 'FC'", true),
        ("nvmeof", "stats.storage_protocol == 'NVMe-oF'", true), ("NVMeOF", "stats.storage_protocol == 'nvmeof'", true),
        ("nfs", "stats.storage_protocol == 'NFS'", true),
        // Other protocols, and other spellings, still fail.
        ("iSCSI", "stats.storage_protocol == 'FC'", false), ("iSCSI", "stats.storage_protocol == 'ISCSI'", false),
        ("RBD", "stats.storage_protocol == 'rbd'", false), ("RBD", "stats.storage_protocol == 'RBD'", true),
        // Every variant must fail for the pool to fail.
        ("iSCSI", "stats.storage_protocol != 'iscsi'", true),
        ("iSCSI", "stats.storage_protocol == 'iSCSI' and stats.storage_protocol == 'iscsi'", false),
    ] as [(String, String, Bool)])
    func passesWhenAnyProtocolVariantPasses(_ reported: String, _ function: String, _ passes: Bool) {
        let reason = DriverFilter().rejection(of: Self.protocolPool(.string(reported), function), for: makeSpec())
        #expect((reason == nil) == passes, "\(reported): \(function): \(reason ?? "passed")")
        if let reason { #expect(reason == "does not satisfy its filter_function \(function)") }
    }

    @Test func aReportedListOfProtocolsIsExpandedToo() {
        let pool = Self.protocolPool(["FC", "iscsi"], "stats.storage_protocol == 'iSCSI'")
        #expect(DriverFilter().rejection(of: pool, for: makeSpec()) == nil)
        #expect(
            StorageProtocolVariants.variants(of: ["FC", "iscsi"]) == ["FC", "fibre_channel", "fc", "iSCSI", "iscsi"])
        #expect(StorageProtocolVariants.variants(of: "NVMe-oF") == ["NVMe-oF", "NVMeOF", "nvmeof"])
        #expect(StorageProtocolVariants.variants(of: nil).isEmpty)
        #expect(StorageProtocolVariants.variants(of: .null).isEmpty)
    }

    @Test func noReportedProtocolIsOneEvaluation() {
        let pool = Self.protocolPool(nil, "stats.storage_protocol == 'iSCSI'")
        #expect(DriverFilter().rejection(of: pool, for: makeSpec()) != nil)
        // Unreported, it reads as None, as before.
        let reason = DriverFilter().rejection(of: Self.protocolPool(nil, "stats.storage_protocol"), for: makeSpec())
        #expect(reason?.hasSuffix("stats.storage_protocol is None") == true, "\(reason ?? "passed")")
    }

    @Test func functionsNotMentioningTheProtocolAreEvaluatedOnce() {
        let spec = makeSpec()
        let cache = ParsedFunctionCache()
        let pool = Self.protocolPool("iSCSI", "")
        var count = 0
        for text in ["volume.size > 0", "stats.storage_protocol == 'iscsi'"] {
            guard case .success(let function) = cache.function(for: text) else {
                Issue.record("\(text) did not parse")
                continue
            }
            var results: [Bool] = []
            function.evaluate(pool: pool, spec: spec) { result in
                results.append((try? result.get())?.isTruthy ?? false)
                return true
            }
            count += results.count
            #expect(results == (text.contains("storage_protocol") ? [false, true] : [true]), "\(text)")
        }
        #expect(count == 3)
    }

    @Test func anErrorInEveryFailingVariantIsReported() {
        // `iSCSI` is plainly false; `iscsi` divides by zero. No variant passes, so the error shows.
        let function = "stats.storage_protocol == 'iscsi' ? 1 / 0 : 0"
        let reason = DriverFilter().rejection(of: Self.protocolPool("iSCSI", function), for: makeSpec())
        #expect(reason?.hasPrefix("cannot be chosen because its filter_function \(function) is not valid: ") == true)
        #expect(reason?.contains("division by zero") == true, "\(reason ?? "passed")")
        // But a passing variant wins over one that errs.
        let lenient = "stats.storage_protocol == 'iscsi' ? 1 / 0 : 1"
        #expect(DriverFilter().rejection(of: Self.protocolPool("iSCSI", lenient), for: makeSpec()) == nil)
    }

    @Test func qosVariablesStayUnknownWithProtocolVariants() {
        let function = "stats.storage_protocol == 'iscsi' and qos.maxIOPS > 1"
        let reason = DriverFilter().rejection(of: Self.protocolPool("iSCSI", function), for: makeSpec())
        #expect(reason?.contains("unknown variable qos.maxIOPS") == true, "\(reason ?? "passed")")
    }
}

@Suite("GoodnessWeigher")
struct GoodnessWeigherTests {
    static func pool(_ function: JSONValue?) -> PoolState {
        makePool(free: .gb(40), capabilities: function.map { ["goodness_function": $0] } ?? [:])
    }

    @Test(arguments: [
        ("50", 50.0), ("0", 0), ("100", 100), ("100.5", 0), ("-1", 0), ("101", 0), ("stats.free_capacity_gb", 40),
        ("stats.free_capacity_gb / 2 + volume.size", 23), ("volume.size > 1", 100), ("volume.size > 5", 0),
        ("volume.size > 1 ? 80 : 20", 80), ("'abc'", 0), ("stats.free_capacity_gb +", 0), ("qos.x", 0),
        ("1 / 0", 0), ("max(stats.free_capacity_gb, 70)", 70), ("2.5", 2.5),
    ])
    func rates(_ function: String, _ expected: Double) {
        #expect(GoodnessWeigher().weight(of: Self.pool(.string(function)), for: makeSpec(size: 3)) == expected)
    }

    static func protocolPool(_ reported: JSONValue, _ function: String) -> PoolState {
        makePool(capabilities: ["storage_protocol": reported, "goodness_function": .string(function)])
    }

    @Test(arguments: [
        // The best rating over the protocol's variants counts, whichever spelling the backend reports.
        ("iSCSI", "stats.storage_protocol == 'iscsi' ? 80 : 30", 80.0),
        ("iscsi", "stats.storage_protocol == 'iSCSI' ? 80 : 30", 80),
        ("iSCSI", "stats.storage_protocol == 'iSCSI' ? 30 : 80", 80),
        ("iSCSI", "capabilities.storage_protocol == 'iscsi'", 100),
        ("fibre_channel", "stats.storage_protocol == 'fc' ? 60 : stats.storage_protocol == 'FC' ? 70 : 10", 70),
        ("NFS", "stats.storage_protocol == 'FC' ? 90 : 20", 20),
        // A variant that errs or is out of range rates 0 but does not spoil the others.
        ("iSCSI", "stats.storage_protocol == 'iscsi' ? 1 / 0 : 40", 40),
        ("iSCSI", "stats.storage_protocol == 'iscsi' ? 40 : 150", 40),
        ("iSCSI", "stats.storage_protocol == 'iscsi' ? qos.x : 40", 40),
    ] as [(String, String, Double)])
    func ratesTheBestProtocolVariant(_ reported: String, _ function: String, _ expected: Double) {
        let weight = GoodnessWeigher().weight(of: Self.protocolPool(.string(reported), function), for: makeSpec())
        #expect(weight == expected, "\(reported): \(function)")
    }

    @Test func noFunctionRatesZero() {
        #expect(GoodnessWeigher().weight(of: Self.pool(nil), for: makeSpec()) == 0)
        #expect(GoodnessWeigher().weight(of: Self.pool(.null), for: makeSpec()) == 0)
        #expect(GoodnessWeigher().multiplier == 1)
        #expect(GoodnessWeigher().name == "GoodnessWeigher")
    }
}

@Suite("FilterScheduler with driver functions")
struct DriverFunctionSchedulerTests {
    @Test func driverFilterAndGoodnessWeigherWithTheDefaults() throws {
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter", "DriverFilter"],
            defaultWeighers: ["CapacityWeigher", "GoodnessWeigher"], capacityWeightMultiplier: 1))
        #expect(scheduler.filters.map(\.name).last == "DriverFilter")
        #expect(scheduler.weighers.map(\.name) == ["CapacityWeigher", "GoodnessWeigher"])
        let pools = [
            // Most free space, but its filter function refuses volumes over 5 GiB.
            makePool(backend: "h@b", pool: "big", free: .gb(100),
                     capabilities: ["filter_function": "volume.size <= 5", "goodness_function": "100"]),
            // Fails the CapacityFilter first.
            makePool(backend: "h@b", pool: "full", free: .gb(1), capabilities: ["goodness_function": "100"]),
            // Equal free space: goodness decides.
            makePool(backend: "h@b", pool: "good", free: .gb(50),
                     capabilities: ["filter_function": "stats.free_capacity_gb >= volume.size", "goodness_function": "90"]),
            makePool(backend: "h@b", pool: "poor", free: .gb(50),
                     capabilities: ["goodness_function": "stats.free_capacity_gb < 10"]),
            // Another zone.
            makePool(backend: "h@b", pool: "far", zone: "az9", free: .gb(100)),
        ]
        let decision = scheduler.choose(from: pools, for: makeSpec(size: 10, zone: "nova"))
        #expect(decision.chosenName == "h@b#good")

        // Nothing passes: every rejection says which filter refused.
        let none = scheduler.choose(from: Array(pools[0...1]), for: makeSpec(size: 10, zone: "nova"))
        let rejections = try #require(none.rejections)
        #expect(rejections.map(\.filter) == ["DriverFilter", "CapacityFilter"])
        #expect(rejections[0].reason == "does not satisfy its filter_function volume.size <= 5")
    }
}
