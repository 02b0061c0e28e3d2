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
        let config: AshlarConfig
        do {
            config = try AshlarConfig.load(
                files: configFiles, overrides: .init(statePath: statePath, listenAddress: bind, listenPort: port))
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

        let system = try await AllInOne.make(config: config, registry: registry, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: system.services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            await system.database.close()
            throw error
        }
        await system.database.close()
    }
}
