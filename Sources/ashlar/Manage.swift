import ArgumentParser
import AshlarCore
import AshlarStore
import Foundation
import Logging

/// `ashlar manage`: the operator's commands on the database, as `cinder-manage` has them.
struct Manage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate on the database: schema and service records (as cinder-manage).",
        subcommands: [Database.self, ServiceCommands.self])

    /// The options every `manage` command takes.
    struct Common: ParsableArguments {
        @Option(name: .customLong("config-file"), help: "A cinder.conf-style file; repeatable, later files win.")
        var configFiles: [String] = []

        @Option(name: .customLong("state-path"), help: "Where the SQLite database lives when [database] connection is unset.")
        var statePath: String?

        func load() throws -> AshlarConfig {
            try readingConfiguration { try AshlarConfig.load(files: configFiles, overrides: .init(statePath: statePath)) }
        }

        /// Opens the configured database; `migrate` brings the schema up to date first.
        func open(_ config: AshlarConfig, migrate: Bool) async throws -> AshlarDatabase {
            let logger = Logger(label: "ashlar.manage")
            do {
                return try await AshlarDatabase.open(
                    connection: config.databaseConnection, options: .init(maxPoolSize: 2), migrate: migrate,
                    logger: logger)
            } catch let error as AshlarError {
                FileHandle.standardError.write(Data("ashlar: \(error.message)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Database: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db", abstract: "The database schema.", subcommands: [Sync.self, Version.self])

        struct Sync: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create or upgrade the schema to this version's (safe to run from several hosts at once).")
            @OptionGroup var common: Common

            func run() async throws {
                let config = try common.load()
                let db = try await common.open(config, migrate: false)
                do {
                    let before = try await db.schemaVersion()
                    try await db.migrate()
                    let after = try await db.schemaVersion()
                    print(
                        before.current == after.current
                            ? "schema already at version \(after.current)"
                            : "schema migrated from version \(before.current) to \(after.current)")
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
            }
        }

        struct Version: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the schema version of the database.")
            @OptionGroup var common: Common

            func run() async throws {
                let config = try common.load()
                let db = try await common.open(config, migrate: false)
                let version = try await db.schemaVersion()
                await db.close()
                print(version.current)
                if version.current < version.latest {
                    FileHandle.standardError.write(
                        Data("ashlar: this version of Ashlar needs \(version.latest); run ashlar manage db sync\n".utf8))
                }
            }
        }
    }

    struct ServiceCommands: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "service", abstract: "Service records.", subcommands: [List.self, Remove.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List every service with its state.")
            @OptionGroup var common: Common

            func run() async throws {
                let config = try common.load()
                let db = try await common.open(config, migrate: true)
                let services = try await ServiceStore(db: db).list()
                await db.close()
                let now = Date()
                let rows = services.map { service -> [String] in
                    [
                        service.binary, service.host, service.availabilityZone,
                        service.disabled ? "disabled" : "enabled",
                        service.isUp(now: now, downTime: config.serviceDownTime) ? ":-)" : "XXX",
                        service.updatedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-",
                    ]
                }
                print(Table(header: ["Binary", "Host", "Zone", "Status", "State", "Updated At"], rows: rows).text)
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Remove a service's record (a host that is gone for good).")
            @OptionGroup var common: Common
            @Argument(help: "cinder-scheduler or cinder-volume.") var binary: String
            @Argument(help: "The host, e.g. node1 or node1@lvm.") var host: String

            func run() async throws {
                let config = try common.load()
                let db = try await common.open(config, migrate: true)
                let store = ServiceStore(db: db)
                guard let service = try await store.get(host: host, binary: binary) else {
                    await db.close()
                    FileHandle.standardError.write(Data("ashlar: no service \(binary) on host \(host)\n".utf8))
                    throw ExitCode(1)
                }
                // As upstream: a service that is still up would register itself again at its next heartbeat.
                if service.isUp(downTime: config.serviceDownTime) {
                    await db.close()
                    FileHandle.standardError.write(
                        Data("ashlar: service \(binary) on host \(host) is up; stop it first\n".utf8))
                    throw ExitCode(1)
                }
                try await store.remove(binary: binary, host: host)
                await db.close()
                print("Service \(binary) on host \(host) removed.")
            }
        }
    }
}

/// Columns padded to their widest cell, as the manage commands print them.
struct Table {
    let header: [String]
    let rows: [[String]]

    var text: String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
