import AshlarCore
import Foundation
import Testing

@testable import AshlarMessaging

/// The top-level keys of a JSON object text.
func jsonKeys(_ data: Data) throws -> [String] {
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return object.keys.sorted()
}

@Suite("RPCTarget")
struct RPCTargetTests {
    @Test(
        arguments: [
            ("node1@lvm#pool1", "cinder-volume.node1@lvm", "node1"),
            ("node1@lvm", "cinder-volume.node1@lvm", "node1"),
            ("node1@lvm#", "cinder-volume.node1@lvm", "node1"),
            ("node1.example.com@lvmdriver-b21#lvmbackend", "cinder-volume.node1.example.com@lvmdriver-b21", "node1.example.com"),
            ("node1@lvm#pool#odd", "cinder-volume.node1@lvm", "node1"),
            ("node1", "cinder-volume.node1", "node1"),
        ])
    func volumeTargetStripsThePool(_ host: String, _ topic: String, _ server: String) {
        let target = RPCTarget.volume(host: host)
        #expect(target.topic == topic)
        #expect(target.server == server)
        #expect(target.routingKey == "\(topic).\(server)")
        #expect(target.description == target.routingKey)
    }

    @Test func documentedExample() {
        let target = RPCTarget.volume(host: "node@backend#pool")
        #expect(target.topic == "cinder-volume.node@backend")
        #expect(target.server == "node")
        #expect(target.routingKey == "cinder-volume.node@backend.node")
    }

    @Test func schedulerTargetHasNoServer() {
        #expect(RPCTarget.scheduler.topic == "cinder-scheduler")
        #expect(RPCTarget.scheduler.server == nil)
        #expect(RPCTarget.scheduler.routingKey == "cinder-scheduler")
        #expect(SchedulerRPC.topic == RPCTarget.scheduler.topic)
    }

    @Test func routingKey() {
        #expect(RPCTarget(topic: "t").routingKey == "t")
        #expect(RPCTarget(topic: "t", server: "s").routingKey == "t.s")
        #expect(RPCTarget(topic: "t", server: "s") == RPCTarget(topic: "t", server: "s"))
        #expect(RPCTarget(topic: "t", server: "s") != RPCTarget(topic: "t"))
    }
}

@Suite("RPCMessage")
struct RPCMessageTests {
    struct Args: Codable, Equatable {
        var name: String
        var size: Int
        var tags: [String]
        var nested: [String: Double]?
    }

    @Test func argumentsRoundTrip() throws {
        let args = Args(name: "vol", size: 10, tags: ["a", "b"], nested: ["x": 1.5])
        let message = try RPCMessage(method: "create_volume", context: testContext, arguments: args)
        #expect(message.method == "create_volume")
        #expect(message.version == "3.0")
        #expect(message.context == testContext)
        #expect(try message.arguments(Args.self) == args)
    }

    @Test func argumentsAreSortedJSON() throws {
        let message = try RPCMessage(method: "m", context: testContext, arguments: ["b": 2, "a": 1, "c": 3])
        #expect(String(decoding: message.args, as: UTF8.self) == #"{"a":1,"b":2,"c":3}"#)
    }

