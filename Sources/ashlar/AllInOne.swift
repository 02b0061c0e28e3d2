import AshlarAPI
import AshlarCore
import AshlarGlance
import AshlarImages
import AshlarMessaging
import AshlarScheduler
import AshlarStore
import AshlarVolume
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The services one process runs — all of them (`ashlar serve`) or one role (`ashlar api`, `ashlar scheduler`,
/// `ashlar volume`) — wired to one database and one bus: RabbitMQ when `transport_url` is set, else the in-process
/// bus (which only `serve` can use: separate processes need a broker between them).
struct AllInOne {
    /// What a process runs.
    enum Role: String, CaseIterable, Sendable {
        case api, scheduler, volume
    }

    var database: AshlarDatabase
    var services: [any Service]
    /// The bus, closed after the services stop.
    var closeBus: @Sendable () async -> Void

    static func make(
        config: AshlarConfig, process: ProcessOptions = .init(), roles: Set<Role> = Set(Role.allCases),
        registry: PrometheusCollectorRegistry, logger: Logger
    ) async throws
        -> AllInOne
    {
        let transport: any RPCTransport
        var closeBus: @Sendable () async -> Void = {}
        if process.messaging.transportURL != nil {
            let rabbit = try RabbitTransport(options: process.messaging, logger: logger)
            await rabbit.start()
            transport = rabbit
            closeBus = { await rabbit.close() }
        } else if roles.count == Role.allCases.count {
            transport = InProcessTransport(
                logger: logger, responseTimeout: .seconds(process.messaging.rpcResponseTimeout))
        } else {
            throw AshlarError(
                .invalidInput,
                "transport_url is not set: `ashlar \(roles.map(\.rawValue).sorted().joined(separator: ", "))` talks to the other services over RabbitMQ (transport_url = rabbit://USER:PASSWORD@HOST:5672/); `ashlar serve` runs everything in one process without one"
            )
        }
        if roles.contains(.volume) {
            try FileManager.default.createDirectory(atPath: config.statePath, withIntermediateDirectories: true)
        }
        let database = try await AshlarDatabase.open(
            connection: config.databaseConnection, options: .init(
                maxPoolSize: config.databaseMaxPoolSize, leaseTimeout: .seconds(process.databasePoolTimeout)),
            logger: logger)
        let reportInterval = Duration.seconds(config.reportInterval)
        var services: [any Service] = []
        // The Image service: Glance when `glance_api_servers` names it, else the store the API serves under
        // `/image`, which a process with the API and the volume service reads directly.
        var imageStore: LocalImageStore?
        let images: (any ImageService)?
        if !config.images.glanceAPIServers.isEmpty {
            images = GlanceClient(options: config.images, logger: logger)
        } else if roles.contains(.api) {
            let store = LocalImageStore(directory: config.statePath + "/images", database: database)
            try store.prepare()
            imageStore = store
            images = store
        } else {
            images = nil
            logger.notice("glance_api_servers is not set: volumes cannot be made from or uploaded to images here")
        }
        if roles.contains(.volume) {
            for backend in config.backends {
                let driver = FileDriver(
                    directory: backend.fileVolumeDir, backendName: backend.volumeBackendName,
                    capacityGB: backend.fileCapacityGB, reservedPercentage: backend.reservedPercentage,
                    maxOverSubscriptionRatio: backend.maxOverSubscriptionRatio,
                    extraCapabilities: backend.extraCapabilities, filterFunction: backend.filterFunction,
                    goodnessFunction: backend.goodnessFunction)
                let iscsi = try ISCSIConfig(backend: backend)
                services.append(
                    VolumeManager(
                        host: backend.host, backendName: backend.volumeBackendName,
                        availabilityZone: backend.backendAvailabilityZone ?? config.storageAvailabilityZone,
                        driver: driver, database: database, transport: transport, reportInterval: reportInterval,
                        logger: logger, target: try ISCSIConfig.target(for: backend, config: iscsi), iscsi: iscsi,
                        messageTTL: config.messageTTL, staleAfter: .seconds(config.staleOperationTimeout),
                        images: images, imageOptions: config.images))
            }
        }
        if roles.contains(.scheduler) {
            let filterScheduler = try FilterScheduler.make(config.scheduler)
            services.append(
                SchedulerService(
                    host: config.host, availabilityZone: config.storageAvailabilityZone, scheduler: filterScheduler,
                    maxAttempts: config.scheduler.maxAttempts,
                    initWaitTime: .seconds(config.scheduler.driverInitWaitTime),
                    serviceDownTime: config.serviceDownTime, reportInterval: reportInterval, database: database,
                    transport: transport, logger: logger, messageTTL: config.messageTTL,
                    messageReapInterval: .seconds(config.messageReapInterval),
                    staleAfter: .seconds(config.staleOperationTimeout)))
        }
        if roles.contains(.api) {
            try await Bootstrap.ensureDefaultType(config: config, database: database, logger: logger)
            let environment = APIEnvironment(
                config: config, database: database, transport: transport, registry: registry, logger: logger,
                images: images, imageStore: imageStore)
            services.append(
                APIServer.application(
                    environment: environment, host: config.listenAddress, port: config.listenPort, logger: logger,
                    onReady: { url in
                        logger.info("Ashlar API listening on \(url)/v3 (state in \(config.statePath))")
                        FileHandle.standardOutput.write(Data("Ashlar is ready at \(url)/v3\n".utf8))
                    }))
        } else {
            FileHandle.standardOutput.write(
                Data("Ashlar \(roles.map(\.rawValue).sorted().joined(separator: ", ")) is running\n".utf8))
        }
        return AllInOne(database: database, services: services, closeBus: closeBus)
    }
}
