import AshlarAPI
import AshlarCore
import AshlarStore
import AshlarVolume
import AshlarVolume
import Foundation
import HTTPTypes
import Testing

// MARK: - Attachment helpers (shared with the legacy attach tests)

/// A host's iSCSI connector, as os-brick sends it.
let testConnector: JSONValue = [
    "initiator": "iqn.1994-05.com.redhat:ashlar-test", "ip": "192.0.2.10", "host": "compute-1",
    "platform": "x86_64", "os_type": "linux", "multipath": false, "mountpoint": "/dev/vdb",
]

/// The attachments API's microversions: 3.27 (the API), 3.44 (os-complete), 3.54 (mode).
let attachVersion = "3.54"

extension API {
    /// `POST /attachments`; checks the 200 and returns the attachment's detail view.
    @discardableResult
    func createAttachment(
        _ volumeID: String, instance: String? = randomID(), connector: JSONValue? = nil, mode: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSON {
        var fields: [String: JSONValue] = ["volume_uuid": .string(volumeID)]
        if let instance { fields["instance_uuid"] = .string(instance) }
        if let connector { fields["connector"] = connector }
        if let mode { fields["mode"] = .string(mode) }
        let reply = try await post("/v3/attachments", ["attachment": .object(fields)], version: attachVersion)
        #expect(reply.status == .ok, "attachment create: \(reply)", sourceLocation: sourceLocation)
        return reply.json["attachment"]
    }

    /// Creates an attachment with a connector and completes it; returns its id.
    @discardableResult
    func attach(
        _ volumeID: String, instance: String? = randomID(), mode: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let created = try await createAttachment(
            volumeID, instance: instance, connector: testConnector, mode: mode, sourceLocation: sourceLocation)
        let id = try #require(created["id"].string, sourceLocation: sourceLocation)
        let done = try await post("/v3/attachments/\(id)/action", ["os-complete": nil], version: attachVersion)
        #expect(done.status == .noContent, "os-complete: \(done)", sourceLocation: sourceLocation)
        return id
    }

    /// The attachment's detail view, or nil on 404.
    func attachment(_ id: String) async throws -> JSON? {
        try await view("/v3/attachments/\(id)", "attachment", version: attachVersion)
    }

    /// The volume's `status` as the API shows it and its `attach_status` as stored (the view does not show it).
    func statuses(_ volumeID: String) async throws -> [String] {
        let shown = try await volume(volumeID)?["status"].string ?? "(gone)"
        let stored = try await system.environment.volumes.get(volumeID)?.attachStatus.rawValue ?? "(gone)"
        return [shown, stored]
    }

    /// A type whose volumes may be attached more than once, and an available volume of it.
    func createMultiattachVolume(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let name = "multi-\(randomID().prefix(8))"
        let type = try await post(
            "/v3/types", ["volume_type": ["name": .string(name), "extra_specs": ["multiattach": "<is> True"]]])
        #expect(type.status == .ok, "\(type)", sourceLocation: sourceLocation)
        let id = try await createAvailableVolume(extra: ["volume_type": .string(name)], sourceLocation: sourceLocation)
        #expect(try await volume(id)?["multiattach"].bool == true, sourceLocation: sourceLocation)
        return id
    }
}

extension TestSystem {
    /// The IQN the backend exports the volume as.
    func iqn(_ volumeID: String) -> String { ISCSIConfig().iqn(forVolume: volumeID) }

    /// Whether the fake target exports the volume now.
    func isExported(_ volumeID: String) -> Bool { target.current[iqn(volumeID)] != nil }
}

/// `/attachments` (3.27, 3.44, 3.54) against the fake iSCSI target.
@Suite("Attachments API", .timeLimit(.minutes(3)))
struct AttachmentsTests {
    @Test("Create without a connector reserves the attachment and the volume; 404 below 3.27")
    func reserve() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let instance = randomID()
            let body: JSONValue = ["attachment": ["volume_uuid": .string(volume), "instance_uuid": .string(instance)]]
            expectFault(try await api.post("/v3/attachments", body, version: "3.26"), .notFound)
            #expect(try await api.statuses(volume) == ["available", "detached"])

