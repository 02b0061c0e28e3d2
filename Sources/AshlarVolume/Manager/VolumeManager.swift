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
    /// For the front-end QoS limits an attach hands to the host.
    let qosSpecs: QoSSpecsStore
    let types: VolumeTypeStore
    let groups: GroupStore
    let groupSnapshots: GroupSnapshotStore
    /// The iSCSI target that exports this backend's volumes (`target_helper`); nil exports nothing.
    public let target: (any ISCSITarget)?
    public let iscsi: ISCSIConfig
    /// Target changes one at a time: tgtadm picks target ids by looking at the ones in use.
    let targetQueue = AsyncSerialQueue()
    /// The target daemon's last known state, so that a change is logged once.
    let targetHealth = TargetHealth()
    /// Whether a detached capability report is still going out.
    let reportInFlight = ReportInFlight()
    /// What this service's operations are working on now.
    let inFlight = InFlight()
    /// How long a resource may stay in a transitional state untouched before the periodic sweep takes it over
    /// (`stale_operation_timeout`).
    public let staleAfter: Duration
    public let services: ServiceStore
    public let transport: any RPCTransport
    public let reportInterval: Duration
    public let logger: Logger
    /// Where volumes from images come from and uploads go; nil refuses both.
    public let images: (any ImageService)?
    public let imageOptions: ImageOptions
    /// Where this backend downloads and converts images (`image_conversion_dir`, one folder per backend).
    let conversionDirectory: String
    /// Copies of images written to volumes, for copy-on-write clones of the next ones (`image_volume_cache_*`).
    let imageCache: ImageVolumeCache?

    public init(
        host: String, backendName: String, availabilityZone: String, driver: any VolumeDriver, database: AshlarDatabase,
        transport: any RPCTransport, reportInterval: Duration, logger: Logger, target: (any ISCSITarget)? = nil,
        iscsi: ISCSIConfig = ISCSIConfig(), messageTTL: Int = UserMessage.defaultTTL,
        staleAfter: Duration = .seconds(120), images: (any ImageService)? = nil, imageOptions: ImageOptions = .init()
    ) {
        self.staleAfter = staleAfter
        self.images = images
        self.imageOptions = imageOptions
        let backendFolder = host.replacingOccurrences(of: "/", with: "_")
        self.conversionDirectory =
            (imageOptions.conversionDirectory ?? NSTemporaryDirectory() + "ashlar-conversion") + "/" + backendFolder
        self.imageCache = imageOptions.cacheEnabled
            ? driver.imageCacheDirectory.map {
                ImageVolumeCache(directory: $0, maxSizeGB: imageOptions.cacheMaxSizeGB, maxCount: imageOptions.cacheMaxCount)
            } : nil
        self.host = host
        self.backendName = backendName
        self.availabilityZone = availabilityZone
        self.driver = driver
        self.volumes = VolumeStore(db: database)
        self.snapshots = SnapshotStore(db: database)
        self.messages = MessageStore(db: database, ttl: messageTTL)
        self.attachments = AttachmentStore(db: database)
        self.qosSpecs = QoSSpecsStore(db: database)
        self.types = VolumeTypeStore(db: database)
        self.groups = GroupStore(db: database)
        self.groupSnapshots = GroupSnapshotStore(db: database)
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
            prepareImageFolders()
            await recoverInterruptedWork()
            await removeUnheldExports()
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
                        // Each round also takes over what has stayed in a transitional state too long.
                        while !Task.isCancelled {
                            await reportState(driverReady: ready, detached: true)
                            if ready {
                                let seconds = Double(staleAfter.components.seconds)
                                    + Double(staleAfter.components.attoseconds) / 1e18
                                await recoverInterruptedWork(olderThan: Date().addingTimeInterval(-seconds))
                            }
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
    ///
    /// With `detached`, the capability report goes out in a task of its own (one at a time), so that the next
    /// heartbeat never waits on the bus: with the broker away a publish waits up to 10 s for a connection, and the
    /// service would look down to the scheduler although its database heartbeat could go on.
    func reportState(driverReady: Bool, detached: Bool = false) async {
        do {
            let targetProblem = await target?.checkReachable()
            noteTarget(problem: targetProblem)
            try await services.heartbeat(
                host: host, binary: ServiceRecord.volumeBinary, backendState: driverReady ? "up" : "down")
            if driverReady && targetProblem == nil { await ensureExports() }
            guard driverReady else { return }
            if !detached {
                try await publishCapabilities(targetProblem: targetProblem)
            } else if reportInFlight.begin() {
                Task {
                    defer { reportInFlight.end() }
                    do {
                        try await publishCapabilities(targetProblem: targetProblem)
                    } catch {
                        logger.warning("could not report capabilities: \(error)")
                    }
                }
            }
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

    /// Finishes what was left in a transitional state on this backend, so that nothing stays there: at start
    /// (`olderThan` nil) everything, since nothing is in flight yet; on the periodic sweep, what has not moved
    /// since `olderThan` and no operation of this service is working on (a message lost between services).
    ///
    /// Better than upstream, which fails what it finds half-done: what was accepted is done again from the start
    /// when its inputs still exist — a create, clone or copy from a snapshot, a snapshot, a delete, an extend, a
    /// revert — and ends in `error` only when it cannot be redone. Each recovery tells the project in a user
    /// message.
    func recoverInterruptedWork(olderThan cutoff: Date? = nil) async {
        let context = CallerContext.service(requestID: "req-" + UUID().uuidString.lowercased())
        func stale(_ id: String, changed: Date) -> Bool {
            guard let cutoff else { return true }
            return changed < cutoff && !inFlight.contains(id)
        }
        do {
            // Snapshots first: a volume being made from a snapshot needs the snapshot's data.
            for snapshot in try await snapshots.onBackend(host)
            where stale(snapshot.id, changed: snapshot.updatedAt ?? snapshot.createdAt) {
                switch snapshot.status {
                case .creating:
                    logger.warning("snapshot \(snapshot.id) was left creating; taking it again")
                    await tell(
                        snapshot.projectID, "VOLUME_SNAPSHOT", snapshot.id, eventID: "VOLUME_VOLUME_SNAPSHOT_004_030",
                        "create snapshot: the volume service stopped while taking the snapshot; it was taken again.",
                        context: context)
                    await inFlight.during(snapshot.id) { await createSnapshot(snapshot.id, context: context) }
                case .deleting:
                    await inFlight.during(snapshot.id) { await deleteSnapshot(snapshot.id, context: context) }
                case .restoring:
                    // A revert whose volume is no longer reverting has ended (or never started): the snapshot is
                    // as it was.
                    if try await volumes.get(snapshot.volumeID)?.status != .reverting {
                        try await snapshots.apply(.restoreEnded, to: snapshot.id)
                    }
                default:
                    break
                }
            }
            for volume in try await volumes.onBackend(host)
            where stale(volume.id, changed: volume.updatedAt ?? volume.createdAt) {
                switch volume.status {
                case .creating, .downloading:
                    logger.warning("volume \(volume.id) was left \(volume.status.rawValue); making it again from the start")
                    await tell(
                        volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_003_030",
                        "create volume from backend storage: the volume service stopped while making the volume; it was made again from the start.",
                        context: context)
                    let spec = RequestSpec(volumeID: volume.id, size: volume.size, resourceBackend: volume.host)
                    await inFlight.during(volume.id) {
                        await create(.init(volumeID: volume.id, requestSpec: spec, allowReschedule: false), context: context)
                    }
                case .deleting, .errorManagingDeleting:
                    await inFlight.during(volume.id) { await delete(volume.id, context: context) }
                case .uploading:
                    logger.warning("volume \(volume.id) was left uploading; the upload is given up")
                    await abandonUpload(volume, context: context)
                case .extending:
                    if let size = volume.extendTo {
                        await inFlight.during(volume.id) {
                            await extend(.init(volumeID: volume.id, newSize: size), context: context)
                        }
                    } else {
                        try await volumes.apply(.extendRefused, to: volume.id)
                    }
                case .retyping where ["starting", "migrating"].contains(volume.migrationStatus ?? ""),
                    .maintenance where ["starting", "migrating"].contains(volume.migrationStatus ?? ""):
                    // A move given up: the volume is where its row says, as before the move.
                    logger.warning("volume \(volume.id) was left moving; the move is given up")
                    try await abandonMove(volume, context: context)
                case .retyping:
                    // The type changes only in the statement that ends the retype: undone, the volume is as it was.
                    if try await volumes.apply(.retypeFailed, to: volume.id) != nil {
                        await tell(
                            volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_001_030",
                            "retype volume: the service stopped before the retype was done; the volume keeps its type, retype it again.",
                            context: context)
                    }
                case .reverting:
                    if let snapshot = try await snapshots.of(volumeID: volume.id).first(where: { $0.status == .restoring }) {
                        await inFlight.during(volume.id) {
                            await revert(.init(volumeID: volume.id, snapshotID: snapshot.id), context: context)
                        }
                    } else if try await volumes.apply(.revertAbandoned, to: volume.id) != nil {
                        // Stopped before the snapshot was claimed: nothing was changed, so nothing is reverted.
                        await tell(
                            volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_009_030",
                            "revert to snapshot: the service stopped before the revert began; the volume is unchanged, revert it again.",
                            context: context)
                    }
                default:
                    break
                }
            }
            try await recoverGroups(context: context, stale: stale)
            // An attachment whose connection was being made when the service stopped: the host never got its
            // connection info, so it is failed (it may be given its connector again) and the volume follows.
            for attachment in try await attachments.onBackend(host)
            where stale(attachment.id, changed: attachment.updatedAt ?? attachment.createdAt) {
                // Detached but not yet removed when the service stopped: the removal is finished.
                if attachment.status == .detached {
                    try await attachments.delete(attachment.id)
                    try await volumes.settleAttachStatus(attachment.volumeID)
                    logger.warning("attachment \(attachment.id) was left detached; removed")
                    continue
                }
                guard attachment.status == .attaching, (attachment.connectionInfo ?? [:]).isEmpty else { continue }
                guard try await attachments.apply(.connectFailed, to: attachment.id) != nil else { continue }
                try await volumes.settleAttachStatus(attachment.volumeID)
                logger.warning("attachment \(attachment.id) was left connecting; failed so that it can be connected again")
                await tell(
                    attachment.projectID, "VOLUME", attachment.volumeID, eventID: "VOLUME_VOLUME_004_030",
                    "update attachment: the service stopped while connecting the attachment; give it its connector again.",
                    context: context)
            }
        } catch {
            logger.error("recovery of interrupted work failed: \(error)")
        }
    }

    /// A user message about what recovery did.
    func tell(
        _ projectID: String, _ resourceType: String, _ id: String, eventID: String, _ text: String,
        context: CallerContext
    ) async {
        try? await messages.insert(
            projectID: projectID, requestID: context.requestID, resourceType: resourceType, resourceID: id,
            eventID: eventID, text)
    }
}

/// The resources an operation of this service is working on now, so that the periodic sweep never takes over
/// one that is merely slow.
final class InFlight: Sendable {
    private let ids = Mutex<[String: Int]>([:])

    func contains(_ id: String) -> Bool { ids.withLock { $0[id] != nil } }

    /// Runs `body` with `id` marked as worked on.
    func during<T: Sendable>(_ id: String, _ body: () async throws -> T) async rethrows -> T {
        ids.withLock { $0[id, default: 0] += 1 }
        defer {
            ids.withLock { ids in
                ids[id, default: 1] -= 1
                if ids[id] == 0 { ids[id] = nil }
            }
        }
        return try await body()
    }
}

/// One capability report at a time: a round whose report is still waiting for the bus sends none.
final class ReportInFlight: Sendable {
    private let busy = Mutex(false)

    /// Marks a report as going out; false when one already is.
    func begin() -> Bool {
        busy.withLock { busy in
            defer { busy = true }
            return !busy
        }
    }

    func end() { busy.withLock { $0 = false } }
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
