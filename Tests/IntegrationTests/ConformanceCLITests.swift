import Foundation
import Testing

/// The API areas of the conformance work — QoS specs, transfers, extensions, encryption types, retype, group
/// types, groups and group snapshots — driven by the unchanged `openstack` and `cinder` clients.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ConformanceCLITests {
    /// The status of `openstack <kind> show <name>`.
    static func status(_ server: Server, _ kind: [String], _ name: String) async throws -> String? {
        // Volumes answer `status`; groups and group snapshots `Status`.
        let shown = try await server.openstackJSON(kind + ["show", name]) as? [String: Any]
        return shown?["status"] as? String ?? shown?["Status"] as? String
    }

    @Test func qosEncryptionRetypeTransfersAndExtensions() async throws {
        let server = try await Server.start()
        // QoS specs associated with a type, through openstack; read back through cinder.
        _ = try await server.openstackJSON("volume", "qos", "create", "--consumer", "front-end", "--property", "total_iops_sec=500", "q1")
        _ = try await server.openstackJSON("volume", "type", "create", "gold")
        #expect(try await server.openstack("volume", "qos", "associate", "q1", "gold").status == 0)
        let qos = try #require(try await server.openstackJSON("volume", "qos", "show", "q1") as? [String: Any])
        #expect(qos["associations"] as? [String] == ["gold"])
        #expect(qos["properties"] as? [String: String] == ["total_iops_sec": "500"])
        let qosList = try await server.cinder("qos-list")
        #expect(qosList.status == 0 && qosList.stdout.contains("total_iops_sec"), "\(qosList.stderr)")

        // An encrypted type, created and shown by both clients.
        let encrypted = try #require(
            try await server.openstackJSON(
                "volume", "type", "create", "--encryption-provider", "luks", "--encryption-cipher", "aes-xts-plain64",
                "--encryption-key-size", "256", "--encryption-control-location", "front-end", "secret") as? [String: Any])
        let encryption = try #require(encrypted["encryption"] as? [String: Any])
        #expect(encryption["provider"] as? String == "luks")
        #expect(encryption["key_size"] as? Int == 256)
        let encryptionList = try await server.cinder("encryption-type-list")
        #expect(encryptionList.status == 0 && encryptionList.stdout.contains("aes-xts-plain64"), "\(encryptionList.stderr)")

        // Retype through both clients: the type changes, the host does not.
        _ = try await server.openstackJSON("volume", "type", "create", "silver")
        let volume = try #require(try await server.openstackJSON("volume", "create", "--size", "1", "--type", "gold", "rv") as? [String: Any])
        let volumeID = try #require(volume["id"] as? String)
        #expect(try await server.eventually { try await Self.status(server, ["volume"], volumeID) == "available" })
        let host = (try await server.openstackJSON("volume", "show", volumeID) as? [String: Any])?["os-vol-host-attr:host"] as? String
        let set = try await server.openstack("volume", "set", "--type", "silver", "--migration-policy", "never", volumeID)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try await server.eventually {
            (try await server.openstackJSON("volume", "show", volumeID) as? [String: Any])?["type"] as? String == "silver"
        })
        let retyped = try await server.cinder("retype", volumeID, "gold")
        #expect(retyped.status == 0, "\(retyped.stderr)")
        #expect(try await server.eventually {
            let shown = try await server.openstackJSON("volume", "show", volumeID) as? [String: Any]
            return shown?["type"] as? String == "gold" && shown?["status"] as? String == "available"
        })
        #expect((try await server.openstackJSON("volume", "show", volumeID) as? [String: Any])?["os-vol-host-attr:host"] as? String == host)

        // A transfer offered through openstack and accepted by another project through cinder.
        let transfer = try #require(
            try await server.openstackJSON("volume", "transfer", "request", "create", "--name", "gift", volumeID) as? [String: Any])
        let transferID = try #require(transfer["id"] as? String)
        let key = try #require(transfer["auth_key"] as? String)
        #expect(try await Self.status(server, ["volume"], volumeID) == "awaiting-transfer")
        let accepted = try await server.cinder(asUser: "u2", project: "p2", ["transfer-accept", transferID, key])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let moved = try await server.api("GET", "/p2/volumes/\(volumeID)", token: "u2:p2")
        #expect((moved.json["volume"] as? [String: Any])?["status"] as? String == "available")
        #expect((moved.json["volume"] as? [String: Any])?["os-vol-tenant-attr:tenant_id"] as? String == "p2")

        let extensions = try await server.cinder("list-extensions")
        #expect(extensions.status == 0 && extensions.stdout.contains("os-volume-transfer") && extensions.stdout.contains("encryption"))
        #expect(await server.stop() == 0)
    }

    @Test func groupsThroughBothClients() async throws {
        let server = try await Server.start()
        _ = try await server.openstackJSON("volume", "type", "create", "t1")
        let groupType = try #require(try await server.openstackJSON("volume", "group", "type", "create", "gt1") as? [String: Any])
        #expect(groupType["Name"] as? String == "gt1")
        #expect(try await server.openstack("volume", "group", "type", "set", "--property", "k=v", "gt1").status == 0)
        #expect((try await server.openstackJSON("volume", "group", "type", "show", "gt1") as? [String: Any])?["Properties"] as? [String: String] == ["k": "v"])

        _ = try await server.openstackJSON("volume", "group", "create", "--volume-group-type", "gt1", "--volume-type", "t1", "--name", "g1")
        #expect(try await server.eventually { try await Self.status(server, ["volume", "group"], "g1") == "available" })
        let volume = try #require(try await server.openstackJSON("volume", "create", "--size", "1", "--type", "t1", "member") as? [String: Any])
        let volumeID = try #require(volume["id"] as? String)
        #expect(try await server.eventually { try await Self.status(server, ["volume"], volumeID) == "available" })
        let added = try await server.openstack("volume", "group", "add", "volume", "g1", volumeID)
        #expect(added.status == 0, "\(added.stderr)")
        let group = try #require(try await server.openstackJSON("volume", "group", "show", "g1") as? [String: Any])
        let groupID = try #require(group["ID"] as? String)
        #expect((try await server.openstackJSON("volume", "show", volumeID) as? [String: Any])?["group_id"] as? String == groupID)

        // A group snapshot, then groups made from it and from g1: each has a copy of the member.
        _ = try await server.openstackJSON("volume", "group", "snapshot", "create", "--name", "gs1", "g1")
        #expect(try await server.eventually { try await Self.status(server, ["volume", "group", "snapshot"], "gs1") == "available" })
        _ = try await server.openstackJSON("volume", "group", "create", "--group-snapshot", "gs1", "--name", "g2")
        let fromSource = try await server.cinder("group-create-from-src", "--source-group", groupID, "--name", "g3")
        #expect(fromSource.status == 0, "\(fromSource.stderr)")
        for name in ["g2", "g3"] {
            #expect(try await server.eventually { try await Self.status(server, ["volume", "group"], name) == "available" }, "\(name)")
        }
        let listed = try await server.cinder("group-list")
        #expect(listed.status == 0 && ["g1", "g2", "g3"].allSatisfy(listed.stdout.contains), "\(listed.stdout)")
        let snapshots = try await server.cinder("group-snapshot-list")
        #expect(snapshots.status == 0 && snapshots.stdout.contains("gs1"))
        let volumes = try await server.get("/admin/volumes/detail")["volumes"] as? [[String: Any]] ?? []
        #expect(volumes.count == 3, "one member and a copy in each of g2 and g3")

        // Deletes: g2 with its volume (openstack --force), the group snapshot, then g1 and g3 through cinder.
        #expect(try await server.openstack("volume", "group", "delete", "--force", "g2").status == 0)
        #expect(try await server.openstack("volume", "group", "snapshot", "delete", "gs1").status == 0)
        #expect(try await server.eventually {
            (try await server.openstackJSON("volume", "group", "snapshot", "list") as? [[String: Any]] ?? []).isEmpty
        })
        let g3 = try #require(
            (try await server.openstackJSON("volume", "group", "list") as? [[String: Any]] ?? []).first { $0["Name"] as? String == "g3" }?["ID"] as? String)
        let deleted = try await server.cinder("group-delete", "--delete-volumes", groupID, g3)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(try await server.eventually {
            let groups = try await server.openstackJSON("volume", "group", "list") as? [[String: Any]] ?? []
            let left = try await server.get("/admin/volumes/detail")["volumes"] as? [[String: Any]] ?? []
            return groups.isEmpty && left.isEmpty
        })
        let files = try FileManager.default.contentsOfDirectory(atPath: server.stateDirectory.appendingPathComponent("state/volumes").path)
        #expect(!files.contains { $0.hasPrefix("volume-") || $0.hasPrefix("snapshot-") }, "\(files)")
        #expect(await server.stop() == 0)
    }

    @Test func migrateAndRetypeAcrossBackendsThroughBothClients() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("ashlar.conf")
        try """
            [DEFAULT]
            enabled_backends = file-1,file-2
            report_interval = 1

            [file-1]
            volume_driver = file
            volume_backend_name = file-1

            [file-2]
            volume_driver = file
            volume_backend_name = file-2
            """.write(to: config, atomically: true, encoding: .utf8)
        let server = try await Server.start(extraArguments: ["--config-file", config.path])
        _ = try await server.openstackJSON("volume", "type", "create", "--property", "volume_backend_name=file-1", "one")
        _ = try await server.openstackJSON("volume", "type", "create", "--property", "volume_backend_name=file-2", "two")
        _ = try await server.openstackJSON("volume", "type", "create", "anywhere")
        func show(_ id: String) async throws -> [String: Any] {
            // The API's own view: openstack's table leaves migration_status out.
            try #require(try await server.get("/admin/volumes/\(id)")["volume"] as? [String: Any])
        }

        // Retype on demand moves the volume to the backend the new type names, through openstack.
        let volume = try #require(try await server.openstackJSON("volume", "create", "--size", "1", "--type", "one", "mv") as? [String: Any])
        let id = try #require(volume["id"] as? String)
        #expect(try await server.eventually { try await show(id)["status"] as? String == "available" })
        #expect((try await show(id)["os-vol-host-attr:host"] as? String)?.contains("@file-1#") == true)
        let retype = try await server.openstack("volume", "set", "--type", "two", "--migration-policy", "on-demand", id)
        #expect(retype.status == 0, "\(retype.stderr)")
        #expect(try await server.eventually {
            let shown = try await show(id)
            return shown["volume_type"] as? String == "two" && shown["migration_status"] as? String == "success"
                && shown["status"] as? String == "available"
        }, "\(server.log.suffix(2000))")
        let host = try #require(try await show(id)["os-vol-host-attr:host"] as? String)
        #expect(host.contains("@file-2#"))

        // An administrator's move back to file-1 of a volume whose type takes any backend, through cinder.
        let free = try #require(try await server.openstackJSON("volume", "create", "--size", "1", "--type", "anywhere", "free") as? [String: Any])
        let freeID = try #require(free["id"] as? String)
        #expect(try await server.eventually { try await show(freeID)["status"] as? String == "available" })
        let from = try #require(try await show(freeID)["os-vol-host-attr:host"] as? String)
        let to = from.contains("@file-1#") ? from.replacingOccurrences(of: "file-1", with: "file-2")
            : from.replacingOccurrences(of: "file-2", with: "file-1")
        let migrated = try await server.cinder("migrate", freeID, to)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(try await server.eventually {
            let shown = try await show(freeID)
            return shown["os-vol-host-attr:host"] as? String == to && shown["migration_status"] as? String == "success"
        }, "\(server.log.suffix(2000))")
        // Each volume's file is on its backend now, and only there.
        let files = try FileManager.default.subpathsOfDirectory(atPath: server.stateDirectory.appendingPathComponent("state").path)
            .filter { $0.contains("volume-") }
        #expect(files.filter { $0.hasSuffix("volume-\(id)") }.count == 1, "\(files)")
        #expect(files.filter { $0.hasSuffix("volume-\(freeID)") }.count == 1, "\(files)")
        #expect(await server.stop() == 0)
    }
}