            let created = try await api.createAttachment(volume, instance: instance)
            #expect(
                created.keys
                    == ["id", "status", "instance", "volume_id", "attached_at", "detached_at", "attach_mode", "connection_info"])
            #expect(created["status"].string == "reserved")
            #expect(created["instance"].string == instance)
            #expect(created["volume_id"].string == volume)
            #expect(created["attach_mode"].string == "rw")
            #expect(created["attached_at"].string == "")
            #expect(created["detached_at"].string == "")
            #expect(created["connection_info"] == JSON(.object([:])))
            #expect(try await api.statuses(volume) == ["reserved", "reserved"])
            // Nothing is exported before a connector is given, and a reserved attachment is not shown on the volume.
            #expect(!api.system.isExported(volume))
            #expect(try await api.volume(volume)?["attachments"].array.isEmpty == true)
            // The reserved volume cannot be deleted.
            expectFault(try await api.delete("/v3/volumes/\(volume)"), .badRequest)
        }
    }

    @Test("Update exports the volume and answers flat connection info; os-complete attaches it")
    func updateAndComplete() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let instance = randomID()
            let id = try #require(try await api.createAttachment(volume, instance: instance)["id"].string)
            let path = "/v3/attachments/\(id)"
            expectFault(
                try await api.put(path, ["attachment": ["connector": testConnector]], version: "3.26"), .notFound)

            let reply = try await api.put(path, ["attachment": ["connector": testConnector]], version: "3.27")
            #expect(reply.status == .ok, "\(reply)")
            let attachment = reply.json["attachment"]
            #expect(attachment["status"].string == "attaching")
            let info = attachment["connection_info"]
            let iqn = api.system.iqn(volume)
            #expect(info["driver_volume_type"].string == "iscsi")
            #expect(info["target_iqn"].string == iqn)
            #expect(info["target_portal"].string == "127.0.0.1:3260")
            #expect(info["target_lun"].int == 1)
            #expect(info["auth_method"].string == "CHAP")
            #expect(info["auth_username"].string?.isEmpty == false)
            #expect(info["auth_password"].string?.isEmpty == false)
            #expect(info["access_mode"].string == "rw")
            #expect(info["volume_id"].string == volume)
            #expect(info["attachment_id"].string == id)
            #expect(info["enforce_multipath"].bool == false)
            #expect(!info["data"].exists, "the attachments API flattens the connection info")
            #expect(try await api.statuses(volume) == ["attaching", "attaching"])
            let export = try #require(api.system.target.current[iqn])
            #expect(export.readOnly == false)
            #expect(export.path == api.system.volumeFile(volume))
            // Shown the same way afterwards.
            #expect(try await api.attachment(id)?["connection_info"] == info)

            expectFault(
                try await api.post("\(path)/action", ["os-complete": [:]], version: "3.43"), .notFound)
            #expect(try await api.attachment(id)?["status"].string == "attaching")
            let done = try await api.post("\(path)/action", ["os-complete": [:]], version: "3.44")
            #expect(done.status == .noContent, "\(done)")
            #expect(done.text.isEmpty)
            let attached = try #require(try await api.attachment(id))
            #expect(attached["status"].string == "attached")
            #expect(attached["attached_at"].string?.isEmpty == false)
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
            // Completing again changes nothing.
            #expect(try await api.post("\(path)/action", ["os-complete": nil], version: "3.44").status == .noContent)
            #expect(try await api.statuses(volume) == ["in-use", "attached"])

            // The volume shows the attachment as Cinder does.
            let shown = try #require(try await api.volume(volume))
            let entries = shown["attachments"].array
            #expect(entries.count == 1)
            #expect(entries.first?.keys == ["id", "attachment_id", "volume_id", "server_id", "host_name", "device", "attached_at"])
            #expect(entries.first?["id"].string == volume)
            #expect(entries.first?["attachment_id"].string == id)
            #expect(entries.first?["server_id"].string == instance)
            #expect(entries.first?["host_name"].string == "compute-1")
            #expect(entries.first?["device"].string == "/dev/vdb")
            #expect(entries.first?["attached_at"].string == attached["attached_at"].string)
            let listed = try await api.get("/v3/volumes/detail").json["volumes"].array.first { $0["id"].string == volume }
            #expect(listed?["attachments"] == shown["attachments"])
            // An attached volume cannot be deleted, even by force.
            expectFault(try await api.delete("/v3/volumes/\(volume)"), .badRequest)
            expectFault(try await api.post("/v3/volumes/\(volume)/action", ["os-force_delete": [:]]), .badRequest)
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
        }
    }

    @Test("Create with a connector connects at once; delete ends it, removes the export and frees the volume")
    func connectAndDelete() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let created = try await api.createAttachment(volume, instance: nil, connector: testConnector)
            let id = try #require(created["id"].string)
            #expect(created["status"].string == "attaching")
            #expect(created["instance"].isNull)
            #expect(created["connection_info"]["target_iqn"].string == api.system.iqn(volume))
            #expect(api.system.isExported(volume))
            let complete = try await api.post("/v3/attachments/\(id)/action", ["os-complete": nil], version: "3.44")
            #expect(complete.status == .noContent, "\(complete)")
            #expect(try await api.statuses(volume) == ["in-use", "attached"])

            expectFault(try await api.delete("/v3/attachments/\(id)", version: "3.26"), .notFound)
            let deleted = try await api.delete("/v3/attachments/\(id)", version: "3.27")
            #expect(deleted.status == .ok, "\(deleted)")
            #expect(deleted.json == JSON(.object(["attachments": []])))
            #expect(!api.system.isExported(volume))
            #expect(api.system.target.calls.contains(.removeExport(iqn: api.system.iqn(volume))))
            #expect(try await api.statuses(volume) == ["available", "detached"])
            #expect(try await api.attachment(id) == nil)
            expectFault(try await api.delete("/v3/attachments/\(id)", version: "3.27"), .notFound)
            #expect(try await api.volume(volume)?["attachments"].array.isEmpty == true)
            // Free again: it can be attached anew, and deleted once detached.
            try await api.attach(volume)
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
        }
    }

    @Test("Deleting a reserved attachment returns the volume to available without touching the target")
    func deleteReserved() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try #require(try await api.createAttachment(volume)["id"].string)
            // Reserved only: the volume service neither exports it nor is asked to end its connection.
            try await Task.sleep(for: .milliseconds(1500))  // a report round, which restores held exports
            #expect(!api.system.isExported(volume))
            let before = api.system.target.calls.count
            let deleted = try await api.delete("/v3/attachments/\(id)", version: "3.27")
            #expect(deleted.status == .ok, "\(deleted)")
            let iqn = api.system.iqn(volume)
            let touching = api.system.target.calls.dropFirst(before).filter {
                switch $0 {
                case .removeExport(let removed): removed == iqn
                case .createExport(let export): export.iqn == iqn
                default: false
                }
            }
            #expect(touching.isEmpty, "\(touching)")
            #expect(try await api.statuses(volume) == ["available", "detached"])
            expectFault(try await api.delete("/v3/attachments/\(id)", version: "3.27"), .notFound)
            let reply = try await api.delete("/v3/volumes/\(volume)")
            #expect(reply.status == .accepted, "\(reply)")
        }
    }

    @Test("A volume with a live attachment cannot be deleted, even by os-force_delete: 400, nothing changes")
    func deleteAttached() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try #require(try await api.createAttachment(volume)["id"].string)
            expectFault(try await api.delete("/v3/volumes/\(volume)"), .badRequest, "attachments")
            expectFault(
                try await api.post("/v3/volumes/\(volume)/action", ["os-force_delete": [:]]), .badRequest, "attachments")
            #expect(try await api.statuses(volume) == ["reserved", "reserved"])
            #expect(try await api.attachment(id)?["status"].string == "reserved")
            #expect(try await api.delete("/v3/attachments/\(id)", version: "3.27").status == .ok)
            #expect(try await api.delete("/v3/volumes/\(volume)").status == .accepted)
        }
    }

    @Test("List, detail and show, with filters and pagination")
    func lists() async throws {
        try await withSystem { api in
            let first = try await api.createAvailableVolume()
            let second = try await api.createAvailableVolume()
            let instance = randomID()
            let reserved = try #require(try await api.createAttachment(first, instance: instance)["id"].string)
            let attached = try await api.attach(second)

            expectFault(try await api.get("/v3/attachments", version: "3.26"), .notFound)
            let summary = try await api.get("/v3/attachments", version: "3.27")
            #expect(summary.status == .ok, "\(summary)")
            #expect(summary.json.keys == ["attachments"])
            let items = summary.json["attachments"].array
            #expect(Set(items.compactMap { $0["id"].string }) == [reserved, attached])
            #expect(items.allSatisfy { $0.keys == ["id", "status", "instance", "volume_id"] })
            // Newest first.
            #expect(items.compactMap { $0["id"].string } == [attached, reserved])

            let detail = try await api.get("/v3/attachments/detail", version: "3.27").json["attachments"].array
            #expect(detail.count == 2)
            #expect(
                detail.allSatisfy {
                    $0.keys == ["id", "status", "instance", "volume_id", "attached_at", "detached_at", "attach_mode", "connection_info"]
                })
            #expect(detail.first { $0["id"].string == attached }?["connection_info"]["target_iqn"].string == api.system.iqn(second))

            func ids(_ query: String) async throws -> [String] {
                let reply = try await api.get("/v3/attachments?\(query)", version: "3.34")
                #expect(reply.status == .ok, "\(query): \(reply)")
                return reply.json["attachments"].array.compactMap { $0["id"].string }
            }
            #expect(try await ids("volume_id=\(first)") == [reserved])
            #expect(try await ids("instance_id=\(instance)") == [reserved])
            #expect(try await ids("status=attached") == [attached])
            #expect(try await ids("attach_status=reserved") == [reserved])
            #expect(try await ids("status=detaching").isEmpty)
            #expect(try await ids("volume_id~=\(second.prefix(8))") == [attached])
            #expect(try await ids("sort=created_at:asc") == [reserved, attached])
            #expect(try await ids("limit=1") == [attached])
            #expect(try await ids("limit=1&marker=\(attached)") == [reserved])
            #expect(try await ids("offset=1") == [reserved])
            #expect(try await ids("bogus=1").isEmpty)
            expectFault(try await api.get("/v3/attachments?marker=\(randomID())", version: "3.27"), .notFound)
            expectFault(try await api.get("/v3/attachments?limit=x", version: "3.27"), .badRequest)
            expectFault(try await api.get("/v3/attachments?sort=bogus:asc", version: "3.27"), .badRequest)

            let shown = try await api.get("/v3/attachments/\(reserved)", version: "3.27")
            #expect(shown.status == .ok, "\(shown)")
            #expect(shown.json["attachment"]["volume_id"].string == first)
            #expect(shown.json["attachment"]["status"].string == "reserved")
            expectFault(try await api.get("/v3/attachments/\(reserved)", version: "3.26"), .notFound)
            expectFault(try await api.get("/v3/attachments/\(randomID())", version: "3.27"), .notFound, "attachment")

            // Another project sees none of them.
            let other = try await api.get("/v3/attachments", version: "3.27", token: "u:p9")
            #expect(other.status == .ok, "\(other)")
            #expect(other.json["attachments"].array.isEmpty)
            #expect(try await api.get("/v3/attachments?all_tenants=1", version: "3.27", token: "u:p9").json["attachments"].array.count == 2)
        }
    }

    @Test("A second attachment of a volume that is not multiattach is 400; a multiattach type allows it")
    func multiattach() async throws {
        try await withSystem { api in
            let single = try await api.createAvailableVolume()
            try await api.attach(single)
            let second = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(single), "instance_uuid": .string(randomID())]],
                version: attachVersion)
            expectFault(second, .badRequest, "Invalid volume")
            #expect(try await api.get("/v3/attachments?volume_id=\(single)", version: "3.27").json["attachments"].array.count == 1)
            #expect(try await api.statuses(single) == ["in-use", "attached"])

            let shared = try await api.createMultiattachVolume()
            let a = try await api.attach(shared)
            let b = try await api.attach(shared)
            #expect(try await api.statuses(shared) == ["in-use", "attached"])
            #expect(try await api.volume(shared)?["attachments"].array.count == 2)
            // While one attachment is left, the export stays and the volume is in use.
            let afterA = try await api.delete("/v3/attachments/\(a)", version: "3.27")
            #expect(afterA.status == .ok, "\(afterA)")
            #expect(afterA.json["attachments"].array.compactMap { $0["id"].string } == [b])
            #expect(api.system.isExported(shared))
            #expect(try await api.statuses(shared) == ["in-use", "attached"])
            #expect(try await api.delete("/v3/attachments/\(b)", version: "3.27").status == .ok)
            #expect(!api.system.isExported(shared))
            #expect(try await api.statuses(shared) == ["available", "detached"])
        }
    }

    @Test("The instance that holds a volume may reserve it again (a live migration); another may not")
    func sameInstance() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let instance = randomID()
            try await api.attach(volume, instance: instance)
            let again = try await api.createAttachment(volume, instance: instance)
            #expect(again["status"].string == "reserved")
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
            let other = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(volume), "instance_uuid": .string(randomID())]],
                version: attachVersion)
            expectFault(other, .badRequest)
            let without = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(volume)]], version: attachVersion)
            expectFault(without, .badRequest)
            #expect(try await api.get("/v3/attachments?volume_id=\(volume)", version: "3.27").json["attachments"].array.count == 2)
        }
    }

    @Test("A read-only volume is attached read-only only: rw is 400, ro is exported read-only")
    func readOnly() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let flag = try await api.post("/v3/volumes/\(volume)/action", ["os-update_readonly_flag": ["readonly": true]])
            #expect(flag.status == .accepted, "\(flag)")
            for mode: String? in ["rw", nil] {
                var fields: [String: JSONValue] = ["volume_uuid": .string(volume), "connector": testConnector]
                if let mode { fields["mode"] = .string(mode) }
                let reply = try await api.post("/v3/attachments", ["attachment": .object(fields)], version: "3.54")
                expectFault(reply, .badRequest, "read-only")
            }
            #expect(try await api.statuses(volume) == ["available", "detached"])
            #expect(try await api.get("/v3/attachments", version: "3.27").json["attachments"].array.isEmpty)
            #expect(!api.system.isExported(volume))

            let created = try await api.createAttachment(volume, connector: testConnector, mode: "ro")
            #expect(created["attach_mode"].string == "ro")
            #expect(created["connection_info"]["access_mode"].string == "ro")
            #expect(api.system.target.current[api.system.iqn(volume)]?.readOnly == true)
        }
    }

    @Test("A read-only connector mode makes a read-only attachment of a writable volume")
    func readOnlyMode() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let created = try await api.createAttachment(volume, connector: testConnector, mode: "ro")
            #expect(created["attach_mode"].string == "ro")
            #expect(created["connection_info"]["access_mode"].string == "ro")
            #expect(api.system.target.current[api.system.iqn(volume)]?.readOnly == true)
            let mode = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(volume), "mode": "ro"]], version: "3.53")
            expectFault(mode, .badRequest, "mode")
        }
    }

    @Test("When the target cannot be reached: 503, the attachment in error_attaching, the volume available, a message")
    func targetDown() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            api.system.target.reachable = false
            let reply = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(volume), "connector": testConnector]],
                version: attachVersion)
            expectFault(reply, .serviceUnavailable, "cannot be reached")
            #expect(try await api.statuses(volume) == ["available", "detached"])
            let listed = try await api.get("/v3/attachments/detail?volume_id=\(volume)", version: "3.27").json["attachments"].array
            #expect(listed.count == 1)
            #expect(listed.first?["status"].string == "error_attaching")
            let messages = try await api.get("/v3/messages?resource_uuid=\(volume)", version: "3.3").json["messages"].array
            #expect(messages.count == 1)
            #expect(messages.first?["event_id"].string == "VOLUME_VOLUME_004_001")
            #expect(messages.first?["resource_type"].string == "VOLUME")
            #expect(messages.first?["user_message"].string?.hasPrefix("update attachment:") == true)
            #expect(!api.system.isExported(volume))

            // Once the target is back, the same attachment can be connected and completed.
            api.system.target.reachable = true
            let id = try #require(listed.first?["id"].string)
            let retry = try await api.put("/v3/attachments/\(id)", ["attachment": ["connector": testConnector]], version: "3.27")
            #expect(retry.status == .ok, "\(retry)")
            #expect(retry.json["attachment"]["status"].string == "attaching")
            #expect(api.system.isExported(volume))
            #expect(try await api.statuses(volume) == ["attaching", "attaching"])
        }
    }

    @Test("A failed export (driver failure) is a 500 fault and leaves the volume available")
    func exportFails() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try #require(try await api.createAttachment(volume)["id"].string)
            // Failing until told otherwise: the volume service's report rounds also export what attachments hold.
            api.system.target.fail(.createExport)
            let reply = try await api.put("/v3/attachments/\(id)", ["attachment": ["connector": testConnector]], version: "3.27")
            expectFault(reply, .internalServerError)
            api.system.target.succeed(.createExport)
            #expect(try await api.attachment(id)?["status"].string == "error_attaching")
            #expect(try await api.statuses(volume) == ["available", "detached"])
            // An attachment that never connected can be completed only after a connector was given.
            expectFault(try await api.post("/v3/attachments/\(id)/action", ["os-complete": nil], version: "3.44"), .badRequest)
            #expect(try await api.delete("/v3/attachments/\(id)", version: "3.27").status == .ok)
            #expect(try await api.statuses(volume) == ["available", "detached"])
        }
    }

    @Test("When the export cannot be removed, the delete fails and changes nothing; a retry succeeds")
    func removeFails() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.attach(volume)
            api.system.target.fail(.removeExport)
            expectFault(try await api.delete("/v3/attachments/\(id)", version: "3.27"), .internalServerError)
            api.system.target.succeed(.removeExport)
            #expect(try await api.attachment(id)?["status"].string == "attached")
            #expect(api.system.isExported(volume))
            #expect(try await api.statuses(volume) == ["in-use", "attached"])
            expectFault(try await api.delete("/v3/volumes/\(volume)"), .badRequest)
            // Deleting again once the target works removes the export and the attachment.
            #expect(try await api.delete("/v3/attachments/\(id)", version: "3.27").status == .ok)
            #expect(!api.system.isExported(volume))
            #expect(try await api.attachment(id) == nil)
            #expect(try await api.statuses(volume) == ["available", "detached"])
        }
    }

    @Test("A volume in error: create is 400, update is 409")
    func errorVolume() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try #require(try await api.createAttachment(volume)["id"].string)
            let reset = try await api.post("/v3/volumes/\(volume)/action", ["os-reset_status": ["status": "error"]])
            #expect(reset.status == .accepted)
            let update = try await api.put("/v3/attachments/\(id)", ["attachment": ["connector": testConnector]], version: "3.27")
            expectFault(update, .conflict, "error")
            #expect(try await api.attachment(id)?["status"].string == "reserved")
            let other = try await api.createAvailableVolume()
            _ = try await api.post("/v3/volumes/\(other)/action", ["os-reset_status": ["status": "error"]])
            let create = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(other)]], version: attachVersion)
            expectFault(create, .badRequest, "error")
            #expect(!api.system.isExported(volume))
        }
    }

    @Test("Malformed bodies are 400, unknown ids 404, and change nothing")
    func badRequests() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try #require(try await api.createAttachment(volume)["id"].string)
            let free = try await api.createAvailableVolume()
            for body: JSONValue in [
                ["attachment": [:]], ["attachment": ["volume_uuid": "x"]], ["attachment": ["volume_uuid": 5]],
                ["attachment": ["volume_uuid": .string(free), "instance_uuid": "x"]],
                ["attachment": ["volume_uuid": .string(free), "connector": "x"]],
                ["attachment": ["volume_uuid": .string(free), "connector": [1]]],
                ["attachment": ["volume_uuid": .string(free), "mode": "rx"]],
                ["attachment": ["volume_uuid": .string(free), "mode": nil]],
                ["attachment": ["volume_uuid": .string(free), "bogus": 1]], ["attachments": [:]], ["attachment": "x"],
            ] {
                expectFault(try await api.post("/v3/attachments", body, version: "3.54"), .badRequest)
            }
            #expect(try await api.statuses(free) == ["available", "detached"])
            #expect(try await api.get("/v3/attachments?volume_id=\(free)", version: "3.27").json["attachments"].array.isEmpty)
            // An empty connector is no connector: a reserve only.
            let empty = try await api.post(
                "/v3/attachments", ["attachment": ["volume_uuid": .string(free), "connector": [:]]], version: "3.54")
            #expect(empty.status == .ok, "\(empty)")
            #expect(empty.json["attachment"]["status"].string == "reserved")
            expectFault(
                try await api.post("/v3/attachments", ["attachment": ["volume_uuid": .string(randomID())]], version: "3.54"),
                .notFound)
            for body: JSONValue in [
                ["attachment": [:]], ["attachment": ["connector": [:]]], ["attachment": ["connector": nil]],
                ["attachment": ["connector": "x"]], ["attachment": ["connector": testConnector, "mode": "ro"]],
            ] {
                expectFault(try await api.put("/v3/attachments/\(id)", body, version: "3.54"), .badRequest)
            }
            expectFault(
                try await api.put("/v3/attachments/\(randomID())", ["attachment": ["connector": testConnector]], version: "3.54"),
                .notFound)
            for body: JSONValue in [[:], ["os-complete": [], "x": [:]], ["os-complete": "x"], ["os-fly": [:]]] {
                expectFault(try await api.post("/v3/attachments/\(id)/action", body, version: "3.54"), .badRequest)
            }
            // A reserved attachment has no connection to complete.
            expectFault(
                try await api.post("/v3/attachments/\(id)/action", ["os-complete": nil], version: "3.54"), .badRequest)
            expectFault(
                try await api.post("/v3/attachments/\(randomID())/action", ["os-complete": nil], version: "3.54"),
                .notFound)
            #expect(try await api.attachment(id)?["status"].string == "reserved")
            #expect(try await api.statuses(volume) == ["reserved", "reserved"])
            #expect(try await api.get("/v3/attachments", version: "3.27").json["attachments"].array.count == 2)
        }
    }
}
