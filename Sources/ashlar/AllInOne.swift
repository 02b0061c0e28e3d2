import AshlarAPI
import AshlarCore
import AshlarMessaging
import AshlarScheduler
import AshlarStore
import AshlarVolume
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The services of `ashlar serve`, wired to one database and one in-process bus.
struct AllInOne {
    var database: AshlarDatabase
    var services: [any Service]

    static func make(
        config: AshlarConfig, registry: PrometheusCollectorRegistry, logger: Logger
    ) async throws
        -> AllInOne
    {
        try FileManager.default.createDirectory(atPath: config.statePath, withIntermediateDirectories: true)
        let database = try await AshlarDatabase.open(
            connection: config.databaseConnection, options: .init(maxPoolSize: config.databaseMaxPoolSize), logger: logger)
        try await Bootstrap.ensureDefaultType(config: config, database: database, logger: logger)
        let transport = InProcessTransport(logger: logger)
        let reportInterval = Duration.seconds(config.reportInterval)

        var services: [any Service] = []
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
                    messageTTL: config.messageTTL, staleAfter: .seconds(config.staleOperationTimeout)))
        }
        let filterScheduler = try FilterScheduler.make(config.scheduler)
        services.append(
            SchedulerService(
                host: config.host, availabilityZone: config.storageAvailabilityZone, scheduler: filterScheduler,
                maxAttempts: config.scheduler.maxAttempts, initWaitTime: .seconds(config.scheduler.driverInitWaitTime),
                serviceDownTime: config.serviceDownTime, reportInterval: reportInterval, database: database,
                transport: transport, logger: logger, messageTTL: config.messageTTL,
                messageReapInterval: .seconds(config.messageReapInterval),
                staleAfter: .seconds(config.staleOperationTimeout)))
        let environment = APIEnvironment(
            config: config, database: database, transport: transport, registry: registry, logger: logger)
        services.append(
            APIServer.application(
                environment: environment, host: config.listenAddress, port: config.listenPort, logger: logger,
                onReady: { url in
                    logger.info("Ashlar API listening on \(url)/v3 (state in \(config.statePath))")
                    FileHandle.standardOutput.write(Data("Ashlar is ready at \(url)/v3\n".utf8))
                }))
        return AllInOne(database: database, services: services)
    }
}
