import AshlarCore
import AshlarVolume
import Foundation
import HTTPTypes
import Testing

/// The legacy attach actions on `POST /volumes/{id}/action`, against the fake iSCSI target.
@Suite("Legacy attach actions", .timeLimit(.minutes(3)))
struct LegacyAttachTests {
    @Test("reserve → initialize_connection → attach → begin_detaching → detach → terminate_connection")
    func fullFlow() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            let instance = randomID()

            let reserve = try await api.post(path, ["os-reserve": nil])
            #expect(reserve.status == .accepted, "\(reserve)")
            #expect(reserve.text.isEmpty)
            #expect(try await api.statuses(volume) == ["attaching", "detached"])

            let initialize = try await api.post(path, ["os-initialize_connection": ["connector": testConnector]])
            #expect(initialize.status == .ok, "\(initialize)")
            let info = initialize.json["connection_info"]
            #expect(info["driver_volume_type"].string == "iscsi")
            #expect(info["enforce_multipath"].bool == false)
            #expect(info["data"]["target_iqn"].string == api.system.iqn(volume))
            #expect(info["data"]["target_lun"].int == 1)
            #expect(info["data"]["access_mode"].string == "rw")
            #expect(info["data"]["auth_method"].string == "CHAP")
            #expect(api.system.isExported(volume))
            // No attachment yet: initialize_connection only exports.
            #expect(try await api.get("/v3/attachments?volume_id=\(volume)", version: "3.27").json["attachments"].array.isEmpty)
            #expect(try await api.statuses(volume) == ["attaching", "detached"])

            let attach = try await api.post(
                path, ["os-attach": ["instance_uuid": .string(instance), "mountpoint": "/dev/vdc", "mode": "rw"]])
            #expect(attach.status == .accepted, "\(attach)")
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
            let entries = try await api.volume(volume)?["attachments"].array ?? []
            #expect(entries.count == 1)
            #expect(entries.first?["server_id"].string == instance)
            #expect(entries.first?["device"].string == "/dev/vdc")
            #expect(entries.first?["attached_at"].string?.isEmpty == false)
            let attachmentID = try #require(entries.first?["attachment_id"].string)
            #expect(try await api.attachment(attachmentID)?["status"].string == "attached")

            let begin = try await api.post(path, ["os-begin_detaching": [:]])
            #expect(begin.status == .accepted, "\(begin)")
            #expect(try await api.statuses(volume) == ["detaching", "attached"])

            let detach = try await api.post(path, ["os-detach": ["attachment_id": .string(attachmentID)]])
            #expect(detach.status == .accepted, "\(detach)")
            #expect(try await api.statuses(volume) == ["available", "detached"])
            #expect(try await api.attachment(attachmentID) == nil)
            #expect(try await api.volume(volume)?["attachments"].array.isEmpty == true)
            #expect(!api.system.isExported(volume), "the last detach removes the export")

