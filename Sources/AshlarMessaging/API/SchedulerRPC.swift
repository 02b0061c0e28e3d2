import AshlarCore
import Foundation

/// The scheduler's RPC interface: method names and argument types, and a client for them.
public enum SchedulerRPC {
    public static let topic = "cinder-scheduler"

    public enum Method {
        public static let createVolume = "create_volume"
        public static let updateServiceCapabilities = "update_service_capabilities"
        public static let getPools = "get_pools"
        public static let extendVolume = "extend_volume"
        /// `do_cleanup`: take over now what was left unplaced (POST /workers/cleanup).
        public static let doCleanup = "do_cleanup"
        public static let createGroup = "create_group"
        public static let retype = "retype"
        public static let migrateVolume = "migrate_volume"
    }

    /// `migrate_volume(volume, backend, force_copy, request_spec)`: checks that the named pool can take the
    /// volume, then hands the move to it.
    public struct MigrateVolume: Codable, Sendable {
        public var volumeID: String
        /// `host@backend#pool` (or `host@backend`).
        public var host: String
        public init(volumeID: String, host: String) {
            self.volumeID = volumeID
            self.host = host
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case host
        }
    }

    /// `retype(volume, request_spec, filter_properties)`: checks that the volume's backend satisfies the new type
    /// (else, with `migration_policy` on-demand, finds another), then hands the retype to the backend.
    public struct Retype: Codable, Sendable {
        public var volumeID: String
        public var newTypeID: String
        /// `never` or `on-demand`.
        public var migrationPolicy: String
        public init(volumeID: String, newTypeID: String, migrationPolicy: String) {
            self.volumeID = volumeID
            self.newTypeID = newTypeID
            self.migrationPolicy = migrationPolicy
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case newTypeID = "new_type_id"
            case migrationPolicy = "migration_policy"
        }
    }

    /// `extend_volume(volume, new_size, reservations, request_spec)`: checks that the volume's pool can take
    /// the growth, then hands the extend to its backend.
    public struct ExtendVolume: Codable, Sendable {
        public var volumeID: String
        public var newSize: Int
        public init(volumeID: String, newSize: Int) {
            self.volumeID = volumeID
            self.newSize = newSize
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case newSize = "new_size"
        }
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

    /// `get_pools(filters)`: pools whose name and capabilities equal the given values, and (3.35) whose
    /// capabilities satisfy a volume type's extra specs. Every field may be absent.
    public struct GetPools: Codable, Sendable {
        public var name: String?
        public var capabilities: [String: String]?
        public var extraSpecs: [String: String]?
        public init(name: String? = nil, capabilities: [String: String]? = nil, extraSpecs: [String: String]? = nil) {
            self.name = name
            self.capabilities = capabilities
            self.extraSpecs = extraSpecs
        }
        enum CodingKeys: String, CodingKey {
            case name, capabilities
            case extraSpecs = "extra_specs"
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

        /// `create_group(group, group_spec, request_spec_list)`: places a new group on a backend that can take
        /// every one of its volume types.
        public func createGroup(_ args: VolumeRPC.GroupArgs, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.createGroup, context: context, arguments: args), to: .scheduler)
        }

        public func migrateVolume(_ args: MigrateVolume, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.migrateVolume, context: context, arguments: args), to: .scheduler)
        }

        public func retype(_ args: Retype, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.retype, context: context, arguments: args), to: .scheduler)
        }

        public func extendVolume(_ args: ExtendVolume, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.extendVolume, context: context, arguments: args), to: .scheduler)
        }

        /// The pools as the scheduler sees them, filtered (a call).
        public func getPools(
            _ filters: GetPools, context: CallerContext, timeout: Duration? = nil
        ) async throws -> [JSONValue]
        {
            let reply = try await transport.call(
                RPCMessage(method: Method.getPools, context: context, arguments: filters), to: .scheduler,
                timeout: timeout ?? transport.responseTimeout)
            return try reply.map { try RPCCoding.decoder.decode([JSONValue].self, from: $0) } ?? []
        }

        /// Asks the scheduler on `host` to take over now what was left unplaced (a cast).
        public func doCleanup(host: String, context: CallerContext) async throws {
            try await transport.cast(
                RPCMessage(method: Method.doCleanup, context: context, arguments: VolumeRPC.Empty()),
                to: RPCTarget(topic: topic, server: host))
        }

        public func updateServiceCapabilities(_ report: CapabilityReport, context: CallerContext) async throws {
            try await transport.fanout(
                RPCMessage(method: Method.updateServiceCapabilities, context: context, arguments: report), topic: topic)
        }
    }
}
