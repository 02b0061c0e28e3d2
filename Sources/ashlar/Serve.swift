import ArgumentParser
import AshlarAPI
import AshlarCore
import AshlarMessaging
import AshlarScheduler
import AshlarStore
import AshlarVolume
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

/// The options every service command takes.
struct ServiceOptions: ParsableArguments {
    @Option(name: .customLong("config-file"), help: "A cinder.conf-style file; repeatable, later files win.")
    var configFiles: [String] = []

    @Flag(name: .customLong("debug"), help: "Log at debug level.")
    var debug = false
}

/// The API's listener, overriding `osapi_volume_listen` and `osapi_volume_listen_port`.
struct ListenOptions: ParsableArguments {
    @Option(name: .customLong("bind"), help: "Listen address (default 127.0.0.1).")
    var bind: String?

    @Option(name: .customLong("port"), help: "Listen port (default 8776; 0 picks a free one).")
    var port: Int?
}

/// `ashlar serve`: API, scheduler and every configured volume backend in one process, over SQLite and the
/// in-process bus unless the configuration names a database and a broker.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the API, scheduler and volume services in one process (the embedded default).")

    @OptionGroup var options: ServiceOptions
    @OptionGroup var listen: ListenOptions
    @Option(name: .customLong("state-path"), help: "Where the database and volumes live (default ./ashlar-data).")
    var statePath: String?

    func run() async throws {
        try await ServiceProcess.run(
            roles: Set(AllInOne.Role.allCases), options: options,
            overrides: .init(statePath: statePath, listenAddress: listen.bind, listenPort: listen.port))
    }
}

/// `ashlar api`: the Block Storage API (as cinder-api), over RabbitMQ and a shared database.
struct API: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Run the Block Storage API (needs transport_url and a shared database).")

    @OptionGroup var options: ServiceOptions
    @OptionGroup var listen: ListenOptions

    func run() async throws {
        try await ServiceProcess.run(
            roles: [.api], options: options, overrides: .init(listenAddress: listen.bind, listenPort: listen.port))
    }
}

/// `ashlar scheduler`: the scheduler (as cinder-scheduler).
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Run the scheduler (needs transport_url and a shared database).")

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        try await ServiceProcess.run(roles: [.scheduler], options: options, overrides: .init())
    }
}

/// `ashlar volume`: one volume service per `enabled_backends` entry (as cinder-volume).
struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Run this node's volume services (needs transport_url and a shared database).")

    @OptionGroup var options: ServiceOptions
    @Option(name: .customLong("state-path"), help: "Where volumes live by default (default ./ashlar-data).")
    var statePath: String?

    func run() async throws {
        try await ServiceProcess.run(roles: [.volume], options: options, overrides: .init(statePath: statePath))
    }
}

/// What every service command does: read the configuration, set up logging and metrics, run the role's services
/// in one `ServiceGroup` until SIGTERM or SIGINT, then close the database and the bus.
enum ServiceProcess {
    static func run(
        roles: Set<AllInOne.Role>, options: ServiceOptions, overrides: AshlarConfig.Overrides
    ) async throws {
        let debug = options.debug
        let (config, process) = try readingConfiguration {
            (try AshlarConfig.load(files: options.configFiles, overrides: overrides),
             try AshlarConfig.processOptions(paths: options.configFiles))
        }
        // ASHLAR_LOG_LEVEL (trace … critical) overrides; --debug is the short form of debug.
        // glibc re-reads /etc/localtime for every log line's timestamp unless TZ is set; naming the same file
        // keeps local time and reads it once.
        setenv("TZ", ":/etc/localtime", 0)
        let level: Logger.Level =
            debug
            ? .debug
            : ProcessInfo.processInfo.environment["ASHLAR_LOG_LEVEL"].flatMap {
                Logger.Level(rawValue: $0.lowercased())
            }
                ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: RequestLogMetadata.provider)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "ashlar")
        for warning in config.warnings { logger.warning("\(warning)") }

        let system: AllInOne
        do {
            system = try await AllInOne.make(
                config: config, process: process, roles: roles, registry: registry, logger: logger)
        } catch let error as AshlarError {
            FileHandle.standardError.write(Data("ashlar: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: system.services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            await system.closeBus()
            await system.database.close()
            throw error
        }
        await system.closeBus()
        await system.database.close()
    }
}
