import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import ServiceLifecycle
import Testing

@testable import AshlarVolume

#if canImport(Glibc)
import Glibc
#endif

@Suite("VolumeManager", .timeLimit(.minutes(2)))
struct VolumeManagerTests {
    private static let gib: Int64 = 1 << 30

    @Test("run registers the cinder-volume service and heartbeats until cancelled")
    func registersAndHeartbeats() async throws {
        try await withHarness { h async throws in
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver))
            #expect(ready)
            let first = try #require(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary))
            #expect(first.binary == "cinder-volume")
            #expect(first.host == "node@backend")
            #expect(first.topic == VolumeRPC.topic)
            #expect(first.availabilityZone == Harness.zone)
            #expect(first.disabled == false)
            #expect(try await h.waitForReports(first.reportCount + 2), "heartbeats keep coming")
            let later = try #require(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary))
            #expect(later.backendState == "up")
            #expect(try #require(later.updatedAt) > first.createdAt)
            // doSetup made the volume directory.
            #expect(FileManager.default.fileExists(atPath: h.volumeDir))
            #expect(await running.stop())
            // After the stop, no more heartbeats.
            let stopped = try #require(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary))
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary)?.reportCount == stopped.reportCount)
            #expect(try await h.services.list().count == 1)
        }
    }

    @Test("a create_volume cast makes the file and marks the volume available")
    func createVolume() async throws {
        try await withHarness { h async throws in
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver))
            #expect(ready)
            let v = h.volume(status: .creating, size: 2)
            try await h.volumes.insert(v)
            try await h.client.createVolume(
                host: try #require(v.host), .init(volumeID: v.id, requestSpec: RequestSpec(volumeID: v.id, size: 2)),
                context: testContext)
            let done = try await eventually { try await h.volumes.get(v.id)?.status == .available }
            #expect(done)
            let path = h.fileDriver.path(for: v.id)
            let st = try #require(fileStat(path))
            #expect(Int64(st.st_size) == 2 * Self.gib)
            let after = try #require(try await h.volumes.get(v.id))
            #expect(after.launchedAt != nil)
            #expect(after.updatedAt != nil)
            #expect(try await h.messages.list(projectID: nil).isEmpty)
            #expect(await running.stop())
        }
    }

    @Test("a create_volume for a volume no longer creating does nothing")
    func createSkipped() async throws {
        try await withHarness { h async throws in
            let driver = ScriptedDriver()
            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            let stale = h.volume(status: .available)
            let gone = h.volume(status: .creating)  // never inserted
            let fresh = h.volume(status: .creating)
            try await h.volumes.insert(stale)
            try await h.volumes.insert(fresh)
            for v in [stale, gone, fresh] {
                try await h.client.createVolume(
                    host: Harness.poolHost, .init(volumeID: v.id, requestSpec: RequestSpec(volumeID: v.id, size: 1)),
                    context: testContext)
            }
            #expect(try await eventually { try await h.volumes.get(fresh.id)?.status == .available })
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await h.volumes.get(stale.id)?.status == .available)
            #expect(try await h.volumes.get(gone.id) == nil)
            #expect(driver.calls.filter { $0.hasPrefix("create") } == ["create \(fresh.id) 1"])
            #expect(await running.stop())
        }
    }

    @Test("a failed create without reschedule sets error and writes a user message")
    func createFailsNoReschedule() async throws {
        try await withHarness { h async throws in
            let (scheduler, schedulerTask, schedulerReady) = try await h.fakeScheduler()
            #expect(schedulerReady)
            let driver = ScriptedDriver(failCreate: true)
            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            let v = h.volume(status: .creating, size: 4, project: "proj-x")
            try await h.volumes.insert(v)
            try await h.client.createVolume(
                host: Harness.poolHost,
                .init(volumeID: v.id, requestSpec: RequestSpec(volumeID: v.id, size: 4), allowReschedule: false),
                context: testContext)
            #expect(try await eventually { try await h.volumes.get(v.id)?.status == .error })
            #expect(try await eventually { try await !h.messages.list(projectID: "proj-x").isEmpty })
            let messages = try await h.messages.list(projectID: "proj-x", resourceUUID: v.id)
            let message = try #require(messages.first)
            #expect(messages.count == 1)
            #expect(message.resourceType == "VOLUME")
            #expect(message.resourceUUID == v.id)
            #expect(message.requestID == testContext.requestID)
            #expect(message.eventID == "VOLUME_VOLUME_003_009")
            #expect(message.level == "ERROR")
            // The driver's own text stays in the log: no host, no driver message, in what the project reads.
            #expect(!message.userMessage.contains(Harness.host))
            #expect(!message.userMessage.contains("scripted create failure"))
            #expect(message.userMessage.contains("failed to create the volume"))
            // Whatever the failed create left is cleaned up, and nothing went back to the scheduler.
            #expect(driver.calls.contains("delete \(v.id)"))
            #expect(scheduler.received(SchedulerRPC.Method.createVolume).isEmpty)
            #expect(await running.stop())
            #expect(await schedulerTask.stop())
        }
    }

    @Test("a failed create with reschedule goes back to the scheduler with this backend attempted")
    func createFailsReschedules() async throws {
        try await withHarness { h async throws in
            let (scheduler, schedulerTask, schedulerReady) = try await h.fakeScheduler()
            #expect(schedulerReady)
            let driver = ScriptedDriver(failCreate: true)
            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            let v = h.volume(status: .creating, size: 3)
            try await h.volumes.insert(v)
            let spec = RequestSpec(
                volumeID: v.id, size: 3, availabilityZone: Harness.zone, volumeTypeName: "gold",
                extraSpecs: ["k": "v"], attemptedHosts: ["other@lvm"])
            try await h.client.createVolume(
                host: Harness.poolHost, .init(volumeID: v.id, requestSpec: spec, allowReschedule: true),
                context: testContext)
            #expect(await eventually { !scheduler.received(SchedulerRPC.Method.createVolume).isEmpty })
            let cast = try #require(scheduler.received(SchedulerRPC.Method.createVolume).first)
            let args = try cast.arguments(SchedulerRPC.CreateVolume.self)
            #expect(args.volumeID == v.id)
            #expect(args.requestSpec.attemptedHosts == ["other@lvm", Harness.host])
            #expect(args.requestSpec.size == 3)
            #expect(args.requestSpec.volumeTypeName == "gold")
            #expect(args.requestSpec.extraSpecs == ["k": "v"])
            #expect(cast.context == testContext)
            // The volume waits, still creating, for the scheduler's next choice; no message yet.
            #expect(try await h.volumes.get(v.id)?.status == .creating)
            #expect(try await h.messages.list(projectID: nil).isEmpty)
            #expect(driver.calls.contains("delete \(v.id)"))
            #expect(await running.stop())
            #expect(await schedulerTask.stop())
        }
    }

    @Test("a volume deleted while its create runs does not keep its data")
    func createRacesDelete() async throws {
        try await withHarness { h async throws in
            let volumes = h.volumes
            let driver = ScriptedDriver(onCreate: { id in
                _ = try? await volumes.delete(id)
            })
            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            let v = h.volume(status: .creating)
            try await h.volumes.insert(v)
            try await h.client.createVolume(
                host: Harness.poolHost, .init(volumeID: v.id, requestSpec: RequestSpec(volumeID: v.id, size: 1)),
                context: testContext)
            #expect(await eventually { driver.calls.contains("delete \(v.id)") })
            #expect(try await h.volumes.get(v.id) == nil)
            #expect(await running.stop())
        }
    }

    @Test("a delete_volume cast removes the file and the row")
    func deleteVolume() async throws {
        try await withHarness { h async throws in
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver))
            #expect(ready)
            let v = h.volume(status: .available)
            try await h.volumes.insert(v)
            try await h.fileDriver.createVolume(id: v.id, sizeGB: 1)
            #expect(fileStat(h.fileDriver.path(for: v.id)) != nil)
            #expect(try await h.volumes.apply(.deleteRequested, to: v.id) != nil)
            try await h.client.deleteVolume(host: Harness.poolHost, .init(volumeID: v.id), context: testContext)
            #expect(try await eventually { try await h.volumes.get(v.id) == nil })
            #expect(fileStat(h.fileDriver.path(for: v.id)) == nil)
            #expect(await running.stop())
        }
    }

    @Test("a driver failure on delete leaves the volume in error_deleting")
    func deleteFails() async throws {
        try await withHarness { h async throws in
            let driver = ScriptedDriver(failDelete: true)
            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            let v = h.volume(status: .deleting)
            try await h.volumes.insert(v)
            try await h.client.deleteVolume(host: Harness.poolHost, .init(volumeID: v.id), context: testContext)
            #expect(try await eventually { try await h.volumes.get(v.id)?.status == .errorDeleting })
            #expect(driver.calls.contains("delete \(v.id)"))
            #expect(await running.stop())
        }
    }

    @Test("a file that cannot be removed leaves the volume in error_deleting (FileDriver)")
    func deleteFailsFileDriver() async throws {
        try await withHarness { h async throws in
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver))
            #expect(ready)
            let v = h.volume(status: .deleting)
            try await h.volumes.insert(v)
            try FileManager.default.createDirectory(atPath: h.fileDriver.path(for: v.id), withIntermediateDirectories: false)
            try await h.client.deleteVolume(host: Harness.poolHost, .init(volumeID: v.id), context: testContext)
            #expect(try await eventually { try await h.volumes.get(v.id)?.status == .errorDeleting })
            #expect(await running.stop())
        }
    }

    @Test("start-up recovery makes interrupted creates again and finishes interrupted deletes, on this backend only")
    func startupRecovery() async throws {
        try await withHarness { h async throws in
            let driver = h.fileDriver
            try await driver.doSetup()
            let creating = h.volume(status: .creating)
            let deleting = h.volume(status: .deleting)
            let managingDeleting = h.volume(status: .errorManagingDeleting)
            let available = h.volume(status: .available)
            let otherBackend = h.volume(status: .creating, host: "node@other#other")
            let otherDeleting = h.volume(status: .deleting, host: "node2@backend#backend")
            for v in [creating, deleting, managingDeleting, available, otherBackend, otherDeleting] {
                try await h.volumes.insert(v)
            }
            // A half-made file of the interrupted create, holding junk: the volume is made again, empty.
            try await driver.createVolume(id: creating.id, sizeGB: 1)
            try Data("HALF-MADE".utf8).write(to: URL(fileURLWithPath: driver.path(for: creating.id)))
            for v in [deleting, available] { try await driver.createVolume(id: v.id, sizeGB: 1) }

            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            // Recovery is done before the first report.
            #expect(try await h.volumes.get(creating.id)?.status == .available)
            #expect(fileStat(driver.path(for: creating.id))?.st_size == 1 << 30)
            let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: driver.path(for: creating.id)))
                .read(upToCount: 9)
            #expect(head == Data(count: 9), "the new volume still held the half-made one's bytes")
            let told = try await h.messages.list(projectID: creating.projectID, resourceUUID: creating.id)
            #expect(told.contains { $0.userMessage.contains("made again from the start") }, "\(told)")
            #expect(try await h.volumes.get(deleting.id) == nil)
            #expect(fileStat(driver.path(for: deleting.id)) == nil)
            #expect(try await h.volumes.get(managingDeleting.id) == nil)
            #expect(try await h.volumes.get(available.id)?.status == .available)
            #expect(fileStat(driver.path(for: available.id)) != nil)
            #expect(try await h.volumes.get(otherBackend.id)?.status == .creating)
            #expect(try await h.volumes.get(otherDeleting.id)?.status == .deleting)
            #expect(await running.stop())
        }
    }

    @Test("start-up recovery takes interrupted snapshots again, and fails a copy whose source is gone with a message")
    func startupRecoveryOfSnapshotsAndCopies() async throws {
        try await withHarness { h async throws in
            let driver = h.fileDriver
            try await driver.doSetup()
            let source = h.volume(status: .available)
            try await h.volumes.insert(source)
            try await driver.createVolume(id: source.id, sizeGB: 1)
            let snapshot = Snapshot(
                projectID: source.projectID, userID: "user", volumeID: source.id, status: .creating,
                volumeSize: 1, volumeTypeID: "type")
            #expect(try await h.snapshots.insert(snapshot))
            var orphanCopy = h.volume(status: .creating)
            orphanCopy.sourceVolumeID = "no-such-volume"
            try await h.volumes.insert(orphanCopy)

            let (running, ready) = try await h.start(h.manager(driver: driver))
            #expect(ready)
            #expect(try await h.snapshots.get(snapshot.id)?.status == .available)
            #expect(fileStat(driver.snapshotPath(for: snapshot.id)) != nil)
            let copy = try await h.volumes.get(orphanCopy.id)
            #expect(copy?.status == .error)
            #expect(copy?.consumesQuota == false)
            let told = try await h.messages.list(projectID: orphanCopy.projectID, resourceUUID: orphanCopy.id)
            #expect(told.contains { $0.userMessage.contains("failed to create the volume") }, "\(told)")
            #expect(await running.stop())
        }
    }

    @Test("the periodic sweep takes over a create whose message was lost, once it is older than the timeout")
    func sweepTakesOverLostCreates() async throws {
        try await withHarness { h async throws in
            let driver = h.fileDriver
            let (running, ready) = try await h.start(
                h.manager(driver: driver, reportInterval: .milliseconds(50), staleAfter: .seconds(1)))
            #expect(ready)
            // Placed on this backend, but the scheduler's cast never came.
            let lost = h.volume(status: .creating)
            try await h.volumes.insert(lost)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await h.volumes.get(lost.id)?.status == .creating, "taken over before the timeout")
            #expect(try await eventually { try await h.volumes.get(lost.id)?.status == .available })
            #expect(fileStat(driver.path(for: lost.id)) != nil)
            #expect(await running.stop())
        }
    }

    @Test("a failed driver setup keeps the backend down and skips recovery")
    func setupFails() async throws {
        try await withHarness { h async throws in
            let driver = ScriptedDriver(failSetup: true)
            let creating = h.volume(status: .creating)
            try await h.volumes.insert(creating)
            let running = Background { try await h.manager(driver: driver).run() }
            #expect(try await h.waitForReports(2))
            let service = try #require(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary))
            #expect(service.backendState == "down")
            #expect(try await h.volumes.get(creating.id)?.status == .creating)
            #expect(!driver.calls.contains("delete \(creating.id)"))
            #expect(await running.stop())
        }
    }

    @Test("capability reports reach the schedulers by fanout, with pools")
    func capabilityReport() async throws {
        try await withHarness { h async throws in
            let (scheduler, schedulerTask, schedulerReady) = try await h.fakeScheduler()
            #expect(schedulerReady)
            try await h.volumes.insert(h.volume(status: .available, size: 3))
            try await h.volumes.insert(h.volume(status: .available, size: 4, host: "node@elsewhere#p"))
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver))
            #expect(ready)
            #expect(await eventually { !scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).isEmpty })
            let message = try #require(scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).first)
            let report = try message.arguments(SchedulerRPC.CapabilityReport.self)
            #expect(report.host == Harness.host)
            #expect(report.serviceName == VolumeRPC.topic)
            #expect(report.availabilityZone == Harness.zone)
            #expect(abs(report.timestamp - Date().timeIntervalSince1970) < 60)
            #expect(report.capabilities["volume_backend_name"] == .string(Harness.backend))
            guard case .array(let pools)? = report.capabilities["pools"], case .object(let pool)? = pools.first else {
                Issue.record("no pools in \(report.capabilities)")
                return
            }
            #expect(pools.count == 1)
            #expect(pool["pool_name"] == .string(Harness.backend))
            #expect(pool["allocated_capacity_gb"] == .int(3), "only this backend's volumes count")
            #expect(pool["total_volumes"] == .int(1))
            #expect(pool["thin_provisioning_support"] == .bool(true))
            // Reports repeat every interval.
            #expect(await eventually { scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).count >= 3 })
            #expect(await running.stop())
            #expect(await schedulerTask.stop())
        }
    }

    @Test("a delete publishes fresh capabilities at once")
    func deletePublishes() async throws {
        try await withHarness { h async throws in
            let (scheduler, schedulerTask, schedulerReady) = try await h.fakeScheduler()
            #expect(schedulerReady)
            let v = h.volume(status: .deleting, size: 5)
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver, reportInterval: .seconds(3600)))
            #expect(ready)
            #expect(await eventually { scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).count == 1 })
            try await h.volumes.insert(v)
            try await h.client.deleteVolume(host: Harness.poolHost, .init(volumeID: v.id), context: testContext)
            #expect(await eventually { scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).count == 2 })
            #expect(try await h.volumes.get(v.id) == nil)
            #expect(await running.stop())
            #expect(await schedulerTask.stop())
        }
    }

    @Test("get_capabilities answers a call with the driver's stats")
    func getCapabilities() async throws {
        try await withHarness { h async throws in
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver))
            #expect(ready)
            try await h.volumes.insert(h.volume(status: .available, size: 6))
            // Bounded generously: the whole suite shares two cores, and the stats walk the backend's files.
            let caps = try await h.client.getCapabilities(host: Harness.host, context: testContext, timeout: .seconds(30))
            #expect(caps["volume_backend_name"] == .string(Harness.backend))
            guard case .array(let pools)? = caps["pools"], case .object(let pool)? = pools.first else {
                Issue.record("no pools in \(caps)")
                return
            }
            #expect(pool["allocated_capacity_gb"] == .int(6))
            #expect(await running.stop())
        }
    }

    @Test("an unknown method is refused with invalid input")
    func unknownMethod() async throws {
        try await withHarness { h async throws in
            let (running, ready) = try await h.start(h.manager(driver: ScriptedDriver()))
            #expect(ready)
            let error = await ashlarError {
                _ = try await h.transport.call(
                    RPCMessage(method: "no_such_method", context: testContext, args: Data("{}".utf8)),
                    to: .volume(host: Harness.poolHost), timeout: .seconds(10))
            }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.contains("no_such_method") == true)
            // Arguments that do not decode are invalid input too.
            let bad = await ashlarError {
                _ = try await h.transport.call(
                    RPCMessage(method: VolumeRPC.Method.createVolume, context: testContext, args: Data("{}".utf8)),
                    to: .volume(host: Harness.poolHost), timeout: .seconds(10))
            }
            #expect(bad?.code == .invalidInput)
            #expect(await running.stop())
        }
    }

    @Test("publish_service_capabilities from the scheduler reaches the volume service")
    func publishServiceCapabilitiesFanout() async throws {
        try await withHarness { h async throws in
            let (scheduler, schedulerTask, schedulerReady) = try await h.fakeScheduler()
            #expect(schedulerReady)
            let (running, ready) = try await h.start(h.manager(driver: h.fileDriver, reportInterval: .seconds(3600)))
            #expect(ready)
            #expect(await eventually { scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).count == 1 })
            // What SchedulerService.run does at start-up. The first report can come before the service's
            // consumers are subscribed, and a fanout nobody hears is dropped (as on RabbitMQ), so ask until one
            // is heard; with an hour between reports only the fanout can bring a second one.
            let answered = await eventually(timeout: .seconds(30), poll: .milliseconds(500)) {
                try? await h.client.publishServiceCapabilities(context: testContext)
                return await eventually(timeout: .milliseconds(400)) {
                    scheduler.received(SchedulerRPC.Method.updateServiceCapabilities).count >= 2
                }
            }
            #expect(answered)
            #expect(await running.stop())
            #expect(await schedulerTask.stop())
        }
    }

    @Test("a graceful shutdown of its ServiceGroup ends the volume manager")
    func gracefulShutdown() async throws {
        try await withHarness { h async throws in
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: h.manager(driver: h.fileDriver))], logger: quietLogger))
            let running = Background { try await group.run() }
            #expect(try await h.waitForReports())
            await group.triggerGracefulShutdown()
            // Under a loaded CI machine (tests run in parallel on two cores) this has taken 5 s; unloaded, 0.1 s.
            let ended = await eventually(timeout: .seconds(30)) { running.finished.isSet }
            #expect(ended)
            // Cancel in any case, so that the test never hangs.
            #expect(await running.stop())
            let reports = try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary)?.reportCount
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await h.services.get(host: Harness.host, binary: ServiceRecord.volumeBinary)?.reportCount == reports)
        }
    }
}
