import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging
import ServiceLifecycle

/// The scheduler: takes capability reports, places new volumes with the filter scheduler, and tells the user
/// exactly why when nothing fits.
public struct SchedulerService: Service {
    public let host: String
    public let availabilityZone: String
    public let scheduler: FilterScheduler
    public let maxAttempts: Int
    public let initWaitTime: Duration
    public let serviceDownTime: Int
    public let reportInterval: Duration
    public let hostManager: HostManager
    let volumes: VolumeStore
    let types: VolumeTypeStore
    let groups: GroupStore
    let services: ServiceStore
    let messages: MessageStore
    let transport: any RPCTransport
    let logger: Logger
    let startedAt = ContinuousClock.now
    let startedAtDate = Date()
    /// `stale_operation_timeout`, in seconds.
    let staleAfterSeconds: Double
    let snapshots: SnapshotStore
    /// `message_reap_interval`.
    let messageReapInterval: Duration
    /// What heartbeats are judged against, given the database outages this scheduler saw.
    let liveness = LivenessClock()

    public init(
        host: String, availabilityZone: String, scheduler: FilterScheduler, maxAttempts: Int, initWaitTime: Duration,
        serviceDownTime: Int, reportInterval: Duration, database: AshlarDatabase, transport: any RPCTransport,
        logger: Logger, messageTTL: Int = UserMessage.defaultTTL, messageReapInterval: Duration = .seconds(86_400),
        staleAfter: Duration = .seconds(120)
    ) {
        self.staleAfterSeconds = Double(staleAfter.components.seconds)
        self.snapshots = SnapshotStore(db: database)
        self.host = host
        self.availabilityZone = availabilityZone
        self.scheduler = scheduler
        self.maxAttempts = maxAttempts
        self.initWaitTime = initWaitTime
        self.serviceDownTime = serviceDownTime
        self.reportInterval = reportInterval
        self.hostManager = HostManager()
        self.volumes = VolumeStore(db: database)
        self.types = VolumeTypeStore(db: database)
        self.groups = GroupStore(db: database)
        self.services = ServiceStore(db: database)
        self.messages = MessageStore(db: database, ttl: messageTTL)
        self.messageReapInterval = messageReapInterval
        self.transport = transport
        self.logger = logger
    }

