import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The volume service of one backend (`host@backend`): registers itself, recovers what a crash interrupted,
/// heartbeats and reports capabilities, and serves the backend's RPC topic.
public struct VolumeManager: Service {
    /// `node@backend`.
    public let host: String
    public let backendName: String
    public let availabilityZone: String
    public let driver: any VolumeDriver
    public let volumes: VolumeStore
    public let snapshots: SnapshotStore
    let messages: MessageStore
    public let attachments: AttachmentStore
    /// The iSCSI target that exports this backend's volumes (`target_helper`); nil exports nothing.
    public let target: (any ISCSITarget)?
    public let iscsi: ISCSIConfig
    /// Target changes one at a time: tgtadm picks target ids by looking at the ones in use.
    let targetQueue = AsyncSerialQueue()
    /// The target daemon's last known state, so that a change is logged once.
    let targetHealth = TargetHealth()
    public let services: ServiceStore
    public let transport: any RPCTransport
    public let reportInterval: Duration
    public let logger: Logger

    public init(
        host: String, backendName: String, availabilityZone: String, driver: any VolumeDriver, database: AshlarDatabase,
        transport: any RPCTransport, reportInterval: Duration, logger: Logger, target: (any ISCSITarget)? = nil,
        iscsi: ISCSIConfig = ISCSIConfig(), messageTTL: Int = UserMessage.defaultTTL
    ) {
        self.host = host
        self.backendName = backendName
        self.availabilityZone = availabilityZone
        self.driver = driver
        self.volumes = VolumeStore(db: database)
        self.snapshots = SnapshotStore(db: database)
        self.messages = MessageStore(db: database, ttl: messageTTL)
        self.attachments = AttachmentStore(db: database)
        self.target = target
        self.iscsi = iscsi
        self.services = ServiceStore(db: database)
        self.transport = transport
        self.reportInterval = reportInterval
        var logger = logger
        logger[metadataKey: "backend"] = "\(host)"
        self.logger = logger
    }

    var scheduler: SchedulerRPC.Client { .init(transport: transport) }