            let terminate = try await api.post(path, ["os-terminate_connection": ["connector": testConnector]])
            #expect(terminate.status == .accepted, "\(terminate)")
            #expect(try await api.statuses(volume) == ["available", "detached"])
            #expect(!api.system.isExported(volume))
            // Free: it can be deleted.
            #expect(try await api.delete("/v3/volumes/\(volume)").status == .accepted)
        }
    }

    @Test("Nova's detach order: terminate_connection keeps the export while attached, detach removes it")
    func terminateBeforeDetach() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            #expect(try await api.post(path, ["os-reserve": [:]]).status == .accepted)
            #expect(try await api.post(path, ["os-initialize_connection": ["connector": testConnector]]).status == .ok)
            let attach = try await api.post(path, ["os-attach": ["host_name": "compute-1", "mountpoint": "/mnt/v"]])
            #expect(attach.status == .accepted, "\(attach)")
            #expect(try await api.post(path, ["os-begin_detaching": nil]).status == .accepted)
            #expect(try await api.post(path, ["os-terminate_connection": ["connector": testConnector]]).status == .accepted)
            #expect(api.system.isExported(volume), "still attached: the export stays")
            #expect(try await api.statuses(volume) == ["detaching", "attached"])
            // Without an attachment id: the volume's only attachment.
            #expect(try await api.post(path, ["os-detach": nil]).status == .accepted)
            #expect(!api.system.isExported(volume))
            #expect(try await api.statuses(volume) == ["available", "detached"])
        }
    }

    @Test("roll_detaching returns a detaching volume to in-use; begin_detaching needs in-use and attached")
    func rollDetaching() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            expectFault(try await api.post(path, ["os-begin_detaching": [:]]), .badRequest, "in-use")
            #expect(try await api.post(path, ["os-roll_detaching": [:]]).status == .accepted)
            #expect(try await api.statuses(volume) == ["available", "detached"])

            try await api.attach(volume)
            #expect(try await api.post(path, ["os-begin_detaching": [:]]).status == .accepted)
            expectFault(try await api.post(path, ["os-begin_detaching": [:]]), .badRequest)
            #expect(try await api.statuses(volume) == ["detaching", "attached"])
            #expect(try await api.post(path, ["os-roll_detaching": nil]).status == .accepted)
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
            #expect(api.system.isExported(volume))

            // in-use but not attached (a reset) is refused too.
            _ = try await api.post(path, ["os-reset_status": ["attach_status": "detached"]])
            expectFault(try await api.post(path, ["os-begin_detaching": [:]]), .badRequest)
            #expect(try await api.statuses(volume) == ["in-use", "detached"])
        }
    }

    @Test("reserve and unreserve: available ↔ attaching; reserve needs available (or in-use when multiattach)")
    func reserveUnreserve() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            #expect(try await api.post(path, ["os-unreserve": nil]).status == .accepted)
            #expect(try await api.statuses(volume) == ["available", "detached"])
            #expect(try await api.post(path, ["os-reserve": [:]]).status == .accepted)
            expectFault(try await api.post(path, ["os-reserve": [:]]), .badRequest, "must be available to reserve")
            #expect(try await api.statuses(volume) == ["attaching", "detached"])
            #expect(try await api.post(path, ["os-unreserve": [:]]).status == .accepted)
            #expect(try await api.statuses(volume) == ["available", "detached"])

            // In use: reserve is refused unless the volume is multiattach.
            try await api.attach(volume)
            expectFault(try await api.post(path, ["os-reserve": nil]), .badRequest, "in-use")
            let shared = try await api.createMultiattachVolume()
            try await api.attach(shared)
            let sharedPath = "/v3/volumes/\(shared)/action"
            #expect(try await api.post(sharedPath, ["os-reserve": nil]).status == .accepted)
            #expect(try await api.statuses(shared) == ["attaching", "attached"])
            // Unreserving a volume that still has an attachment leaves it in use.
            #expect(try await api.post(sharedPath, ["os-unreserve": nil]).status == .accepted)
            #expect(try await api.statuses(shared) == ["in-use", "attached"])
        }
    }

    @Test("os-attach: one target required, read-only volumes ro only, not twice unless multiattach")
    func attachRules() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            let instance = randomID()
            for body: JSONValue in [
                ["os-attach": ["instance_uuid": .string(instance)]],
                ["os-attach": ["mountpoint": "/dev/vdb"]],
                ["os-attach": ["instance_uuid": .string(instance), "host_name": "h", "mountpoint": "/dev/vdb"]],
                ["os-attach": ["instance_uuid": "x", "mountpoint": "/dev/vdb"]],
                ["os-attach": ["instance_uuid": .string(instance), "mountpoint": 5]],
                ["os-attach": ["instance_uuid": .string(instance), "mountpoint": "/dev/vdb", "mode": "rx"]],
                ["os-attach": ["instance_uuid": .string(instance), "mountpoint": "/dev/vdb", "bogus": 1]],
            ] {
                expectFault(try await api.post(path, body), .badRequest)
            }
            #expect(try await api.statuses(volume) == ["available", "detached"])

            let body: JSONValue = ["os-attach": ["instance_uuid": .string(instance), "mountpoint": "/dev/vdb"]]
            #expect(try await api.post(path, body).status == .accepted)
            // Again for the same instance: nothing changes.
            #expect(try await api.post(path, body).status == .accepted)
            #expect(try await api.get("/v3/attachments?volume_id=\(volume)", version: "3.27").json["attachments"].array.count == 1)
            let other: JSONValue = ["os-attach": ["instance_uuid": .string(randomID()), "mountpoint": "/dev/vdb"]]
            expectFault(try await api.post(path, other), .badRequest, "already attached")
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
            // Attached volumes cannot be deleted.
            expectFault(try await api.delete("/v3/volumes/\(volume)"), .badRequest)

            let shared = try await api.createMultiattachVolume()
            for _ in 0..<2 {
                let reply = try await api.post(
                    "/v3/volumes/\(shared)/action", ["os-attach": ["instance_uuid": .string(randomID()), "mountpoint": "/dev/vdb"]])
                #expect(reply.status == .accepted, "\(reply)")
            }
            #expect(try await api.volume(shared)?["attachments"].array.count == 2)

            let readOnly = try await api.createAvailableVolume()
            let roPath = "/v3/volumes/\(readOnly)/action"
            _ = try await api.post(roPath, ["os-update_readonly_flag": ["readonly": true]])
            expectFault(
                try await api.post(roPath, ["os-attach": ["host_name": "h", "mountpoint": "/m"]]), .badRequest, "read-only")
            expectFault(
                try await api.post(roPath, ["os-attach": ["host_name": "h", "mountpoint": "/m", "mode": "rw"]]), .badRequest)
            #expect(try await api.post(roPath, ["os-attach": ["host_name": "h", "mountpoint": "/m", "mode": "ro"]]).status == .accepted)
            let initialized = try await api.post(roPath, ["os-initialize_connection": ["connector": testConnector]])
            #expect(initialized.json["connection_info"]["data"]["access_mode"].string == "ro")
            #expect(api.system.target.current[api.system.iqn(readOnly)]?.readOnly == true)
        }
    }

    @Test("os-detach needs an attachment id when there are several; an unknown id only recomputes the status")
    func detachRules() async throws {
        try await withSystem { api in
            let shared = try await api.createMultiattachVolume()
            let a = try await api.attach(shared)
            let b = try await api.attach(shared)
            let path = "/v3/volumes/\(shared)/action"
            expectFault(try await api.post(path, ["os-detach": nil]), .badRequest, "More than one attachment")
            expectFault(try await api.post(path, ["os-detach": ["attachment_id": "x"]]), .badRequest)
            expectFault(try await api.post(path, ["os-detach": ["attachment_id": .string(a), "x": 1]]), .badRequest)
            #expect(try await api.post(path, ["os-detach": ["attachment_id": .string(randomID())]]).status == .accepted)
            #expect(try await api.statuses(shared) == ["in-use", "attached"])
            #expect(try await api.post(path, ["os-detach": ["attachment_id": .string(a)]]).status == .accepted)
            #expect(try await api.attachment(a) == nil)
            #expect(api.system.isExported(shared), "the other attachment still needs the export")
            #expect(try await api.statuses(shared) == ["in-use", "attached"])
            #expect(try await api.post(path, ["os-detach": [:]]).status == .accepted)
            #expect(try await api.attachment(b) == nil)
            #expect(!api.system.isExported(shared))
            #expect(try await api.statuses(shared) == ["available", "detached"])
        }
    }

    @Test("os-force_detach ends the connection and removes the attachment whatever the volume's state")
    func forceDetach() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.attach(volume)
            let path = "/v3/volumes/\(volume)/action"
            #expect(try await api.post(path, ["os-begin_detaching": [:]]).status == .accepted)
            expectFault(try await api.post(path, ["os-force_detach": ["connector": "x"]]), .badRequest)
            expectFault(try await api.post(path, ["os-force_detach": ["bogus": 1]]), .badRequest)
            let reply = try await api.post(
                path, ["os-force_detach": ["attachment_id": .string(id), "connector": testConnector]])
            #expect(reply.status == .accepted, "\(reply)")
            #expect(try await api.attachment(id) == nil)
            #expect(!api.system.isExported(volume))
            #expect(try await api.statuses(volume) == ["available", "detached"])

            // A legacy export that was never attached is cleaned up, and the reservation ended.
            #expect(try await api.post(path, ["os-reserve": nil]).status == .accepted)
            #expect(try await api.post(path, ["os-initialize_connection": ["connector": testConnector]]).status == .ok)
            #expect(api.system.isExported(volume))
            #expect(try await api.post(path, ["os-force_detach": nil]).status == .accepted)
            #expect(!api.system.isExported(volume))
            #expect(try await api.statuses(volume) == ["available", "detached"])
        }
    }

    @Test("initialize_connection needs a connector object; a target that cannot be reached is 503")
    func initializeRules() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            for body: JSONValue in [
                ["os-initialize_connection": [:]], ["os-initialize_connection": nil],
                ["os-initialize_connection": ["connector": "x"]], ["os-initialize_connection": ["connector": [:]]],
                ["os-initialize_connection": ["connector": testConnector, "x": 1]], ["os-terminate_connection": [:]],
                ["os-terminate_connection": ["connector": 5]],
            ] {
                expectFault(try await api.post(path, body), .badRequest)
            }
            #expect(!api.system.isExported(volume))
            api.system.target.reachable = false
            expectFault(
                try await api.post(path, ["os-initialize_connection": ["connector": testConnector]]),
                .serviceUnavailable)
            #expect(try await api.statuses(volume) == ["available", "detached"])
            api.system.target.reachable = true
            let reply = try await api.post(path, ["os-initialize_connection": ["connector": testConnector]])
            #expect(reply.status == .ok, "\(reply)")
            _ = try await api.post(path, ["os-reset_status": ["status": "maintenance"]])
            expectFault(
                try await api.post(path, ["os-initialize_connection": ["connector": testConnector]]), .badRequest,
                "maintenance")
        }
    }
}
