import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Testing

@testable import AshlarVolume

/// The volume manager's side of attach, against the in-memory target: exports, CHAP kept across attaches, the
/// export's end with the last attachment, and exports restored after the target daemon lost them.
@Suite("VolumeManager attach", .timeLimit(.minutes(2)))
struct VolumeManagerAttachTests {
    static let connector: [String: JSONValue] = ["initiator": "iqn.1994-05.com.test:h1", "host": "h1", "ip": "127.0.0.1"]

    func initialize(_ h: Harness, _ id: String, mode: String = "rw", attachment: String? = nil) async throws
        -> [String: JSONValue]
    {
        try await h.client.initializeConnection(
            host: Harness.poolHost,
            .init(volumeID: id, connector: Self.connector, mode: mode, attachmentID: attachment), context: testContext)
    }

    @Test("initialize_connection exports the volume file behind CHAP and answers Cinder's iSCSI connection info")
    func initialize() async throws {
        try await withHarness { h async throws in
            let target = FakeISCSITarget()
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver, target: target))
            #expect(ready)
            let v = h.volume(status: .available)
            try await h.volumes.insert(v)
            let info = try await initialize(h, v.id)
            #expect(info["driver_volume_type"] == "iscsi")
            let data = try #require(info["data"]?.objectValue)
            let iqn = "iqn.2010-10.org.openstack:volume-\(v.id)"
            #expect(data["target_iqn"] == .string(iqn))
            #expect(data["target_portal"] == "127.0.0.1:3260")
            #expect(data["target_lun"] == 1)
            #expect(data["auth_method"] == "CHAP")
            #expect(data["access_mode"] == "rw")
            let export = try #require(target.current[iqn])
            #expect(export.path == h.fileDriver.path(for: v.id))
            #expect(export.chapUser == data["auth_username"]?.stringValue)
            #expect(export.readOnly == false)
            // The credentials are the volume's: kept, and given again on the next attach.
            let stored = try #require(try await h.volumes.get(v.id))
            #expect(stored.providerAuth == "CHAP \(data["auth_username"]?.stringValue ?? "") \(data["auth_password"]?.stringValue ?? "")")
            #expect(stored.providerLocation == "127.0.0.1:3260,1 \(iqn) 1")
            let again = try await initialize(h, v.id)
            #expect(again["data"]?.objectValue?["auth_password"] == data["auth_password"])
            #expect(await running.stop())
        }
    }

    @Test("a read-only volume, or a read-only attachment alone, is exported read-only")
    func readOnly() async throws {
        try await withHarness { h async throws in
            let target = FakeISCSITarget()
            let (running, _) = try await h.start(h.manager(driver: h.fileDriver, target: target))
            var locked = h.volume(status: .available)
            locked.adminMetadata = ["readonly": "True"]
            try await h.volumes.insert(locked)
            let info = try await initialize(h, locked.id)
            #expect(info["data"]?.objectValue?["access_mode"] == "ro")
            #expect(target.current["iqn.2010-10.org.openstack:volume-\(locked.id)"]?.readOnly == true)
            let plain = h.volume(status: .available)
            try await h.volumes.insert(plain)
            #expect(try await initialize(h, plain.id, mode: "ro")["data"]?.objectValue?["access_mode"] == "ro")
            #expect(await running.stop())
        }
    }

    @Test("terminate_connection keeps the export while another attachment lives, removes it with the last")
    func terminate() async throws {
        try await withHarness { h async throws in
            let target = FakeISCSITarget()
            let (running, _) = try await h.start(h.manager(driver: h.fileDriver, target: target))
            let v = h.volume(status: .inUse)
            try await h.volumes.insert(v)
            let store = AttachmentStore(db: h.db)
            let first = Attachment(volumeID: v.id, projectID: v.projectID, status: .attached)
            let second = Attachment(volumeID: v.id, projectID: v.projectID, status: .attached)
            #expect(try await store.insert(first))
            #expect(try await store.insert(second))
            _ = try await initialize(h, v.id, attachment: first.id)
            let iqn = "iqn.2010-10.org.openstack:volume-\(v.id)"
            try await h.client.terminateConnection(
                host: Harness.poolHost, .init(volumeID: v.id, connector: Self.connector, attachmentID: first.id),
                context: testContext)
            #expect(target.current[iqn] != nil, "the export went while the second attachment still needs it")
            try await store.delete(first.id)
            // As the API does: the attachment leaves the live ones before its connection ends, so the periodic
            // ensure_export does not put the export back.
            try await store.apply(.detached, to: second.id)
            try await h.client.terminateConnection(
                host: Harness.poolHost, .init(volumeID: v.id, connector: Self.connector, attachmentID: second.id),
                context: testContext)
            #expect(target.current[iqn] == nil)
            #expect(try await h.volumes.get(v.id)?.providerLocation == nil)
            #expect(await running.stop())
        }
    }

    @Test("exports lost by the target daemon come back with the same credentials; an unreachable target is reported")
    func ensureExport() async throws {
        try await withHarness { h async throws in
            let (scheduler, schedulerRunning, listening) = try await h.fakeScheduler()
            #expect(listening)
            /// The target's state in the latest capability report: backend level and first pool.
            func reportedTarget() throws -> (backend: String?, pool: String?, reason: String?, storage: String?)? {
                guard let message = scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).last else {
                    return nil
                }
                let caps = try message.arguments(SchedulerRPC.CapabilityReport.self).capabilities
                let pool = caps["pools"]?.arrayValue?.first?.objectValue
                return (
                    caps["iscsi_target_state"]?.stringValue, pool?["iscsi_target_state"]?.stringValue,
                    caps["iscsi_target_state_reason"]?.stringValue, pool?["backend_state"]?.stringValue
                )
            }
            let target = FakeISCSITarget()
            let (running, _) = try await h.start(h.manager(driver: h.fileDriver, reportInterval: .milliseconds(50), target: target))
            let v = h.volume(status: .inUse)
            try await h.volumes.insert(v)
            let attachment = Attachment(volumeID: v.id, projectID: v.projectID, status: .attached)
            #expect(try await AttachmentStore(db: h.db).insert(attachment))
            let info = try await initialize(h, v.id, attachment: attachment.id)
            let iqn = "iqn.2010-10.org.openstack:volume-\(v.id)"
            target.simulateRestart()
            #expect(target.current[iqn] == nil)
            let back = try await eventually { target.current[iqn] != nil }
            #expect(back, "the export was not restored")
            #expect(target.current[iqn]?.chapUser == info["data"]?.objectValue?["auth_username"]?.stringValue)

            target.reachable = false
            // The storage is fine, so the backend stays up; the report says attaching waits for the daemon.
            let down = try await eventually {
                let state = try reportedTarget()
                return state?.backend == "down" && state?.pool == "down"
            }
            #expect(down)
            #expect(try reportedTarget()?.reason?.contains("attaching waits for the iSCSI target daemon") == true)
            #expect(try reportedTarget()?.storage == "up")
            #expect(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary)?.backendState == "up")
            await #expect(throws: AshlarError.self) { _ = try await initialize(h, v.id) }
            target.reachable = true
            let up = try await eventually {
                let state = try reportedTarget()
                return state?.backend == "up" && state?.pool == "up" && state?.reason == nil
            }
            #expect(up)
            #expect(await running.stop())
            #expect(await schedulerRunning.stop())
        }
    }
}
