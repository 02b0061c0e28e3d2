import AshlarCore
import Foundation
import Testing

@testable import AshlarMessaging

/// Records every message it gets and answers get_capabilities.
private struct CapturingEndpoint: RPCEndpoint {
    var name: String
    var log: Locked<[(String, RPCMessage)]>

    func handle(_ message: RPCMessage) async throws -> Data? {
        if message.method == "ping" { return Data("\"\(name)\"".utf8) }
        log.update { $0.append((name, message)) }
        if message.method == VolumeRPC.Method.getCapabilities {
            return try RPCCoding.encoder.encode(["volume_backend_name": JSONValue.string(name), "total": 10])
        }
        return nil
    }
}

@Suite("RPC clients over the in-process bus", .timeLimit(.minutes(1)))
struct RPCClientTests {
    let transport = InProcessTransport()
    let log = Locked<[(String, RPCMessage)]>([])

    func server(_ topic: String, _ name: String) -> Server {
        Server(topic: topic, server: name, endpoint: CapturingEndpoint(name: name, log: log))
    }

    /// The messages handled so far, once there are `count` (or after 5 s).
    func received(_ count: Int, within timeout: Duration = .seconds(30)) async -> [(String, RPCMessage)] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline, log.value.count < count {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return log.value
    }

    static let spec = RequestSpec(volumeID: "vol-1", size: 3)

    @Test func schedulerCreateVolumeIsCastToOneScheduler() async throws {
        try await withServers(transport, [server("cinder-scheduler", "s1"), server("cinder-scheduler", "s2")]) {
            let client = SchedulerRPC.Client(transport: transport)
            try await client.createVolume(.init(volumeID: "vol-1", requestSpec: Self.spec), context: testContext)
            let got = await received(1)
            try await Task.sleep(for: .milliseconds(50))
            #expect(log.value.count == 1)
            let (_, message) = try #require(got.first)
            #expect(message.method == "create_volume")
            #expect(message.context == testContext)
            let args = try message.arguments(SchedulerRPC.CreateVolume.self)
            #expect(args.volumeID == "vol-1")
            #expect(args.requestSpec == Self.spec)
        }
    }

    @Test func capabilityReportsFanOutToEveryScheduler() async throws {
        try await withServers(transport, [server("cinder-scheduler", "s1"), server("cinder-scheduler", "s2")]) {
            let report = SchedulerRPC.CapabilityReport(
                serviceName: "cinder-volume", host: "node1@lvm", availabilityZone: "nova",
                capabilities: ["volume_backend_name": "lvm"], timestamp: 1)
            try await SchedulerRPC.Client(transport: transport).updateServiceCapabilities(report, context: testContext)
            let got = await received(2)
            #expect(got.map(\.0).sorted() == ["s1", "s2"])
            #expect(got.allSatisfy { $0.1.method == "update_service_capabilities" })
            let args = try #require(got.first).1.arguments(SchedulerRPC.CapabilityReport.self)
            #expect(args.host == "node1@lvm")
        }
    }

    /// Two backends on one node, served as the volume manager serves them (topic `cinder-volume.<backend>`,
    /// server `node1`), each with its own endpoint.
    func backends() -> [Server] {
        [
            Server(
                topic: RPCTarget.volume(host: "node1@lvm").topic, server: "node1",
                endpoint: CapturingEndpoint(name: "lvm", log: log)),
            Server(
                topic: RPCTarget.volume(host: "node1@nfs").topic, server: "node1",
                endpoint: CapturingEndpoint(name: "nfs", log: log)),
        ]
    }

