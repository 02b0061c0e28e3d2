import Foundation
import Testing

@testable import AshlarCore

@Suite("JsonFilter")
struct JsonFilterTests {
    static let pool = makePool(
        backend: "h@b", pool: "p", zone: "az1", total: .gb(100), free: .gb(40), allocated: 60, provisioned: 70,
        reserved: 5,
        capabilities: [
            "vendor_name": "Open Source", "storage_protocol": ["iSCSI", "iscsi"], "qos": ["max_iops": 500],
            "multiattach": true, "nothing": nil,
        ], volumes: 3)

    static func reason(_ query: JSONValue?, pool: PoolState = pool) -> String? {
        JsonFilter().rejection(of: pool, for: makeSpec(hints: query.map { ["query": $0] } ?? [:]))
    }

    @Test(arguments: [
        // No query.
        ("", true), ("   ", true), ("[]", true),
        // Comparisons of attributes.
        (#"[">=", "$free_capacity_gb", 10]"#, true),
        (#"[">=", "$free_capacity_gb", 40]"#, true),
        (#"[">", "$free_capacity_gb", 40]"#, false),
        (#"["<", "$free_capacity_gb", 40.5]"#, true),
        (#"["<=", "$total_capacity_gb", 99]"#, false),
        (#"["=", "$allocated_capacity_gb", 60]"#, true),
        (#"["=", "$provisioned_capacity_gb", 60]"#, false),
        (#"["=", "$reserved_percentage", 5]"#, true),
        (#"["=", "$backend_id", "h@b#p"]"#, true),
        (#"["=", "$backend_id", "h@b"]"#, false),
        (#"["=", "$host", "h@b#p"]"#, true),
        (#"["=", "$pool_name", "p"]"#, true),
        (#"["=", "$availability_zone", "az1"]"#, true),
        (#"["=", "$availability_zone", "az2"]"#, false),
        (#"[">", "$total_volumes", 2]"#, true),
        (#"["<", "$total_volumes", 3]"#, false),
        (#"["=", "$capabilities.vendor_name", "Open Source"]"#, true),
        (#"["=", "$capabilities.storage_protocol", ["in"]]"#, false),
        (#"["=", "$capabilities.multiattach", true]"#, true),
        (#"["=", "$capabilities.multiattach", 1]"#, true),
        (#"[">=", "$capabilities.qos.max_iops", 500]"#, true),
        (#"[">", "$capabilities.qos.max_iops", 500]"#, false),
        // The first argument against every other one.
        (#"["<", 1, "$free_capacity_gb", "$total_capacity_gb"]"#, true),
        (#"["<", 50, "$free_capacity_gb", "$total_capacity_gb"]"#, false),
        (#"["=", "$free_capacity_gb"]"#, false),
        // Strings order by text; different kinds do not order.
        (#"["<", "$capabilities.vendor_name", "Zed"]"#, true),
        (#"["<", "$free_capacity_gb", "abc"]"#, false),
        (#"["=", "$free_capacity_gb", "40"]"#, false),
        // Unknown attributes and nulls are dropped: too few arguments left.
        (#"["=", "$no_such_attribute", "$no_such_attribute"]"#, false),
        (#"["=", "$capabilities.missing", 1]"#, false),
        (#"["=", "$capabilities.nothing", null]"#, false),
        (#"["=", "$no_such_attribute", 1, 1]"#, true),
        // in: the first argument is one of the rest.
        (#"["in", "$availability_zone", "az0", "az1"]"#, true),
        (#"["in", "$availability_zone", "az0", "az2"]"#, false),
        (#"["in", "$free_capacity_gb", 40]"#, true),
        (#"["in", "$free_capacity_gb"]"#, false),
        // not, or, and.
        (#"["not", ["=", "$availability_zone", "az1"]]"#, false),
        (#"["not", ["=", "$availability_zone", "az2"]]"#, true),
        (#"["and", ["not", ["=", "$availability_zone", "az1"]], [">", "$free_capacity_gb", 1]]"#, false),
        (#"["or", ["=", "$availability_zone", "az2"], [">", "$free_capacity_gb", 1]]"#, true),
        (#"["or", ["=", "$availability_zone", "az2"], [">", "$free_capacity_gb", 100]]"#, false),
        (#"["and", [">=", "$free_capacity_gb", 10], ["=", "$backend_id", "h@b#p"]]"#, true),
        (#"["and", [">=", "$free_capacity_gb", 10], ["=", "$backend_id", "h@b#q"]]"#, false),
        (#"["and"]"#, true),
        (#"["or"]"#, false),
        (#"["and", [], ["=", 1, 1]]"#, true),
    ])
    func evaluatesTheQuery(_ query: String, _ passes: Bool) {
        let reason = Self.reason(.string(query))
        #expect((reason == nil) == passes, "\(query): \(reason ?? "passed")")
        if let reason { #expect(reason.contains("does not satisfy the query hint \(query)")) }
    }

    @Test(arguments: [
        (#"["and", "#, "not valid JSON"),
        ("free > 10", "not valid JSON"),
        (#"{"op": "="}"#, "not a JSON list"),
        (#""just a string""#, "not a JSON list"),
        (#"["==", "$free_capacity_gb", 10]"#, "'==' is not an operator"),
        (#"["and", [">=", "$free_capacity_gb", 10], ["like", "$host", "h"]]"#, "'like' is not an operator"),
        (#"[[">=", "$free_capacity_gb", 10]]"#, "is not an operator"),
        ("[1]", "'1' is not an operator"),
    ])
    func unparsableQueryFailsEveryPoolWithAReason(_ query: String, _ expected: String) throws {
        for pool in [Self.pool, makePool(backend: "other@b", pool: "q")] {
            let reason = try #require(Self.reason(.string(query), pool: pool))
            #expect(reason.contains(expected), "\(reason)")
            #expect(reason.contains("query hint"))
        }
    }

    @Test(arguments: [JSONValue?.none, .some(.null)])
    func absentQueryPasses(_ query: JSONValue?) {
        #expect(Self.reason(query) == nil)
    }

    @Test func anAlreadyParsedListIsReadTheSameWay() {
        #expect(Self.reason([">=", "$free_capacity_gb", 10]) == nil)
        #expect(Self.reason([">=", "$free_capacity_gb", 41]) != nil)
    }

    @Test(arguments: [JSONValue.int(5), .bool(true), .object(["a": 1])])
    func aHintThatIsNeitherTextNorListFails(_ query: JSONValue) throws {
        let reason = try #require(Self.reason(query))
        #expect(reason.contains("not a JSON list"))
    }

    @Test(arguments: [
        (Capacity.infinite, #"["=", "$free_capacity_gb", "infinite"]"#),
        (Capacity.unknown, #"["=", "$free_capacity_gb", "unknown"]"#),
    ])
    func infiniteAndUnknownCapacityReadAsStrings(_ free: Capacity, _ query: String) {
        let pool = makePool(free: free)
        #expect(Self.reason(.string(query), pool: pool) == nil)
        #expect(Self.reason(.string(#"[">", "$free_capacity_gb", 0]"#), pool: pool) != nil)
    }

    @Test func name() {
        #expect(JsonFilter().name == "JsonFilter")
    }
}
