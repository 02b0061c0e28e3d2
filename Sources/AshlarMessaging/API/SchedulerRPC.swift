import AshlarCore
import Foundation

/// The scheduler's RPC interface: method names and argument types, and a client for them.
public enum SchedulerRPC {
    public static let topic = "cinder-scheduler"

    public enum Method {
        public static let createVolume = "create_volume"
        public static let updateServiceCapabilities = "update_service_capabilities"
        public static let getPools = "get_pools"
    }

    /// `create_volume(volume, request_spec, filter_properties)`.
    public struct CreateVolume: Codable, Sendable {
        public var volumeID: String
        public var requestSpec: RequestSpec
        public init(volumeID: String, requestSpec: RequestSpec) {
            self.volumeID = volumeID
            self.requestSpec = requestSpec
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case requestSpec = "request_spec"
        }
    }

    /// `update_service_capabilities(service_name, host, capabilities, timestamp)`: a backend's report.
    public struct CapabilityReport: Codable, Sendable {
        public var serviceName: String
        /// `node@backend`.
        public var host: String
        public var availabilityZone: String
        /// Cinder's stats dictionary: backend-level keys and a `pools` list.
        public var capabilities: [String: JSONValue]
        public var timestamp: Double
        public init(
            serviceName: String, host: String, availabilityZone: String, capabilities: [String: JSONValue],
            timestamp: Double
        ) {
            self.serviceName = serviceName
            self.host = host
            self.availabilityZone = availabilityZone
            self.capabilities = capabilities
            self.timestamp = timestamp
        }
        enum CodingKeys: String, CodingKey {
            case serviceName = "service_name"
            case host, capabilities, timestamp
            case availabilityZone = "availability_zone"
        }
    }

    /// A client of the scheduler.
    public struct Client: Sendable {
        public let transport: any RPCTransport
        public init(transport: any RPCTransport) { self.transport = transport }

        public func createVolume(_ args: CreateVolume, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.createVolume, context: context, arguments: args), to: .scheduler)
        }

        public func updateServiceCapabilities(_ report: CapabilityReport, context: CallerContext) async throws {
            try await transport.fanout(
                RPCMessage(method: Method.updateServiceCapabilities, context: context, arguments: report), topic: topic)
        }
    }
}
