import AshlarCore
import AshlarTestSupport
import AshlarVolume
import Foundation
import Testing

/// Attach and detach over real iSCSI: `ashlar serve` exporting through a tgtd of the test's own, the real `cinder`
/// client and the raw API as Nova calls it, and qemu-img (libiscsi) as the initiator moving real bytes with CHAP.
@Suite(
    .serialized, .timeLimit(.minutes(10)),
    .enabled(if: TestTgtd.isAvailable, "needs root, tgtd/tgtadm and qemu-img with its iSCSI driver (scripts/setup-test-env)"))
struct AttachTests {
    static let initiator = "iqn.1994-05.com.ashlar.test:host1"
    nonisolated(unsafe) static let connector: [String: Any] = [
        "initiator": initiator, "ip": "127.0.0.1", "host": "host1", "platform": "x86_64", "os_type": "linux",
        "multipath": false,
    ]

    /// Runs `body` with a tgtd and an `ashlar serve` whose file backend exports through it.
    func withAttachableServer(
        reportInterval: Int = 60, _ body: (Server, TestTgtd, URL) async throws -> Void
    ) async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-attach-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let tgtd = try await TestTgtd.start(logDirectory: work)
        do {
            let config = work.appendingPathComponent("ashlar.conf")
            try Self.config(tgtd, reportInterval: reportInterval).write(to: config, atomically: true, encoding: .utf8)
            let server = try await Server.start(extraArguments: ["--config-file", config.path])
            try await body(server, tgtd, config)
            await server.stop()
        } catch {
            await tgtd.stop()
            throw error
        }
        await tgtd.stop()
    }

    static func config(_ tgtd: TestTgtd, reportInterval: Int) -> String {
        """
        [DEFAULT]
        enabled_backends = file-1
        report_interval = \(reportInterval)

        [file-1]
        volume_driver = file
        target_helper = tgtadm
        target_ip_address = 127.0.0.1
        target_port = \(tgtd.portalPort)
        tgt_control_port = \(tgtd.controlPort)
        """
    }

    /// The connection a backend answered: portal, IQN, LUN and CHAP credentials.
    struct Connection {
        var portal: String
        var iqn: String
        var lun: Int
        var user: String
        var password: String
        var accessMode: String

        /// From `os-initialize_connection`'s `{"driver_volume_type", "data": {…}}`, or from an attachment's
        /// `connection_info`, which Cinder flattens (the data's keys beside `driver_volume_type`).
        init(_ info: [String: Any]) throws {
            #expect(info["driver_volume_type"] as? String == "iscsi", "\(info)")
            let data = info["data"] as? [String: Any] ?? info
            portal = try #require(data["target_portal"] as? String)
            iqn = try #require(data["target_iqn"] as? String)
            lun = try #require(data["target_lun"] as? Int)
            #expect(data["auth_method"] as? String == "CHAP")
            user = try #require(data["auth_username"] as? String)
            password = try #require(data["auth_password"] as? String)
            accessMode = data["access_mode"] as? String ?? "?"
        }

        func url(password: String? = nil, user: String? = nil) -> String {
            "iscsi://\(user ?? self.user)%\(password ?? self.password)@\(portal)/\(iqn)/\(lun)"
        }
    }

    /// qemu-img over iSCSI: writes `data` at the start of the LUN.
    func write(_ data: Data, to url: String, in work: URL) async throws -> Harness.Output {
        let file = work.appendingPathComponent("pattern-\(UUID().uuidString)")
        try data.write(to: file)
        return try await Harness.run(
            "/usr/bin/qemu-img", ["convert", "-n", "-f", "raw", "-O", "raw", file.path, url], timeout: .seconds(60))
    }

    /// qemu-img over iSCSI: the first `count` bytes of the LUN, or nil when login or read fails.
    func read(_ count: Int, from url: String, in work: URL) async throws -> Data? {
        let file = work.appendingPathComponent("read-\(UUID().uuidString)")
        let out = try await Harness.run(
            "/usr/bin/qemu-img",
            ["dd", "-f", "raw", "-O", "raw", "bs=\(count)", "count=1", "if=\(url)", "of=\(file.path)"],
            timeout: .seconds(60))
        guard out.status == 0 else { return nil }
        return try Data(contentsOf: file).prefix(count)
    }

    func pattern(_ text: String) -> Data {
        var data = Data(repeating: 0, count: 4096)
        data.replaceSubrange(0..<text.utf8.count, with: Data(text.utf8))
        return data
    }

    func volumeFile(_ server: Server, _ id: String) -> String {
        server.stateDirectory.appendingPathComponent("state/volumes/volume-\(id)").path
    }

    func createVolume(_ server: Server, _ name: String, size: Int = 1, type: String? = nil) async throws -> String {
        var arguments = ["volume", "create", "--size", String(size)]
        if let type { arguments += ["--type", type] }
        let created = try #require(try await server.openstackJSON(arguments + [name]) as? [String: Any])
        let id = try #require(created["id"] as? String)
        let ready = try await server.eventually {
            (try await server.api("GET", "/admin/volumes/\(id)").json["volume"] as? [String: Any])?["status"] as? String
                == "available"
        }
        try #require(ready, "volume \(name) never became available:\n\(server.log)")
        return id
    }

    func volume(_ server: Server, _ id: String) async throws -> [String: Any] {
        try await server.api("GET", "/admin/volumes/\(id)").json["volume"] as? [String: Any] ?? [:]
    }

    /// The attachments API as the cinder client drives it: create with this host's connector, show, complete.
    func attachWithCinder(_ server: Server, _ volume: String, mode: String = "rw") async throws -> (id: String, connection: Connection) {
        let create = try await server.cinder(
            "attachment-create", "--connect", "True", "--initiator", Self.initiator, "--ip", "127.0.0.1", "--host",
            "host1", "--mode", mode, volume)
        try #require(create.status == 0, "cinder attachment-create: \(create.stderr)\n\(server.log)")
        let listed = try await server.api("GET", "/admin/attachments?volume_id=\(volume)").json
        let id = try #require(((listed["attachments"] as? [[String: Any]])?.first?["id"]) as? String, "\(listed)")
        let complete = try await server.cinder("attachment-complete", id)
        #expect(complete.status == 0, "cinder attachment-complete: \(complete.stderr)")
        let shown = try await server.api("GET", "/admin/attachments/\(id)").json["attachment"] as? [String: Any] ?? [:]
        return (id, try Connection(try #require(shown["connection_info"] as? [String: Any], "\(shown)")))
    }

    @Test func attachmentsThroughTheCinderClientMoveRealBytes() async throws {
        try await withAttachableServer { server, _, config in
            let work = config.deletingLastPathComponent()
            let id = try await createVolume(server, "data")
            let other = try await createVolume(server, "other")
            let (attachment, connection) = try await attachWithCinder(server, id)
            let v = try await volume(server, id)
            #expect(v["status"] as? String == "in-use")
            #expect((v["attachments"] as? [[String: Any]])?.first?["attachment_id"] as? String == attachment)
            #expect(connection.accessMode == "rw")

            // Real bytes over iSCSI with the volume's CHAP credentials land in the volume's file.
            let written = try await write(pattern("ASHLAR-OVER-ISCSI"), to: connection.url(), in: work)
            #expect(written.status == 0, "\(written.stderr)")
            let onDisk = try FileHandle(forReadingFrom: URL(fileURLWithPath: volumeFile(server, id))).read(upToCount: 17)
            #expect(onDisk == Data("ASHLAR-OVER-ISCSI".utf8))
            #expect(try await read(17, from: connection.url(), in: work) == Data("ASHLAR-OVER-ISCSI".utf8))

            // A wrong secret, and another volume's credentials, are refused at login.
            let wrong = try await read(16, from: connection.url(password: "not-the-secret"), in: work)
            #expect(wrong == nil)
            let (otherAttachment, otherConnection) = try await attachWithCinder(server, other)
            #expect(otherConnection.user != connection.user || otherConnection.password != connection.password)
            let crossed = try await read(
                16, from: connection.url(password: otherConnection.password, user: otherConnection.user), in: work)
            #expect(crossed == nil, "another volume's credentials opened this volume")

            // A second attachment of a volume that is not multiattach is refused, and changes nothing.
            let second = try await server.api(
                "POST", "/admin/attachments", ["attachment": ["volume_uuid": id, "connector": Self.connector]])
            #expect(second.status == 400, "\(second)")

            // Detach: the volume is available again and the export is gone: login is refused.
            let delete = try await server.cinder("attachment-delete", attachment)
            #expect(delete.status == 0, "\(delete.stderr)")
            #expect(try await volume(server, id)["status"] as? String == "available")
            #expect(try await read(16, from: connection.url(), in: work) == nil, "the export outlived the attachment")
            #expect(try await server.cinder("attachment-delete", otherAttachment).status == 0)

            // The bytes stay in the volume, in a snapshot of it, and in a volume made from that.
            #expect(try await server.openstack("volume", "snapshot", "create", "--volume", "data", "snap").status == 0)
            let snapped = try await server.eventually {
                (try await server.openstackJSON("volume", "snapshot", "show", "snap") as? [String: Any])?["status"]
                    as? String == "available"
            }
            #expect(snapped)
            let copy = try #require(try await server.openstackJSON("volume", "create", "--snapshot", "snap", "copy") as? [String: Any])
            let copyID = try #require(copy["id"] as? String)
            #expect(try await server.eventually { try await volume(server, copyID)["status"] as? String == "available" })
            let copied = try FileHandle(forReadingFrom: URL(fileURLWithPath: volumeFile(server, copyID))).read(upToCount: 17)
            #expect(copied == Data("ASHLAR-OVER-ISCSI".utf8))
        }
    }

    @Test func legacyActionsAsNovaSendsThem() async throws {
        try await withAttachableServer { server, _, config in
            let work = config.deletingLastPathComponent()
            let id = try await createVolume(server, "legacy")
            let action = "/admin/volumes/\(id)/action"
            #expect(try await server.api("POST", action, ["os-reserve": NSNull()]).status == 202)
            #expect(try await volume(server, id)["status"] as? String == "attaching")
            let initialized = try await server.api("POST", action, ["os-initialize_connection": ["connector": Self.connector]])
            #expect(initialized.status == 200, "\(initialized)")
            let connection = try Connection(try #require(initialized.json["connection_info"] as? [String: Any]))
            let instance = UUID().uuidString.lowercased()
            let attach = try await server.api(
                "POST", action, ["os-attach": ["mountpoint": "/dev/vdb", "instance_uuid": instance, "mode": "rw"]])
            #expect(attach.status == 202, "\(attach)")
            let attached = try await volume(server, id)
            #expect(attached["status"] as? String == "in-use")
            #expect((attached["attachments"] as? [[String: Any]])?.first?["server_id"] as? String == instance)
            #expect(try await write(pattern("LEGACY"), to: connection.url(), in: work).status == 0)

            #expect(try await server.api("POST", action, ["os-begin_detaching": NSNull()]).status == 202)
            #expect(try await volume(server, id)["status"] as? String == "detaching")
            #expect(try await server.api("POST", action, ["os-roll_detaching": NSNull()]).status == 202)
            #expect(try await volume(server, id)["status"] as? String == "in-use")
            #expect(try await server.api("POST", action, ["os-begin_detaching": NSNull()]).status == 202)
            #expect(try await server.api("POST", action, ["os-detach": NSNull()]).status == 202)
            #expect(try await server.api("POST", action, ["os-terminate_connection": ["connector": Self.connector]]).status == 202)
            #expect(try await volume(server, id)["status"] as? String == "available")
            #expect(try await read(6, from: connection.url(), in: work) == nil, "login still works after detach")
            let onDisk = try FileHandle(forReadingFrom: URL(fileURLWithPath: volumeFile(server, id))).read(upToCount: 6)
            #expect(onDisk == Data("LEGACY".utf8))
        }
    }

    @Test func exportsComeBackAfterAshlarAndTgtdRestart() async throws {
        try await withAttachableServer(reportInterval: 2) { server, tgtd, config in
            let work = config.deletingLastPathComponent()
            let id = try await createVolume(server, "survivor")
            let (_, connection) = try await attachWithCinder(server, id)
            #expect(try await write(pattern("SURVIVES-RESTARTS"), to: connection.url(), in: work).status == 0)

            // tgtd crashes and comes back empty: within a report interval Ashlar exports the volume again.
            try await tgtd.restart()
            let back = try await server.eventually(.seconds(30)) {
                try await read(17, from: connection.url(), in: work) == Data("SURVIVES-RESTARTS".utf8)
            }
            #expect(back, "the export did not come back after tgtd restarted:\n\(server.log)")

            // Both stop; both start again: the new Ashlar restores the export on start, with the same credentials.
            server.removesState = false
            #expect(await server.stop() == 0)
            try await tgtd.restart()
            let again = try await Server.start(
                extraArguments: ["--config-file", config.path], stateDirectory: server.stateDirectory)
            let restored = try await again.eventually(.seconds(30)) {
                try await read(17, from: connection.url(), in: work) == Data("SURVIVES-RESTARTS".utf8)
            }
            #expect(restored, "the export did not come back after Ashlar restarted:\n\(again.log)")
            #expect(try await volume(again, id)["status"] as? String == "in-use")
            await again.stop()
        }
    }

    @Test func readOnlyAttachRefusesWrites() async throws {
        try await withAttachableServer { server, _, config in
            let work = config.deletingLastPathComponent()
            let id = try await createVolume(server, "reader")
            try pattern("ORIGINAL").write(to: URL(fileURLWithPath: volumeFile(server, id)))
            let (attachment, connection) = try await attachWithCinder(server, id, mode: "ro")
            #expect(connection.accessMode == "ro")
            #expect(try await read(8, from: connection.url(), in: work) == Data("ORIGINAL".utf8))
            let write = try await write(pattern("OVERWRITE"), to: connection.url(), in: work)
            #expect(write.status != 0, "a read-only attachment took a write")
            let onDisk = try FileHandle(forReadingFrom: URL(fileURLWithPath: volumeFile(server, id))).read(upToCount: 8)
            #expect(onDisk == Data("ORIGINAL".utf8))
            #expect(try await server.cinder("attachment-delete", attachment).status == 0)
        }
    }

    @Test func anUnreachableTargetIsReportedAndAttachFailsCleanly() async throws {
        try await withAttachableServer(reportInterval: 1) { server, tgtd, _ in
            let id = try await createVolume(server, "stranded")
            await tgtd.stop()
            // The pools say why once the next report sees tgtd gone; the storage itself stays up (3.49).
            let down = try await server.eventually(.seconds(20)) {
                let pools = try await server.api("GET", "/admin/scheduler-stats/get_pools?detail=true").json["pools"]
                    as? [[String: Any]] ?? []
                return pools.contains {
                    ($0["capabilities"] as? [String: Any])?["iscsi_target_state"] as? String == "down"
                }
            }
            #expect(down, "\(server.log)")
            let services = try await server.api("GET", "/admin/os-services", version: "3.49").json["services"]
                as? [[String: Any]] ?? []
            #expect(services.contains { $0["binary"] as? String == "cinder-volume" && $0["backend_state"] as? String == "up" })
            #expect(server.log.components(separatedBy: "attaching waits for the iSCSI target daemon").count == 2, "said once")
            let attach = try await server.api(
                "POST", "/admin/attachments", ["attachment": ["volume_uuid": id, "connector": Self.connector]])
            #expect(attach.status >= 400 && attach.status < 600 && attach.status != 500, "\(attach)")
            #expect(try await volume(server, id)["status"] as? String == "available")
            let messages = try await server.api("GET", "/admin/messages", version: "3.3").json["messages"] as? [[String: Any]] ?? []
            #expect(messages.contains { ($0["resource_uuid"] as? String) == id }, "\(messages)")
        }
    }

    @Test func ashlarAttachAndDetachWithoutNova() async throws {
        try await withAttachableServer { server, _, config in
            let work = config.deletingLastPathComponent()
            let id = try await createVolume(server, "by-hand")
            let attach = try await Harness.run(
                Harness.binary, ["attach", "by-hand", "--os-endpoint", server.url, "--host", "bench-host"])
            #expect(attach.status == 0, "\(attach.stdout)\n\(attach.stderr)\n\(server.log)")
            func field(_ name: String) -> String? {
                attach.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }
                    .map { $0.dropFirst(name.count).trimmingCharacters(in: .whitespaces) }
            }
            let url = try #require(field("url"), "\(attach.stdout)")
            let attachment = try #require(field("attachment"), "\(attach.stdout)")
            #expect(url.hasPrefix("iscsi://") && url.contains("@127.0.0.1:"), "\(url)")
            #expect(try await volume(server, id)["status"] as? String == "in-use")

            // The printed URL is all QEMU needs.
            #expect(try await write(pattern("BY-HAND"), to: url, in: work).status == 0)
            let onDisk = try FileHandle(forReadingFrom: URL(fileURLWithPath: volumeFile(server, id))).read(upToCount: 7)
            #expect(onDisk == Data("BY-HAND".utf8))

            let detach = try await Harness.run(Harness.binary, ["detach", attachment, "--os-endpoint", server.url])
            #expect(detach.status == 0, "\(detach.stderr)")
            #expect(try await volume(server, id)["status"] as? String == "available")
            #expect(try await read(7, from: url, in: work) == nil, "the export outlived ashlar detach")

            // An endpoint naming a project, as a service catalog gives it, is that project's: no --os-project needed.
            let made = try await server.api(
                "POST", "/tenant2/volumes", ["volume": ["size": 1, "name": "theirs"]], token: "admin:tenant2")
            let theirs = try #require((made.json["volume"] as? [String: Any])?["id"] as? String, "\(made)")
            #expect(try await server.eventually {
                (try await server.api("GET", "/tenant2/volumes/\(theirs)", token: "admin:tenant2").json["volume"] as? [String: Any])?["status"]
                    as? String == "available"
            })
            let scoped = try await Harness.run(
                Harness.binary, ["attach", theirs, "--os-endpoint", server.url + "/tenant2", "--host", "bench-host"])
            #expect(scoped.status == 0, "\(scoped.stdout)\n\(scoped.stderr)")
            let scopedAttachment = try #require(
                scoped.stdout.split(separator: "\n").first { $0.hasPrefix("attachment ") }.map {
                    $0.dropFirst("attachment".count).trimmingCharacters(in: .whitespaces)
                }, "\(scoped.stdout)")
            let scopedDetach = try await Harness.run(
                Harness.binary, ["detach", scopedAttachment, "--os-endpoint", server.url + "/tenant2/"])
            #expect(scopedDetach.status == 0, "\(scopedDetach.stderr)")

            // A volume that does not exist: a message and a failing exit, nothing made.
            let missing = try await Harness.run(Harness.binary, ["attach", "no-such-volume", "--os-endpoint", server.url])
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("no-such-volume"), "\(missing.stderr)")
        }
    }

    /// Ashlar killed while connecting or detaching (kill -9 at each attach crash point), started again: the
    /// attachment is failed or removed, the volume follows, no export is left that nothing holds, and the volume
    /// attaches again and moves bytes.
    @Test(arguments: [CrashPoint.attachConnecting, .volumeAttachExported, .detachDetached, .volumeDetachUnexported])
    func crashWhileAttachingOrDetaching(point: CrashPoint) async throws {
        try await withAttachableServer { server, tgtd, config in
            let work = config.deletingLastPathComponent()
            let arguments = ["--config-file", config.path]
            let id = try await createVolume(server, "crash-\(point.rawValue)")
            let detaching = point == .detachDetached || point == .volumeDetachUnexported
            var attachment: String?
            var connection: Connection?
            if detaching { (attachment, connection) = try await attachWithCinder(server, id) }
            server.removesState = false
            await server.stop()

            let armed = try await Server.start(
                extraArguments: arguments, stateDirectory: server.stateDirectory,
                environment: ["ASHLAR_CRASH_AT": point.rawValue])
            armed.removesState = false
            if let attachment {
                _ = try? await armed.api("DELETE", "/admin/attachments/\(attachment)", version: "3.44")
            } else {
                _ = try? await armed.api(
                    "POST", "/admin/attachments", ["attachment": ["volume_uuid": id, "connector": Self.connector]],
                    version: "3.54")
            }
            let died = try await armed.eventually(.seconds(30)) { armed.hasExited }
            #expect(died, "\(point.rawValue) was never reached:\n\(armed.log.suffix(1500))")

            let again = try await Server.start(extraArguments: arguments, stateDirectory: server.stateDirectory)
            let settled = try await again.eventually(.seconds(30)) {
                try await volume(again, id)["status"] as? String == "available"
            }
            let now = try await volume(again, id)
            #expect(settled, "\(point.rawValue): \(now)\n\(again.log.suffix(1500))")
            let left = try await again.api("GET", "/admin/attachments?volume_id=\(id)").json["attachments"]
                as? [[String: Any]] ?? []
            #expect(left.allSatisfy { $0["status"] as? String == "error_attaching" }, "\(point.rawValue): \(left)")
            if detaching { #expect(left.isEmpty, "\(point.rawValue): the detached attachment was not removed") }
            let exports = try await tgtd.target.exports()
            #expect(exports.keys.allSatisfy { !$0.hasSuffix(id) }, "\(point.rawValue): an export nobody holds is left")
            if let connection {
                #expect(try await read(4, from: connection.url(), in: work) == nil, "the old connection still logs in")
            }
            // And it attaches again, moving real bytes.
            let (_, fresh) = try await attachWithCinder(again, id)
            #expect(try await write(pattern("AFTER-THE-CRASH"), to: fresh.url(), in: work).status == 0)
            #expect(try await read(15, from: fresh.url(), in: work) == Data("AFTER-THE-CRASH".utf8))
            await again.stop()
        }
    }

    @Test func anAttachedVolumeGrowsFrom342() async throws {
        try await withAttachableServer { server, _, config in
            let work = config.deletingLastPathComponent()
            let id = try await createVolume(server, "growing")
            let (attachment, connection) = try await attachWithCinder(server, id)
            #expect(try await write(pattern("KEPT-ACROSS-EXTEND"), to: connection.url(), in: work).status == 0)
            // Before 3.42 an attached volume does not grow.
            let old = try await server.api("POST", "/admin/volumes/\(id)/action", ["os-extend": ["new_size": 2]], version: "3.41")
            #expect(old.status == 400, "\(old)")
            let extend = try await server.api("POST", "/admin/volumes/\(id)/action", ["os-extend": ["new_size": 2]], version: "3.42")
            #expect(extend.status == 202, "\(extend)")
            let grown = try await server.eventually {
                let v = try await volume(server, id)
                return v["size"] as? Int == 2 && v["status"] as? String == "in-use"
            }
            #expect(grown, "\(server.log)")
            // The export was made again at the new size, with the same credentials; the data is there.
            let info = try await Harness.run("/usr/bin/qemu-img", ["info", "--output=json", connection.url()])
            #expect(info.status == 0, "\(info.stderr)")
            let size = (try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["virtual-size"] as? Int
            #expect(size == 2 << 30, "\(info.stdout)")
            #expect(try await read(18, from: connection.url(), in: work) == Data("KEPT-ACROSS-EXTEND".utf8))
            #expect(try await server.cinder("attachment-delete", attachment).status == 0)
        }
    }
}
