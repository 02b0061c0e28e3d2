import Foundation
import Testing

@testable import AshlarCore

@Suite("AvailabilityZoneFilter")
struct AvailabilityZoneFilterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var poolZone: String
        var requested: String?
        var typeZones: String?
        var passes: Bool
        var testDescription: String {
            "pool \(poolZone), requested \(requested ?? "-"), type zones \(typeZones ?? "-") → \(passes)"
        }
    }

    static let cases: [Case] = [
        .init(poolZone: "nova", requested: nil, typeZones: nil, passes: true),
        .init(poolZone: "az1", requested: nil, typeZones: nil, passes: true),
        .init(poolZone: "az1", requested: "az1", typeZones: nil, passes: true),
        .init(poolZone: "az2", requested: "az1", typeZones: nil, passes: false),
        .init(poolZone: "AZ1", requested: "az1", typeZones: nil, passes: false),
        .init(poolZone: "az1", requested: nil, typeZones: "az1", passes: true),
        .init(poolZone: "az2", requested: nil, typeZones: "az1,az2", passes: true),
        .init(poolZone: "az2", requested: nil, typeZones: "az1, az2 ", passes: true),
        .init(poolZone: "az3", requested: nil, typeZones: "az1,az2", passes: false),
        .init(poolZone: "az", requested: nil, typeZones: "az1,az2", passes: false),
        // With both, the pool must be in the type's zones and be the requested one.
        .init(poolZone: "az1", requested: "az1", typeZones: "az1,az2", passes: true),
        .init(poolZone: "az2", requested: "az1", typeZones: "az1,az2", passes: false),
        .init(poolZone: "az3", requested: "az3", typeZones: "az1,az2", passes: false),
    ]

    @Test(arguments: cases)
    func zones(_ c: Case) {
        var specs: [String: String] = [:]
        if let zones = c.typeZones { specs["RESKEY:availability_zones"] = zones }
        let reason = AvailabilityZoneFilter().rejection(
            of: makePool(zone: c.poolZone), for: makeSpec(zone: c.requested, extraSpecs: specs))
        #expect((reason == nil) == c.passes, "\(reason ?? "passed")")
    }

    @Test func rejectionNamesBothZones() throws {
        let reason = try #require(
            AvailabilityZoneFilter().rejection(of: makePool(zone: "az2"), for: makeSpec(zone: "az1")))
        #expect(reason.contains("az1"))
        #expect(reason.contains("az2"))
    }

    @Test func typeZoneRejectionNamesTheAllowedZones() throws {
        let spec = makeSpec(extraSpecs: ["RESKEY:availability_zones": "az1,az2"])
        let reason = try #require(AvailabilityZoneFilter().rejection(of: makePool(zone: "az3"), for: spec))
        #expect(reason.contains("az3"))
        #expect(reason.contains("az1,az2"))
    }

    @Test func nameIsTheConfigName() {
        #expect(AvailabilityZoneFilter().name == "AvailabilityZoneFilter")
    }
}
