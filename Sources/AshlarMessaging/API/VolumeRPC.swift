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
        public static let createSnapshot = "create_snapshot"
        public static let deleteSnapshot = "delete_snapshot"
        public static let extendVolume = "extend_volume"
        public static let revertToSnapshot = "revert_to_snapshot"
        public static let initializeConnection = "initialize_connection"
        public static let terminateConnection = "terminate_connection"
        public static let attachmentUpdate = "attachment_update"
        public static let attachmentDelete = "attachment_delete"
        /// `do_cleanup`: finish now what was left in a transitional state (POST /workers/cleanup).
        public static let doCleanup = "do_cleanup"
        public static let createGroup = "create_group"
        public static let deleteGroup = "delete_group"
        public static let createGroupSnapshot = "create_group_snapshot"
        public static let deleteGroupSnapshot = "delete_group_snapshot"
        public static let retype = "retype"
        public static let migrateVolumeIn = "migrate_volume_in"
        public static let sourceForCopy = "source_for_copy"
        public static let removeStrayCopy = "remove_stray_copy"
        public static let copyVolumeToImage = "copy_volume_to_image"
    }

    /// `copy_volume_to_image(volume_id, image_meta)`: send the volume's data to the image, in its disk format.
    public struct CopyVolumeToImage: Codable, Sendable {
        public var volumeID: String
        public var imageID: String
        public var diskFormat: String
        public init(volumeID: String, imageID: String, diskFormat: String) {
            self.volumeID = volumeID
            self.imageID = imageID
            self.diskFormat = diskFormat
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case imageID = "image_id"
            case diskFormat = "disk_format"
        }
    }

    /// `migrate_volume_in`, to the destination's volume service: copy the volume's data from its current backend
    /// and take it over; with `newTypeID`, as the last step of a retype.
    public struct MigrateVolumeIn: Codable, Sendable {
        public var volumeID: String
        /// Where the volume is now (`host@backend#pool`).
        public var sourceHost: String
        /// Where it is to be (`host@backend#pool`): a pool of the receiving backend.
        public var destinationHost: String
        public var newTypeID: String?
        public init(volumeID: String, sourceHost: String, destinationHost: String, newTypeID: String? = nil) {
            self.volumeID = volumeID
            self.sourceHost = sourceHost
            self.destinationHost = destinationHost
            self.newTypeID = newTypeID
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case sourceHost = "source_host"
            case destinationHost = "destination_host"
            case newTypeID = "new_type_id"
        }
    }

    /// What `source_for_copy` answers: where the source backend keeps the volume's data, and on which node.
    public struct CopySource: Codable, Sendable {
        public var node: String
        public var localPath: String
        public init(node: String, localPath: String) {
            self.node = node
            self.localPath = localPath
        }
        enum CodingKeys: String, CodingKey {
            case node
            case localPath = "local_path"
        }
    }

    /// A volume named by id (`source_for_copy`, `remove_stray_copy`).
    public struct VolumeArgs: Codable, Sendable {
        public var volumeID: String
        public init(volumeID: String) { self.volumeID = volumeID }
        enum CodingKeys: String, CodingKey { case volumeID = "volume_id" }
    }

    /// `retype(volume, new_type_id, diff, migration_policy)`: the backend takes the volume's new type in place.
    public struct Retype: Codable, Sendable {
        public var volumeID: String
        public var newTypeID: String
        public init(volumeID: String, newTypeID: String) {
            self.volumeID = volumeID
            self.newTypeID = newTypeID
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case newTypeID = "new_type_id"
        }
    }

    /// `create_group(group)` / `delete_group(group)`: the group's backend makes (with the members a create from
    /// a source lists) or removes it with its volumes.
    public struct GroupArgs: Codable, Sendable {
        public var groupID: String
        public init(groupID: String) { self.groupID = groupID }
        enum CodingKeys: String, CodingKey { case groupID = "group_id" }
    }

    /// `create_group_snapshot(group_snapshot)` / `delete_group_snapshot(group_snapshot)`.
    public struct GroupSnapshotArgs: Codable, Sendable {
        public var groupSnapshotID: String
        public init(groupSnapshotID: String) { self.groupSnapshotID = groupSnapshotID }
        enum CodingKeys: String, CodingKey { case groupSnapshotID = "group_snapshot_id" }
    }

    /// `attachment_update(context, vref, connector, attachment_id)`: the volume service gives the attachment its
    /// connector, exports the volume and stores the connection info, or fails the attachment; it answers the
    /// connection info as stored.
    public struct AttachmentUpdate: Codable, Sendable {
        public var attachmentID: String
        public var volumeID: String
        public var connector: [String: JSONValue]
        /// `rw` or `ro`.
        public var mode: String
        public init(attachmentID: String, volumeID: String, connector: [String: JSONValue], mode: String) {
            self.attachmentID = attachmentID
            self.volumeID = volumeID
            self.connector = connector
            self.mode = mode
        }
        enum CodingKeys: String, CodingKey {
            case attachmentID = "attachment_id"
            case volumeID = "volume_id"
            case connector, mode
        }
    }

    /// `attachment_delete(context, attachment_id, vref)`: the volume service ends the connection (the export
    /// goes once no other attachment holds it) and removes the attachment; with `tolerant`, a failure to end the
    /// connection is only logged (an attachment that never connected).
    public struct AttachmentDelete: Codable, Sendable {
        public var attachmentID: String
        public var volumeID: String
        /// The connector to end the connection of, when the caller names one (Nova's os-terminate_connection).
        public var connector: [String: JSONValue]?
        public var tolerant: Bool
        public init(attachmentID: String, volumeID: String, connector: [String: JSONValue]? = nil, tolerant: Bool) {
            self.attachmentID = attachmentID
            self.volumeID = volumeID
            self.connector = connector
            self.tolerant = tolerant
        }
        enum CodingKeys: String, CodingKey {
            case attachmentID = "attachment_id"
            case volumeID = "volume_id"
            case connector, tolerant
        }
    }

    /// `initialize_connection(volume, connector)` (also what `attachment_update` does): exports the volume and
    /// answers the connection info, `{"driver_volume_type": "iscsi", "data": {…}}`.
    public struct InitializeConnection: Codable, Sendable {
        public var volumeID: String
        public var connector: [String: JSONValue]
        /// `rw` or `ro`.
        public var mode: String
        public var attachmentID: String?
        public init(volumeID: String, connector: [String: JSONValue], mode: String, attachmentID: String? = nil) {
            self.volumeID = volumeID
            self.connector = connector
            self.mode = mode
            self.attachmentID = attachmentID
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case connector, mode
            case attachmentID = "attachment_id"
        }
    }

    /// `terminate_connection(volume, connector, force)`, also what `attachment_delete` does: the export goes
    /// once no live attachment other than `attachmentID` needs it.
    public struct TerminateConnection: Codable, Sendable {
        public var volumeID: String
        public var connector: [String: JSONValue]?
        public var attachmentID: String?
        public init(volumeID: String, connector: [String: JSONValue]?, attachmentID: String?) {
            self.volumeID = volumeID
            self.connector = connector
            self.attachmentID = attachmentID
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case connector
            case attachmentID = "attachment_id"
        }
    }

    /// `create_snapshot(snapshot)` / `delete_snapshot(snapshot, unmanage_only)`.
    public struct SnapshotArgs: Codable, Sendable {
        public var snapshotID: String
        public init(snapshotID: String) { self.snapshotID = snapshotID }
        enum CodingKeys: String, CodingKey { case snapshotID = "snapshot_id" }
    }

    /// `extend_volume(volume, new_size, reservations)`.
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

    /// `revert_to_snapshot(volume, snapshot)`.
    public struct RevertToSnapshot: Codable, Sendable {
        public var volumeID: String
        public var snapshotID: String
        public init(volumeID: String, snapshotID: String) {
            self.volumeID = volumeID
            self.snapshotID = snapshotID
        }
        enum CodingKeys: String, CodingKey {
            case volumeID = "volume_id"
            case snapshotID = "snapshot_id"
        }
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
            try await cast(Method.createVolume, args, host: host, context: context)
        }

        public func deleteVolume(host: String, _ args: DeleteVolume, context: CallerContext) async throws {
            try await cast(Method.deleteVolume, args, host: host, context: context)
        }

        public func createSnapshot(host: String, _ args: SnapshotArgs, context: CallerContext) async throws {
            try await cast(Method.createSnapshot, args, host: host, context: context)
        }

        public func deleteSnapshot(host: String, _ args: SnapshotArgs, context: CallerContext) async throws {
            try await cast(Method.deleteSnapshot, args, host: host, context: context)
        }

        public func createGroup(host: String, _ args: GroupArgs, context: CallerContext) async throws {
            try await cast(Method.createGroup, args, host: host, context: context)
        }

        public func deleteGroup(host: String, _ args: GroupArgs, context: CallerContext) async throws {
            try await cast(Method.deleteGroup, args, host: host, context: context)
        }

        public func createGroupSnapshot(host: String, _ args: GroupSnapshotArgs, context: CallerContext) async throws {
            try await cast(Method.createGroupSnapshot, args, host: host, context: context)
        }

        public func deleteGroupSnapshot(host: String, _ args: GroupSnapshotArgs, context: CallerContext) async throws {
            try await cast(Method.deleteGroupSnapshot, args, host: host, context: context)
        }

        public func migrateVolumeIn(host: String, _ args: MigrateVolumeIn, context: CallerContext) async throws {
            try await cast(Method.migrateVolumeIn, args, host: host, context: context)
        }

        /// Where the source backend keeps a volume's data (a call).
        public func sourceForCopy(
            host: String, _ args: VolumeArgs, context: CallerContext, timeout: Duration? = nil
        ) async throws -> CopySource {
            let reply = try await call(Method.sourceForCopy, args, host: host, context: context, timeout: timeout)
            guard let reply else { throw AshlarError(.driverFailure, "the source backend answered nothing") }
            return try RPCCoding.decoder.decode(CopySource.self, from: reply)
        }

        /// The backend drops its copy of a volume that does not live there.
        public func removeStrayCopy(host: String, _ args: VolumeArgs, context: CallerContext) async throws {
            try await cast(Method.removeStrayCopy, args, host: host, context: context)
        }

        public func copyVolumeToImage(host: String, _ args: CopyVolumeToImage, context: CallerContext) async throws {
            try await cast(Method.copyVolumeToImage, args, host: host, context: context)
        }

        public func retype(host: String, _ args: Retype, context: CallerContext) async throws {
            try await cast(Method.retype, args, host: host, context: context)
        }

        public func extendVolume(host: String, _ args: ExtendVolume, context: CallerContext) async throws {
            try await cast(Method.extendVolume, args, host: host, context: context)
        }

        public func revertToSnapshot(host: String, _ args: RevertToSnapshot, context: CallerContext) async throws {
            try await cast(Method.revertToSnapshot, args, host: host, context: context)
        }

        /// Exports the volume for a connector and returns the connection info (a call: the caller needs it).
        public func initializeConnection(
            host: String, _ args: InitializeConnection, context: CallerContext, timeout: Duration? = nil
        ) async throws -> [String: JSONValue] {
            let reply = try await call(Method.initializeConnection, args, host: host, context: context, timeout: timeout)
            guard let reply else { return [:] }
            return try RPCCoding.decoder.decode([String: JSONValue].self, from: reply)
        }

        /// Ends a connection (a call, so the caller knows the export is gone before it says detached).
        public func terminateConnection(
            host: String, _ args: TerminateConnection, context: CallerContext, timeout: Duration? = nil
        ) async throws {
            _ = try await call(Method.terminateConnection, args, host: host, context: context, timeout: timeout)
        }

        /// Asks the volume service of `host` to finish now what it finds left in a transitional state (a cast).
        public func doCleanup(host: String, context: CallerContext) async throws {
            try await cast(Method.doCleanup, Empty(), host: host, context: context)
        }

        /// Connects an attachment and returns its connection info as stored (a call).
        public func attachmentUpdate(
            host: String, _ args: AttachmentUpdate, context: CallerContext, timeout: Duration? = nil
        ) async throws -> [String: JSONValue] {
            let reply = try await call(Method.attachmentUpdate, args, host: host, context: context, timeout: timeout)
            guard let reply else { return [:] }
            return try RPCCoding.decoder.decode([String: JSONValue].self, from: reply)
        }

        /// Ends an attachment's connection and removes it (a call: the caller answers only once it is gone).
        public func attachmentDelete(
            host: String, _ args: AttachmentDelete, context: CallerContext, timeout: Duration? = nil
        ) async throws {
            _ = try await call(Method.attachmentDelete, args, host: host, context: context, timeout: timeout)
        }

        /// A call to the volume service of `host`, waiting `timeout` or else the transport's `rpc_response_timeout`.
        private func call(
            _ method: String, _ args: some Encodable & Sendable, host: String, context: CallerContext,
            timeout: Duration?
        ) async throws -> Data? {
            try await transport.call(
                RPCMessage(method: method, context: context, arguments: args), to: .volume(host: host),
                timeout: timeout ?? transport.responseTimeout)
        }

        private func cast(
            _ method: String, _ args: some Encodable & Sendable, host: String, context: CallerContext
        ) async throws {
            try await transport.cast(
                RPCMessage(method: method, context: context, arguments: args), to: .volume(host: host))
        }

        /// Asks every volume service to report its capabilities now.
        public func publishServiceCapabilities(context: CallerContext) async throws {
            try await transport.fanout(
                RPCMessage(method: Method.publishServiceCapabilities, context: context, arguments: Empty()),
                topic: topic)
        }

        /// The backend's current capabilities (a call).
        public func getCapabilities(
            host: String, context: CallerContext, timeout: Duration? = nil
        )
            async throws -> [String: JSONValue]
        {
            let reply = try await call(Method.getCapabilities, Empty(), host: host, context: context, timeout: timeout)
            guard let reply else { return [:] }
            return try RPCCoding.decoder.decode([String: JSONValue].self, from: reply)
        }
    }
}
