import Foundation
import Testing

@testable import AshlarCore

@Suite("VolumeStatus and VolumeTransitions")
struct VolumeStateTests {
    /// `cinder/objects/fields.py` VolumeStatus plus the statuses used outside the enum (reference section B).
    static let cinderNames: [(VolumeStatus, String)] = [
        (.creating, "creating"), (.available, "available"), (.deleting, "deleting"), (.error, "error"),
        (.errorDeleting, "error_deleting"), (.errorManaging, "error_managing"), (.managing, "managing"),
        (.attaching, "attaching"), (.inUse, "in-use"), (.detaching, "detaching"), (.maintenance, "maintenance"),
        (.restoringBackup, "restoring-backup"), (.errorRestoring, "error_restoring"), (.reserved, "reserved"),
        (.awaitingTransfer, "awaiting-transfer"), (.backingUp, "backing-up"), (.errorBackingUp, "error_backing-up"),
        (.errorExtending, "error_extending"), (.downloading, "downloading"), (.uploading, "uploading"),
        (.retyping, "retyping"), (.extending, "extending"), (.reverting, "reverting"), (.unmanaging, "unmanaging"),
        (.errorUnmanaging, "error_unmanaging"), (.errorManagingDeleting, "error_managing_deleting"),
    ]

    @Test(arguments: cinderNames)
    func statusHasCindersName(_ status: VolumeStatus, _ name: String) {
        #expect(status.rawValue == name)
        #expect(status.description == name)
        #expect(VolumeStatus(name) == status)
        #expect(VolumeStatus(rawValue: name) == status)
        #expect(VolumeStatus.all.contains(status))
    }

    @Test func allListsEveryStatusOnce() {
        #expect(VolumeStatus.all.count == Self.cinderNames.count)
        #expect(Set(VolumeStatus.all).count == VolumeStatus.all.count)
        #expect(!VolumeStatus.all.contains(VolumeStatus("bogus")))
    }

    @Test(
        arguments: [
            (VolumeStatus.managing, VolumeStatus.creating), (.errorManaging, .error),
            (.errorManagingDeleting, .deleting),
        ])
    func manageStatesAreDisplayedAsCinderShowsThem(_ status: VolumeStatus, _ shown: VolumeStatus) {
        #expect(status.displayed == shown)
    }

    @Test func otherStatusesAreDisplayedAsThemselves() {
        let hidden: Set<VolumeStatus> = [.managing, .errorManaging, .errorManagingDeleting]
        for status in VolumeStatus.all where !hidden.contains(status) {
            #expect(status.displayed == status)
        }
    }

    @Test func statusCodesAsAPlainString() throws {
        let data = try JSONEncoder().encode([VolumeStatus.inUse, .errorBackingUp])
        #expect(String(decoding: data, as: UTF8.self) == #"["in-use","error_backing-up"]"#)
        #expect(try JSONDecoder().decode([VolumeStatus].self, from: data) == [.inUse, .errorBackingUp])
    }

    @Test(
        arguments: [
            (AttachStatus.attached, "attached"), (.attaching, "attaching"), (.detached, "detached"),
            (.reserved, "reserved"), (.detaching, "detaching"), (.errorAttaching, "error_attaching"),
            (.errorDetaching, "error_detaching"),
        ])
    func attachStatusHasCindersName(_ status: AttachStatus, _ name: String) throws {
        #expect(status.rawValue == name)
        #expect(status.description == name)
        #expect(AttachStatus(rawValue: name) == status)
        let data = try JSONEncoder().encode([status])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(name)\"]")
    }

    /// `cinder/volume/api.py: delete`: available, error, error_restoring, error_extending, error_managing.
    @Test func deletableStatusesAreCinders() {
        #expect(
            VolumeTransitions.deletable == [.available, .error, .errorRestoring, .errorExtending, .errorManaging])
    }

    @Test(arguments: VolumeStatus.all)
    func normalDeleteIsRefusedOutsideTheList(_ status: VolumeStatus) {
        let allowed: Set<String> = ["available", "error", "error_restoring", "error_extending", "error_managing"]
        #expect(VolumeTransitions.deletable.contains(status) == allowed.contains(status.rawValue))
    }

    @Test(arguments: VolumeStatus.all)
    func deleteMovesToDeletingExceptFromErrorManaging(_ status: VolumeStatus) {
        let next = VolumeTransitions.deletingStatus(from: status)
        if status == .errorManaging {
            #expect(next == .errorManagingDeleting)
        } else {
            #expect(next == .deleting)
        }
    }

    @Test func refusedSets() {
        #expect(VolumeTransitions.forceDeleteRefused == [.deleting])
        #expect(VolumeTransitions.resetRefused == [.deleting])
        #expect(VolumeTransitions.updateRefused == [.maintenance])
        #expect(!VolumeTransitions.updateRefused.contains(.available))
        #expect(!VolumeTransitions.forceDeleteRefused.contains(.inUse))
    }
}