    public func run() async throws {
        try await services.register(
            host: host, binary: ServiceRecord.schedulerBinary, topic: SchedulerRPC.topic,
            availabilityZone: availabilityZone)
        let endpoint = SchedulerEndpoint(service: self)
        do {
            // Graceful shutdown cancels the consumers and loops; in-flight messages finish first.
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask {
                        try await transport.serve(topic: SchedulerRPC.topic, server: host, endpoint: endpoint)
                    }
                    group.addTask {
                        // Ask the backends for their capabilities now rather than waiting for their next report.
                        try? await VolumeRPC.Client(transport: transport).publishServiceCapabilities(
                            context: .service(requestID: "req-" + UUID().uuidString.lowercased()))
                        var lastReap = ContinuousClock.now - messageReapInterval
                        // What was accepted before this scheduler started and never placed lost its message with
                        // the process that held it; later, what has waited longer than stale_operation_timeout.
                        var cutoff = startedAtDate
                        while !Task.isCancelled {
                            await recoverUnplaced(changedBefore: cutoff)
                            await recoverUnplacedGroups(changedBefore: cutoff)
                            cutoff = Date().addingTimeInterval(-staleAfterSeconds)
                            do {
                                do {
                                    try await services.heartbeat(host: host, binary: ServiceRecord.schedulerBinary)
                                    liveness.beatSucceeded()
                                } catch {
                                    liveness.beatFailed()
                                    throw error
                                }
                                // User messages past their guaranteed_until go, every message_reap_interval.
                                if ContinuousClock.now - lastReap >= messageReapInterval {
                                    try await messages.reap()
                                    lastReap = ContinuousClock.now
                                }
                            } catch {
                                logger.warning("scheduler heartbeat failed: \(error)")
                            }
                            try await Task.sleep(for: reportInterval)
                        }
                    }
                }
            }
        } catch is CancellationError {
            logger.info("scheduler stopped")
        }
    }

    /// Takes over what the scheduler owns and nobody is working on: volumes accepted but never placed (their
    /// message to a scheduler was lost) are scheduled again, and unplaced volumes being deleted are removed (the
    /// API deletes them at once, unless it stopped first). Placing twice is harmless: only an unplaced volume can
    /// be placed.
    func recoverUnplaced(changedBefore cutoff: Date) async {
        let context = CallerContext.service(requestID: "req-" + UUID().uuidString.lowercased())
        do {
            for volume in try await volumes.unplaced(statusIn: [.creating, .deleting], changedBefore: cutoff) {
                if volume.status == .deleting {
                    try await volumes.delete(volume.id, expected: [.deleting])
                    logger.warning("unplaced volume \(volume.id) was left deleting; removed")
                    continue
                }
                logger.warning("volume \(volume.id) was accepted but never placed; scheduling it again")
                let type = try await types.get(id: volume.volumeTypeID)
                var resourceBackend: String?
                if let snapshotID = volume.snapshotID, let snapshot = try await snapshots.get(snapshotID) {
                    resourceBackend = try await volumes.get(snapshot.volumeID)?.host
                } else if let sourceID = volume.sourceVolumeID {
                    resourceBackend = try await volumes.get(sourceID)?.host
                }
                let spec = RequestSpec(
                    volumeID: volume.id, size: volume.size, availabilityZone: volume.availabilityZone,
                    volumeTypeName: type?.name, extraSpecs: type?.extraSpecs ?? [:], resourceBackend: resourceBackend)
                await createVolume(.init(volumeID: volume.id, requestSpec: spec), context: context)
            }
        } catch {
            logger.error("recovery of unplaced volumes failed: \(error)")
        }
    }

    /// Places a volume and casts its creation to the chosen backend.
    func createVolume(_ args: SchedulerRPC.CreateVolume, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID) else {
                log.warning("volume \(args.volumeID) to schedule no longer exists; nothing to do")
                return
            }
            guard volume.status == .creating, volume.host == nil else {
                log.warning(
                    "volume \(volume.id) is \(volume.status.rawValue) on \(volume.host ?? "no host"), not waiting to be scheduled; left as it is"
                )
                return
            }
            var spec = args.requestSpec
            if spec.attemptedHosts.count >= maxAttempts {
                try await fail(
                    volume, context: context,
                    detail:
                        "Exceeded the maximum number of scheduling attempts (\(maxAttempts)); tried \(spec.attemptedHosts.joined(separator: ", "))."
                )
                return
            }
            await waitForFirstReports()
            spec.volumeHostsForHints = try await hintedVolumeHosts(spec.schedulerHints)
            try await refreshUsableBackends()
            switch await hostManager.place(spec, with: scheduler) {
            case .chosen(let pool):
                guard
                    try await volumes.update(
                        volume.id, where: .init(statusIn: [.creating], hostEquals: .some(nil)),
                        set: .init(host: .some(pool.name), availabilityZone: pool.availabilityZone)) != nil
                else {
                    log.warning(
                        "volume \(volume.id) was placed or left creating while it was scheduled; not cast to \(pool.name)")
                    return
                }
                CrashPoint.schedulerCreatePlaced.reach()
                log.info("volume \(volume.id) scheduled to \(pool.name)")
                spec.availabilityZone = spec.availabilityZone ?? pool.availabilityZone
                try await VolumeRPC.Client(transport: transport).createVolume(
                    host: pool.name, .init(volumeID: volume.id, requestSpec: spec), context: context)
            case .noValidBackend(let rejections):
                var detail = "No valid backend was found."
                if rejections.isEmpty {
                    detail += " No volume service is up and enabled."
                } else if !rejections.isEmpty {
                    detail += " " + rejections.map(\.description).joined(separator: "; ") + "."
                }
                try await fail(volume, context: context, detail: detail)
            }
        } catch {
            log.error("scheduling volume \(args.volumeID) failed: \(error)")
            if let volume = try? await volumes.get(args.volumeID) {
                // The error itself goes to the log only: its text is the system's, not the user's.
                try? await fail(volume, context: context, detail: "Scheduling failed: the scheduler could not complete its decision; delete the volume and try again.")
            }
        }
    }

    /// Checks that the volume's own pool can take the growth (CapacityFilter for the difference), records it,
    /// and hands the extend to the backend; when it cannot, the volume returns to its previous status and the
    /// user is told why.
    func extendVolume(_ args: SchedulerRPC.ExtendVolume, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .extending,
                let host = volume.host
            else {
                log.warning("volume \(args.volumeID) is no longer extending; the extend is dropped")
                return
            }
            await waitForFirstReports()
            let type = try await types.get(id: volume.volumeTypeID)
            let spec = RequestSpec(
                volumeID: volume.id, size: args.newSize - volume.size, volumeTypeName: type?.name,
                extraSpecs: type?.extraSpecs ?? [:], resourceBackend: host)
            let reason: String?
            switch await hostManager.place(spec, with: FilterScheduler(filters: [CapacityFilter()], weighers: [])) {
            case .chosen: reason = nil
            case .noValidBackend(let rejections):
                reason = rejections.first { $0.pool == host }?.description
                    ?? "no capability report from \(host) has reached the scheduler"
            }
            guard let reason else {
                try await VolumeRPC.Client(transport: transport).extendVolume(
                    host: host, .init(volumeID: volume.id, newSize: args.newSize), context: context)
                return
            }
            log.warning("extend of volume \(volume.id) refused: \(reason)")
            try await volumes.apply(.extendRefused, to: volume.id)
            try await messages.insert(
            projectID: volume.projectID, requestID: context.requestID, resourceType: "VOLUME", resourceID: volume.id,
            eventID: "VOLUME_VOLUME_001_003", "extend volume: No valid backend was found. \(reason).")
        } catch {
            log.error("extending volume \(args.volumeID) failed: \(error)")
        }
    }

    /// The scheduler's logger with the request id of `context`.
    func logger(for context: CallerContext) -> Logger {
        var log = logger
        log[metadataKey: "request_id"] = "\(context.requestID)"
        return log
    }

    /// Tells the host manager which backends may not take volumes now: down (no heartbeat within
    /// `service_down_time`), disabled or frozen. One query per decision that returns only those, usually none.
    func refreshUsableBackends() async throws {
        let unusable = try await services.unusableHosts(
            binary: ServiceRecord.volumeBinary, downTime: serviceDownTime,
            now: liveness.asOf(downTime: serviceDownTime))
        await hostManager.setUnusable(Set(unusable))
    }

    /// Where the volumes named by the affinity hints (`same_host`, `different_host`) live, for the
    /// Same/DifferentBackendFilter; volumes that do not exist (or are not placed) are left out.
    func hintedVolumeHosts(_ hints: [String: JSONValue]) async throws -> [String: String] {
        var ids: [String] = []
        for key in ["same_host", "different_host"] {
            switch hints[key] {
            case .string(let id): ids.append(id)
            case .array(let list): ids += list.compactMap(\.stringValue)
            default: break
            }
        }
        var hosts: [String: String] = [:]
        for id in ids {
            if let host = try await volumes.get(id)?.host { hosts[id] = host }
        }
        return hosts
    }

    /// After a start, waits (up to `scheduler_driver_init_wait_time`) for the first reports before deciding.
    func waitForFirstReports() async {
        var lastAsked = ContinuousClock.now
        while await !hostManager.hasReports, ContinuousClock.now - startedAt < initWaitTime {
            // A report fanned out before this scheduler listened is lost (as on a broker): ask again each second.
            if ContinuousClock.now - lastAsked > .seconds(1) {
                lastAsked = ContinuousClock.now
                try? await VolumeRPC.Client(transport: transport).publishServiceCapabilities(
                    context: .service(requestID: "req-" + UUID().uuidString.lowercased()))
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func fail(_ volume: Volume, context: CallerContext, detail: String) async throws {
        logger.warning(
            "volume \(volume.id) could not be scheduled: \(detail)", metadata: ["request_id": "\(context.requestID)"])
        try await volumes.failCreate(
            volume, messages: messages, requestID: context.requestID, eventID: "VOLUME_VOLUME_001_003",
            message: "schedule allocate volume: \(detail)")
    }
}

/// The RPC face of the scheduler.
struct SchedulerEndpoint: RPCEndpoint {
    let service: SchedulerService

    func handle(_ message: RPCMessage) async throws -> Data? {
        switch message.method {
        case SchedulerRPC.Method.createVolume:
            await service.createVolume(try message.arguments(SchedulerRPC.CreateVolume.self), context: message.context)
            return nil
        case SchedulerRPC.Method.extendVolume:
            await service.extendVolume(try message.arguments(SchedulerRPC.ExtendVolume.self), context: message.context)
            return nil
        case SchedulerRPC.Method.migrateVolume:
            await service.migrateVolume(try message.arguments(SchedulerRPC.MigrateVolume.self), context: message.context)
            return nil
        case SchedulerRPC.Method.retype:
            await service.retype(try message.arguments(SchedulerRPC.Retype.self), context: message.context)
            return nil
        case SchedulerRPC.Method.createGroup:
            await service.createGroup(try message.arguments(VolumeRPC.GroupArgs.self), context: message.context)
            return nil
        case SchedulerRPC.Method.doCleanup:
            await service.recoverUnplaced(changedBefore: Date())
            await service.recoverUnplacedGroups(changedBefore: Date())
            return nil
        case SchedulerRPC.Method.updateServiceCapabilities:
            let report = try message.arguments(SchedulerRPC.CapabilityReport.self)
            await service.hostManager.update(
                backend: report.host, availabilityZone: report.availabilityZone, capabilities: report.capabilities,
                timestamp: report.timestamp)
            return nil
        case SchedulerRPC.Method.getPools:
            let filters = try message.arguments(SchedulerRPC.GetPools.self)
            var pools = await service.hostManager.allPools().sorted { $0.name < $1.name }
            if let name = filters.name { pools = pools.filter { $0.name == name } }
            for (key, wanted) in filters.capabilities ?? [:] {
                // As Cinder compares them: both sides as text.
                pools = pools.filter { pool in
                    guard let value = pool.capabilities[key] else { return false }
                    return (value.stringValue ?? value.rendered) == wanted
                }
            }
            if let specs = filters.extraSpecs {
                let fits = CapabilitiesFilter().compiled(for: RequestSpec(volumeID: "", size: 0, extraSpecs: specs))
                pools = pools.filter { fits($0) == nil }
            }
            let list: [JSONValue] = pools.map {
                .object(["name": .string($0.name), "capabilities": .object($0.capabilities)])
            }
            return try RPCCoding.encoder.encode(JSONValue.array(list))
        default:
            throw AshlarError(.invalidInput, "The scheduler has no method \(message.method).")
        }
    }
}