    @Test func rawArgumentsAreKept() throws {
        let message = RPCMessage(method: "m", version: "3.5", context: testContext, args: Data(#"{"size":3}"#.utf8))
        #expect(message.version == "3.5")
        #expect(try message.arguments([String: Int].self) == ["size": 3])
    }

    @Test(
        arguments: [
            #"{"name": "vol", "size": "ten", "tags": []}"#, #"{"name": "vol"}"#, "[]", "not json", "",
        ])
    func argumentsThatDoNotDecodeAreInvalidInput(_ text: String) {
        let message = RPCMessage(method: "create_volume", context: testContext, args: Data(text.utf8))
        let error = #expect(throws: AshlarError.self) { try message.arguments(Args.self) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("create_volume") == true)
    }
}

@Suite("RPC argument structs")
struct RPCArgumentTests {
    static let spec = RequestSpec(
        volumeID: "vol-1", size: 10, availabilityZone: "az1", volumeTypeName: "gold",
        extraSpecs: ["volume_backend_name": "lvm"], attemptedHosts: ["node1@lvm"])

    @Test func schedulerCreateVolumeUsesSnakeCase() throws {
        let args = SchedulerRPC.CreateVolume(volumeID: "vol-1", requestSpec: Self.spec)
        let data = try RPCCoding.encoder.encode(args)
        #expect(try jsonKeys(data) == ["request_spec", "volume_id"])
        let decoded = try RPCCoding.decoder.decode(SchedulerRPC.CreateVolume.self, from: data)
        #expect(decoded.volumeID == "vol-1")
        #expect(decoded.requestSpec == Self.spec)
    }

    @Test func capabilityReportUsesSnakeCase() throws {
        let report = SchedulerRPC.CapabilityReport(
            serviceName: "cinder-volume", host: "node1@lvm", availabilityZone: "az1",
            capabilities: ["volume_backend_name": "lvm", "pools": [["pool_name": "lvm", "total_capacity_gb": 100]]],
            timestamp: 1_700_000_000.25)
        let data = try RPCCoding.encoder.encode(report)
        #expect(try jsonKeys(data) == ["availability_zone", "capabilities", "host", "service_name", "timestamp"])
        let decoded = try RPCCoding.decoder.decode(SchedulerRPC.CapabilityReport.self, from: data)
        #expect(decoded.serviceName == "cinder-volume")
        #expect(decoded.host == "node1@lvm")
        #expect(decoded.availabilityZone == "az1")
        #expect(decoded.capabilities == report.capabilities)
        #expect(decoded.timestamp == 1_700_000_000.25)
    }

    @Test func volumeCreateVolumeUsesSnakeCase() throws {
        let args = VolumeRPC.CreateVolume(volumeID: "vol-1", requestSpec: Self.spec, allowReschedule: false)
        let data = try RPCCoding.encoder.encode(args)
        #expect(try jsonKeys(data) == ["allow_reschedule", "request_spec", "volume_id"])
        let decoded = try RPCCoding.decoder.decode(VolumeRPC.CreateVolume.self, from: data)
        #expect(decoded.volumeID == "vol-1")
        #expect(decoded.requestSpec == Self.spec)
        #expect(decoded.allowReschedule == false)
        #expect(VolumeRPC.CreateVolume(volumeID: "v", requestSpec: Self.spec).allowReschedule)
    }

    @Test func volumeDeleteVolumeUsesSnakeCase() throws {
        let data = try RPCCoding.encoder.encode(VolumeRPC.DeleteVolume(volumeID: "vol-2", cascade: true))
        #expect(String(decoding: data, as: UTF8.self) == #"{"cascade":true,"volume_id":"vol-2"}"#)
        #expect(VolumeRPC.DeleteVolume(volumeID: "v").cascade == false)
    }

    @Test func argumentsDecodeFromWhatAnotherSenderWrites() throws {
        let specData = try RPCCoding.encoder.encode(Self.spec)
        let text = #"{"volume_id": "vol-3", "cascade": false}"#
        let message = RPCMessage(method: VolumeRPC.Method.deleteVolume, context: testContext, args: Data(text.utf8))
        let decoded = try message.arguments(VolumeRPC.DeleteVolume.self)
        #expect(decoded.volumeID == "vol-3")
        let createText = #"{"volume_id": "vol-4", "request_spec": "# + String(decoding: specData, as: UTF8.self) + "}"
        let create = RPCMessage(method: SchedulerRPC.Method.createVolume, context: testContext, args: Data(createText.utf8))
        #expect(try create.arguments(SchedulerRPC.CreateVolume.self).requestSpec == Self.spec)
        // camelCase keys are not what the bus carries.
        let wrong = RPCMessage(
            method: VolumeRPC.Method.deleteVolume, context: testContext, args: Data(#"{"volumeID": "vol-3", "cascade": false}"#.utf8))
        #expect(throws: AshlarError.self) { try wrong.arguments(VolumeRPC.DeleteVolume.self) }
    }

    @Test func emptyArgumentsAreAnEmptyObject() throws {
        #expect(try RPCCoding.encoder.encode(VolumeRPC.Empty()) == Data("{}".utf8))
    }

    @Test func methodNamesAreCinders() {
        #expect(SchedulerRPC.Method.createVolume == "create_volume")
        #expect(SchedulerRPC.Method.updateServiceCapabilities == "update_service_capabilities")
        #expect(SchedulerRPC.Method.getPools == "get_pools")
        #expect(VolumeRPC.Method.createVolume == "create_volume")
        #expect(VolumeRPC.Method.deleteVolume == "delete_volume")
        #expect(VolumeRPC.Method.publishServiceCapabilities == "publish_service_capabilities")
        #expect(VolumeRPC.Method.getCapabilities == "get_capabilities")
        #expect(VolumeRPC.topic == "cinder-volume")
    }
}