    @Test func volumeCastsReachTheBackendOfTheHostOnly() async throws {
        try await withServers(transport, backends()) {
            let client = VolumeRPC.Client(transport: transport)
            try await client.createVolume(
                host: "node1@lvm#pool", .init(volumeID: "vol-1", requestSpec: Self.spec), context: testContext)
            try await client.deleteVolume(host: "node1@lvm", .init(volumeID: "vol-2", cascade: true), context: testContext)
            try await client.deleteVolume(host: "node1@nfs#nfs", .init(volumeID: "vol-3"), context: testContext)
            let got = await received(3)
            try await Task.sleep(for: .milliseconds(50))
            #expect(log.value.count == 3)
            let lvm = got.filter { $0.0 == "lvm" }.map(\.1)
            let nfs = got.filter { $0.0 == "nfs" }.map(\.1)
            #expect(lvm.map(\.method).sorted() == ["create_volume", "delete_volume"])
            #expect(nfs.map(\.method) == ["delete_volume"])
            let create = try #require(lvm.first { $0.method == "create_volume" })
            #expect(try create.arguments(VolumeRPC.CreateVolume.self).volumeID == "vol-1")
            let delete = try #require(lvm.first { $0.method == "delete_volume" })
            let args = try delete.arguments(VolumeRPC.DeleteVolume.self)
            #expect(args.volumeID == "vol-2")
            #expect(args.cascade)
            #expect(try nfs.first?.arguments(VolumeRPC.DeleteVolume.self).volumeID == "vol-3")
        }
    }

    @Test func getCapabilitiesCallsTheBackend() async throws {
        try await withServers(transport, backends()) {
            let client = VolumeRPC.Client(transport: transport)
            let lvm = try await client.getCapabilities(host: "node1@lvm#p", context: testContext, timeout: .seconds(5))
            #expect(lvm == ["volume_backend_name": "lvm", "total": 10])
            let nfs = try await client.getCapabilities(host: "node1@nfs", context: testContext, timeout: .seconds(5))
            #expect(nfs["volume_backend_name"] == "nfs")
        }
    }

    @Test func getCapabilitiesTimesOutWhenTheBackendIsDown() async throws {
        let error = await #expect(throws: AshlarError.self) {
            try await VolumeRPC.Client(transport: transport).getCapabilities(
                host: "node9@lvm", context: testContext, timeout: .milliseconds(100))
        }
        #expect(error?.code == .unavailable)
    }

    /// The fanout goes by topic: a server of `cinder-volume.node1@lvm` alone never hears a `cinder-volume`
    /// fanout, which is why a volume service must serve both of Cinder's targets.
    @Test func fanoutToTheVolumeTopicSkipsPerBackendTopics() async throws {
        let target = RPCTarget.volume(host: "node1@lvm")
        try await withServers(transport, [server(target.topic, target.server ?? "")]) {
            try await VolumeRPC.Client(transport: transport).publishServiceCapabilities(context: testContext)
            try await Task.sleep(for: .milliseconds(100))
            #expect(log.value.isEmpty)
        }
    }

    /// Served as Cinder serves a volume backend — `(cinder-volume, node1@lvm)` and
    /// `(cinder-volume.node1@lvm, node1)` — the backend gets the fanout once and the casts addressed to it.
    @Test func aBackendServedAtBothCinderTargetsGetsFanoutsAndCasts() async throws {
        let endpoint = CapturingEndpoint(name: "lvm", log: log)
        let servers = [
            Server(topic: VolumeRPC.topic, server: "node1@lvm", endpoint: endpoint),
            Server(topic: RPCTarget.volume(host: "node1@lvm").topic, server: "node1", endpoint: endpoint),
        ]
        try await withServers(transport, servers) {
            let client = VolumeRPC.Client(transport: transport)
            try await client.publishServiceCapabilities(context: testContext)
            try await client.deleteVolume(host: "node1@lvm#lvm", .init(volumeID: "vol-1"), context: testContext)
            let got = await received(2)
            try await Task.sleep(for: .milliseconds(50))
            #expect(log.value.map(\.1.method).sorted() == ["delete_volume", "publish_service_capabilities"])
            #expect(got.allSatisfy { $0.0 == "lvm" })
        }
    }

    @Test func publishServiceCapabilitiesReachesEveryServerOfTheVolumeTopic() async throws {
        try await withServers(transport, [server("cinder-volume", "node1@lvm"), server("cinder-volume", "node2@lvm")]) {
            try await VolumeRPC.Client(transport: transport).publishServiceCapabilities(context: testContext)
            let got = await received(2)
            #expect(got.map(\.0).sorted() == ["node1@lvm", "node2@lvm"])
            #expect(got.allSatisfy { $0.1.method == "publish_service_capabilities" })
        }
    }
}
