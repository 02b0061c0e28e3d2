import AshlarCore
import Foundation

/// The volume service's RPC interface: method names and argument types, and a client for them.
public enum VolumeRPC {
    public static let topic = "cinder-volume"

    public enum Method {
        public static let createVolume = "create_volume"
        public static let deleteVolume = "delete_volume"
        public static let publishServiceCapabilities = "publish_service_capabilities"
        public static let getCapabilities = "get_capabilities"
    }

    /// `create_volume(volume, request_spec, filter_properties, allow_reschedule)`.
    public struct CreateVolume: Codable, Sendable {
        public var volumeID: String
        public var requestSpec: RequestSpec
        public var allowReschedule: Bool
        public init(volumeID: String, requestSpec: RequestSpec, allowReschedule: Bool = true) {
            self.volumeID = volumeID
            self.requestSpec = requestSpec
            self.allowReschedule = allowReschedule
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case requestSpec = "request_spec"
            case allowReschedule = "allow_reschedule"
        }
    }

    /// `delete_volume(volume, unmanage_only, cascade)`.
    public struct DeleteVolume: Codable, Sendable {
        public var volumeID: String
        public var cascade: Bool
        public init(volumeID: String, cascade: Bool = false) {
            self.volumeID = volumeID
            self.cascade = cascade
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case cascade
        }
    }

    /// No arguments.
    public struct Empty: Codable, Sendable { public init() {} }

    /// A client of the volume services.
    public struct Client: Sendable {
        public let transport: any RPCTransport
        public init(transport: any RPCTransport) { self.transport = transport }

        /// Casts to the backend that hosts (or will host) the volume.
        public func createVolume(host: String, _ args: CreateVolume, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.createVolume, context: context, arguments: args), to: .volume(host: host))
        }

        public func deleteVolume(host: String, _ args: DeleteVolume, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.deleteVolume, context: context, arguments: args), to: .volume(host: host))
        }

        /// Asks every volume service to report its capabilities now.
        public func publishServiceCapabilities(context: CallerContext) async throws {
            try await transport.fanout(
                RPCMessage(method: Method.publishServiceCapabilities, context: context, arguments: Empty()),
                topic: topic)
        }

        /// The backend's current capabilities (a call).
        public func getCapabilities(
            host: String, context: CallerContext, timeout: Duration = .seconds(60)
        )
            async throws -> [String: JSONValue]
        {
            let reply = try await transport.call(
                RPCMessage(method: Method.getCapabilities, context: context, arguments: Empty()),
                to: .volume(host: host), timeout: timeout)
            guard let reply else { return [:] }
            return try RPCCoding.decoder.decode([String: JSONValue].self, from: reply)
        }
    }
}