@Suite("VolumeType")
struct VolumeTypeTests {
    @Test(
        arguments: [
            ("<is> True", true), ("<is>True", true), ("<is> true", true), ("<is> TRUE", true), ("  <is>   True ", true),
            ("True", false), ("true", false), ("<is> False", false), ("<is>False", false), ("False", false),
            ("", false), ("<or> True", false), ("<is> maybe", false),
        ] as [(String, Bool)])
    func multiattachSpec(_ spec: String, _ expected: Bool) {
        let type = VolumeType(name: "t", extraSpecs: ["multiattach": spec])
        #expect(type.isMultiattach == expected)
    }

    @Test func noMultiattachSpecIsNotMultiattach() {
        #expect(!VolumeType(name: "t").isMultiattach)
        #expect(!VolumeType(name: "t", extraSpecs: ["Multiattach": "<is> True", "capabilities:multiattach": "<is> True"]).isMultiattach)
    }

    @Test func defaults() {
        let type = VolumeType(name: "gold")
        #expect(type.isPublic)
        #expect(type.extraSpecs.isEmpty)
        #expect(type.description == nil)
        #expect(type.qosSpecsID == nil)
        #expect(type.updatedAt == nil)
        #expect(UUID(uuidString: type.id) != nil)
        #expect(type.id == type.id.lowercased())
        #expect(VolumeType(name: "gold").id != type.id)
        #expect(VolumeType.defaultName == "__DEFAULT__")
    }

    @Test func userVisibleSpecsAreCinders() {
        #expect(VolumeType.userVisibleSpecs == ["RESKEY:availability_zones", "multiattach", "replication_enabled"])
    }
}

@Suite("ServiceRecord")
struct ServiceRecordTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var created: TimeInterval
        var updated: TimeInterval?
        var downTime: Int = 60
        var up: Bool
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        .init(label: "fresh heartbeat", created: -1000, updated: -10, up: true),
        .init(label: "heartbeat exactly downTime ago", created: -1000, updated: -60, up: true),
        .init(label: "heartbeat just over downTime ago", created: -1000, updated: -60.5, up: false),
        .init(label: "old heartbeat", created: -1000, updated: -3600, up: false),
        .init(label: "heartbeat now", created: -1000, updated: 0, up: true),
        .init(label: "slightly future heartbeat (clock skew)", created: -1000, updated: 5, up: true),
        .init(label: "no heartbeat, just created", created: -30, updated: nil, up: true),
        .init(label: "no heartbeat, created long ago", created: -120, updated: nil, up: false),
        .init(label: "heartbeat wins over an old creation", created: -100_000, updated: -1, up: true),
        .init(label: "old heartbeat despite a recent creation", created: -1, updated: -100, up: false),
        .init(label: "shorter downTime", created: -1000, updated: -15, downTime: 10, up: false),
        .init(label: "longer downTime", created: -1000, updated: -100, downTime: 120, up: true),
        .init(label: "zero downTime, heartbeat now", created: -1000, updated: 0, downTime: 0, up: true),
        .init(label: "zero downTime, heartbeat a second ago", created: -1000, updated: -1, downTime: 0, up: false),
    ]

    @Test(arguments: cases)
    func isUp(_ c: Case) {
        let record = ServiceRecord(
            host: "node1@lvm", binary: ServiceRecord.volumeBinary, topic: "cinder-volume", availabilityZone: "nova",
            createdAt: Self.now.addingTimeInterval(c.created),
            updatedAt: c.updated.map { Self.now.addingTimeInterval($0) })
        #expect(record.isUp(now: Self.now, downTime: c.downTime) == c.up)
    }

    @Test func binaryNames() {
        #expect(ServiceRecord.schedulerBinary == "cinder-scheduler")
        #expect(ServiceRecord.volumeBinary == "cinder-volume")
    }
}
