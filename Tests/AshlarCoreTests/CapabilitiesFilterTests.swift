import Foundation
import Testing

@testable import AshlarCore

@Suite("CapabilitiesFilter")
struct CapabilitiesFilterTests {
    /// What an LVM pool reports, backend keys included.
    static let lvm: [String: JSONValue] = [
        "volume_backend_name": "lvmbackend",
        "vendor_name": "Open Source",
        "storage_protocol": ["iSCSI", "iscsi"],
        "thin_provisioning_support": true,
        "thick_provisioning_support": false,
        "multiattach": true,
        "QoS_support": false,
        "total_volumes": 7,
        "replication": ["mode": "async", "targets": 2],
    ]

    static func rejection(_ specs: [String: String], capabilities: [String: JSONValue] = lvm) -> String? {
        CapabilitiesFilter().rejection(of: makePool(capabilities: capabilities), for: makeSpec(extraSpecs: specs))
    }

    static let passing: [[String: String]] = [
        [:],
        ["volume_backend_name": "lvmbackend"],
        ["capabilities:volume_backend_name": "lvmbackend"],
        ["multiattach": "<is> True"],
        ["capabilities:thin_provisioning_support": "<is> True"],
        ["thick_provisioning_support": "<is> False"],
        ["total_volumes": ">= 5"],
        ["total_volumes": "= 7"],
        ["vendor_name": "<in> Open"],
        // A list capability matches when any element does.
        ["storage_protocol": "iSCSI"],
        ["storage_protocol": "iscsi"],
        ["storage_protocol": "<or> FC <or> iSCSI"],
        // Nested capabilities through the capabilities: scope.
        ["capabilities:replication:mode": "async"],
        ["capabilities:replication:targets": ">= 2"],
        // Every spec together.
        ["volume_backend_name": "lvmbackend", "multiattach": "<is> True", "capabilities:replication:mode": "s== async"],
    ]

    @Test("capabilities that satisfy the type pass", arguments: passing)
    func passes(_ specs: [String: String]) {
        #expect(Self.rejection(specs) == nil)
    }

    static let rejected: [[String: String]] = [
        ["volume_backend_name": "nfsbackend"],
        ["capabilities:volume_backend_name": "nfsbackend"],
        ["multiattach": "<is> False"],
        ["capabilities:thin_provisioning_support": "<is> False"],
        ["total_volumes": ">= 8"],
        ["storage_protocol": "FC"],
        ["storage_protocol": "<in> NFS"],
        ["capabilities:replication:mode": "sync"],
        // One failing spec among passing ones rejects.
        ["volume_backend_name": "lvmbackend", "multiattach": "<is> True", "total_volumes": "<= 3"],
        ["volume_backend_name": "lvmbackend", "QoS_support": "<is> True"],
    ]

    @Test("a capability that does not satisfy the type rejects", arguments: rejected)
    func rejects(_ specs: [String: String]) {
        #expect(Self.rejection(specs) != nil)
    }

    static let missing: [[String: String]] = [
        ["compression": "<is> True"],
        ["capabilities:dedup": "<is> True"],
        ["capabilities:replication:lag": "<= 5"],
        // A nested lookup through something that is not an object.
        ["capabilities:vendor_name:x": "y"],
        ["capabilities:total_volumes:count": "7"],
    ]

    @Test("a capability the pool does not report rejects", arguments: missing)
    func missingCapability(_ specs: [String: String]) throws {
        let reason = try #require(Self.rejection(specs))
        #expect(reason.contains("does not report"))
        #expect(reason.contains(specs.keys.first!))
    }

    static let otherScopes: [[String: String]] = [
        ["RESKEY:availability_zones": "az9"],
        ["provisioning:type": "thick"],
        ["qos:maxIOPS": "100"],
        ["vendor:compression": "<is> True"],
        ["volume_backend_name:x": "nothing"],
        ["replication:mode": "sync"],
        ["RESKEY:availability_zones": "az9", "provisioning:type": "thin", "volume_backend_name": "lvmbackend"],
    ]

    @Test("specs with a scope other than capabilities are not capabilities", arguments: otherScopes)
    func otherScopesIgnored(_ specs: [String: String]) {
        #expect(Self.rejection(specs) == nil)
    }

    @Test func rejectionNamesTheSpecAndWhatWasReported() throws {
        let reason = try #require(Self.rejection(["volume_backend_name": "nfsbackend"]))
        #expect(reason.contains("volume_backend_name"))
        #expect(reason.contains("lvmbackend"))
        #expect(reason.contains("nfsbackend"))
    }

    @Test func poolWithNoCapabilitiesPassesATypeWithoutSpecs() {
        #expect(Self.rejection([:], capabilities: [:]) == nil)
        #expect(Self.rejection(["volume_backend_name": "lvm"], capabilities: [:]) != nil)
    }

    @Test func nameIsTheConfigName() {
        #expect(CapabilitiesFilter().name == "CapabilitiesFilter")
    }

    /// `<all-in>` is meant for list capabilities, but the filter matches the list's elements one at a time,
    /// so a list holding every word never passes.
    @Test func allInAgainstAListCapability() {
        let capabilities: [String: JSONValue] = ["features": ["compression", "dedup", "encryption"]]
        #expect(ExtraSpecMatcher.matches(capabilities["features"]!, "<all-in> compression dedup"))
        #expect(Self.rejection(["features": "<all-in> compression dedup"], capabilities: capabilities) == nil)
        #expect(Self.rejection(["features": "<all-in> compression raid"], capabilities: capabilities) != nil)
    }
}