    public func run() async throws {
        try await services.register(
            host: host, binary: ServiceRecord.volumeBinary, topic: VolumeRPC.topic, availabilityZone: availabilityZone)
        var driverReady = false
        do {
            try await driver.doSetup()
            driverReady = true
        } catch {
            logger.error("driver setup failed; the backend stays down: \(error)")
            try await services.heartbeat(host: host, binary: ServiceRecord.volumeBinary, backendState: "down")
        }
        if driverReady {
            await recoverInterruptedWork()
            await ensureExports()
        }
        let ready = driverReady
        let endpoint = VolumeEndpoint(manager: self)
        let node = host.split(separator: "@").first.map(String.init) ?? host
        do {
            // Graceful shutdown cancels the consumers and loops; in-flight messages finish first.
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    // Cinder's two targets: (cinder-volume, node@backend) takes the fanouts to every volume
                    // service; (cinder-volume.node@backend, node) is where clients address this backend.
                    group.addTask {
                        try await transport.serve(topic: VolumeRPC.topic, server: host, endpoint: endpoint)
                    }
                    group.addTask {
                        try await transport.serve(topic: "\(VolumeRPC.topic).\(host)", server: node, endpoint: endpoint)
                    }
                    group.addTask {
                        // Heartbeat and report until shutdown; a failed round is logged and retried next interval.
                        while !Task.isCancelled {
                            await reportState(driverReady: ready)
                            try await Task.sleep(for: reportInterval)
                        }
                    }
                }
            }
        } catch is CancellationError {
            logger.info("volume service stopped")
        }
    }

    /// Heartbeat plus a capability report to the schedulers. `backend_state` is the storage's own state: a
    /// backend whose target daemon does not answer still makes volumes, so it stays up, and its report says that
    /// attaching waits for the daemon (`iscsi_target_state`). That is logged once when it happens and once when
    /// it ends, not every round; the exports are put back as soon as the daemon answers again (a restarted tgtd
    /// has none).
    func reportState(driverReady: Bool) async {
        do {
            let targetProblem = await target?.checkReachable()
            noteTarget(problem: targetProblem)
            try await services.heartbeat(
                host: host, binary: ServiceRecord.volumeBinary, backendState: driverReady ? "up" : "down")
            if driverReady && targetProblem == nil { await ensureExports() }
            if driverReady { try await publishCapabilities(targetProblem: targetProblem) }
        } catch {
            logger.warning("could not report state: \(error)")
        }
    }

    /// Logs a change of the target daemon's reachability, once per change.
    func noteTarget(problem: String?) {
        let before = targetHealth.swap(problem)
        guard before.map({ $0 != problem }) ?? true else { return }
        if let problem {
            logger.warning(
                "volumes can be created, but attaching waits for the iSCSI target daemon: \(problem)")
        } else if case .some(.some) = before {
            logger.info("the iSCSI target daemon answers again; volumes can be attached")
        }
    }

    func publishCapabilities() async throws {
        try await publishCapabilities(targetProblem: await target?.checkReachable())
    }

    /// Reports with the target's state already known (the report round has just asked the daemon).
    func publishCapabilities(targetProblem: String?) async throws {
        var capabilities = try await currentCapabilities()
        if target != nil { Self.markTarget(&capabilities, problem: targetProblem) }
        try await scheduler.updateServiceCapabilities(
            .init(
                serviceName: VolumeRPC.topic, host: host, availabilityZone: availabilityZone,
                capabilities: capabilities, timestamp: Date().timeIntervalSince1970),
            context: .service(requestID: "req-" + UUID().uuidString.lowercased()))
    }

    func currentCapabilities() async throws -> [String: JSONValue] {
        // Provisioned space is what volumes and snapshots could grow to: a snapshot may come to hold all of its
        // volume's data once the volume is overwritten, copy-on-write or not.
        let placed = try await volumes.onBackend(host)
        let snapshotted = try await snapshots.onBackend(host)
        let provisioned =
            placed.reduce(0) { $0 + max($1.size, $1.extendTo ?? 0) } + snapshotted.reduce(0) { $0 + $1.volumeSize }
        return try await driver.stats(provisionedGB: provisioned, volumeCount: placed.count)
    }

    /// Finishes or fails what a previous run left in flight, so that nothing stays in a transitional state:
    /// `creating` becomes `error` (its file, if any, is removed, and its quota released), `deleting` is deleted
    /// again; an extend or a revert, both safe to repeat, is done again; a snapshot being created becomes `error`
    /// and one being deleted is deleted again.
    func recoverInterruptedWork() async {
        let context = CallerContext.service(requestID: "req-" + UUID().uuidString.lowercased())
        do {
            for snapshot in try await snapshots.onBackend(host) {
                switch snapshot.status {
                case .creating:
                    try? await driver.deleteSnapshot(id: snapshot.id)
                    try await snapshots.update(
                        snapshot.id, statusIn: [.creating], set: .init(status: .error, consumesQuota: false))
                    logger.info("snapshot \(snapshot.id) was being created when the service stopped; set to error")
                case .deleting:
                    await deleteSnapshot(snapshot.id, context: context)
                default:
                    break
                }
            }
            for volume in try await volumes.onBackend(host) {
                switch volume.status {
                case .creating:
                    try? await driver.deleteVolume(id: volume.id)
                    try await volumes.failCreate(
                        volume, requestID: context.requestID, eventID: "VOLUME_VOLUME_003_009",
                        message: "create volume from backend storage: the volume service stopped while creating it.")
                    logger.info("volume \(volume.id) was being created when the service stopped; set to error")
                case .deleting, .errorManagingDeleting:
                    await delete(volume.id, context: context)
                case .extending:
                    if let size = volume.extendTo {
                        await extend(.init(volumeID: volume.id, newSize: size), context: context)
                    }
                case .reverting:
                    if let snapshot = try await snapshots.of(volumeID: volume.id).first(where: { $0.status == .restoring }) {
                        await revert(.init(volumeID: volume.id, snapshotID: snapshot.id), context: context)
                    }
                default:
                    break
                }
            }
        } catch {
            logger.error("start-up recovery failed: \(error)")
        }
    }
}

/// The target daemon's last known problem: `.some(nil)` reachable, nil not asked yet.
final class TargetHealth: Sendable {
    private let last = Mutex<String??>(nil)

    /// Records `problem` and returns what was recorded before.
    func swap(_ problem: String?) -> String?? {
        last.withLock { last in
            defer { last = .some(problem) }
            return last
        }
    }
}
