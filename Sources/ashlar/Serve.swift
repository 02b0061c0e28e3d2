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

/// `ashlar serve`: API, scheduler and every configured volume backend in one process, over SQLite and the
/// in-process bus.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the API, scheduler and volume services in one process (the embedded default).")

    @Option(name: .customLong("config-file"), help: "A cinder.conf-style file; repeatable, later files win.")
    var configFiles: [String] = []

    @Option(name: .customLong("state-path"), help: "Where the database and volumes live (default ./ashlar-data).")
    var statePath: String?

    @Option(name: .customLong("bind"), help: "Listen address (default 127.0.0.1).")
    var bind: String?

    @Option(name: .customLong("port"), help: "Listen port (default 8776; 0 picks a free one).")
    var port: Int?

    @Flag(name: .customLong("debug"), help: "Log at debug level.")
    var debug = false

    func run() async throws {
        try await ServiceProcess.run(
            roles: Set(AllInOne.Role.allCases), configFiles: configFiles,
            overrides: .init(statePath: statePath, listenAddress: bind, listenPort: port), debug: debug)
    }
}

/// `ashlar api`: the Block Storage API (as cinder-api), over RabbitMQ and a shared database.
struct API: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Run the Block Storage API (needs transport_url and a shared database).")

    @Option(name: .customLong("config-file"), help: "A cinder.conf-style file; repeatable, later files win.")
    var configFiles: [String] = []
    @Option(name: .customLong("bind"), help: "Listen address (default 127.0.0.1).")
    var bind: String?
    @Option(name: .customLong("port"), help: "Listen port (default 8776; 0 picks a free one).")
    var port: Int?
    @Flag(name: .customLong("debug"), help: "Log at debug level.")
    var debug = false

    func run() async throws {
        try await ServiceProcess.run(
            roles: [.api], configFiles: configFiles, overrides: .init(listenAddress: bind, listenPort: port),
            debug: debug)
    }
}

/// `ashlar scheduler`: the scheduler (as cinder-scheduler).
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Run the scheduler (needs transport_url and a shared database).")

    @Option(name: .customLong("config-file"), help: "A cinder.conf-style file; repeatable, later files win.")
    var configFiles: [String] = []
    @Flag(name: .customLong("debug"), help: "Log at debug level.")
    var debug = false

    func run() async throws {
        try await ServiceProcess.run(roles: [.scheduler], configFiles: configFiles, overrides: .init(), debug: debug)
    }
}

/// `ashlar volume`: one volume service per `enabled_backends` entry (as cinder-volume).
struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Run this node's volume services (needs transport_url and a shared database).")

    @Option(name: .customLong("config-file"), help: "A cinder.conf-style file; repeatable, later files win.")
    var configFiles: [String] = []
    @Option(name: .customLong("state-path"), help: "Where volumes live by default (default ./ashlar-data).")
    var statePath: String?
    @Flag(name: .customLong("debug"), help: "Log at debug level.")
    var debug = false

    func run() async throws {
        try await ServiceProcess.run(
            roles: [.volume], configFiles: configFiles, overrides: .init(statePath: statePath), debug: debug)
    }
}

/// What every service command does: read the configuration, set up logging and metrics, run the role's services
/// in one `ServiceGroup` until SIGTERM or SIGINT, then close the database and the bus.
enum ServiceProcess {
    static func run(
        roles: Set<AllInOne.Role>, configFiles: [String], overrides: AshlarConfig.Overrides, debug: Bool
    ) async throws {
        let config: AshlarConfig
        do {
            config = try AshlarConfig.load(files: configFiles, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("ashlar: configuration error: \(error)\n".utf8))
            throw ExitCode(2)
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
            system = try await AllInOne.make(config: config, roles: roles, registry: registry, logger: logger)
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
