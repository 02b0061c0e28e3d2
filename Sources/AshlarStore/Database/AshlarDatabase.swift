import AshlarCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// The database behind every store: SQLKit over SQLite (the embedded default) or PostgreSQL (several processes
/// on several hosts), with one schema and one set of statements.
///
/// Every change Ashlar makes is a single statement (status changes are `UPDATE … WHERE status IN (…)`
/// compare-and-swaps, creates are `INSERT … SELECT … WHERE <quota and state checks>`), so no multi-statement
/// transactions are needed, and each such statement must run as if alone:
/// - SQLite gets one writer connection and a reader per core, in WAL mode, so reads never wait for a write. Each
///   statement has its connection to itself while it runs (`ConnectionPool`), so it sees every change committed
///   before it started.
/// - PostgreSQL gets a pool of `max_pool_size` connections; each write is serialised by an advisory lock across
///   every process (`PostgresPoolDatabase`), reads are not.
public final class AshlarDatabase: Sendable {
    public let logger: Logger

    /// The connection for statements that change rows.
    public let write: any SQLDatabase

    /// A connection for reads.
    public let read: any SQLDatabase

    private enum Backing: Sendable {
        case sqlite(writers: ConnectionPool, readers: ConnectionPool)
        case postgresql(PostgresClient, run: Task<Void, Never>)
    }

    private let backing: Backing

    private init(backing: Backing, write: any SQLDatabase, read: any SQLDatabase, logger: Logger) {
        self.backing = backing
        self.write = write
        self.read = read
        self.logger = logger
    }

    /// Options of the connection pool (PostgreSQL).
    public struct Options: Sendable {
        /// `[database] max_pool_size`.
        public var maxPoolSize: Int
        /// How long a statement waits for a connection before it fails with `.unavailable`.
        public var leaseTimeout: Duration

        /// The defaults are oslo.db's (`max_pool_size` 5, `pool_timeout` 30 s).
        public init(maxPoolSize: Int = 5, leaseTimeout: Duration = .seconds(30)) {
            self.maxPoolSize = maxPoolSize
            self.leaseTimeout = leaseTimeout
        }
    }

    /// Opens the database named by a `[database] connection` URL (see `DatabaseURL`) and, with `migrate`,
    /// brings its schema up to date.
    public static func open(
        connection: String, options: Options = .init(), migrate: Bool = true, logger: Logger
    ) async throws -> AshlarDatabase {
        let url: DatabaseURL
        do {
            url = try DatabaseURL(connection)
        } catch {
            throw AshlarError(.invalidInput, "[database] connection: \(error.message)")
        }
        let db: AshlarDatabase
        switch url {
        case .sqlite(let path): db = try await openSQLite(path: path, logger: logger)
        case .postgresql(let server): db = try await openPostgreSQL(server, options: options, logger: logger)
        }
        if migrate {
            do {
                try await db.migrate()
            } catch {
                await db.close()
                throw error
            }
        }
        return db
    }

    private static func openSQLite(path: String?, logger: Logger) async throws -> AshlarDatabase {
        guard let path else {
            let conn = try await SQLiteConnection.open(storage: .memory, logger: logger)
            _ = try await conn.query("PRAGMA foreign_keys = ON")
            // One connection: reads and writes take turns on it.
            let pool = ConnectionPool([conn])
            let db = PooledDatabase(pool: pool, logger: logger)
            return AshlarDatabase(backing: .sqlite(writers: pool, readers: pool), write: db, read: db, logger: logger)
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = try await openFile(path, logger: logger)
        _ = try await writer.query("PRAGMA journal_mode = WAL")
        var readerConnections: [SQLiteConnection] = []
        for _ in 0..<max(2, System.coreCount) {
            readerConnections.append(try await openFile(path, logger: logger))
        }
        let writers = ConnectionPool([writer])
        let readers = ConnectionPool(readerConnections)
        return AshlarDatabase(
            backing: .sqlite(writers: writers, readers: readers), write: PooledDatabase(pool: writers, logger: logger),
            read: PooledDatabase(pool: readers, logger: logger), logger: logger)
    }

    private static func openFile(_ path: String, logger: Logger) async throws -> SQLiteConnection {
        let conn = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        // NORMAL is durable in WAL mode against a process crash; it skips an fsync per commit.
        _ = try await conn.query("PRAGMA synchronous = NORMAL")
        _ = try await conn.query("PRAGMA foreign_keys = ON")
        return conn
    }

    private static func openPostgreSQL(
        _ server: DatabaseURL.PostgreSQL, options: Options, logger: Logger
    ) async throws -> AshlarDatabase {
        let tls: PostgresClient.Configuration.TLS
        switch server.tlsPolicy {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: server.host, port: server.port, username: server.user, password: server.password,
            database: server.database, tls: tls)
        configuration.options.maximumConnections = options.maxPoolSize
        configuration.options.minimumConnections = 1
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let run = Task { await client.run() }
        let write = PostgresPoolDatabase(client: client, logger: logger, serialized: true, leaseTimeout: options.leaseTimeout)
        let read = PostgresPoolDatabase(client: client, logger: logger, serialized: false, leaseTimeout: options.leaseTimeout)
        let db = AshlarDatabase(backing: .postgresql(client, run: run), write: write, read: read, logger: logger)
        // Fail now, with a message a person can act on, rather than at the first request.
        if let refusal = await refusal(of: server, logger: logger) {
            await db.close()
            throw AshlarError(
                .invalidInput,
                "PostgreSQL at \(server.host):\(server.port) refused database '\(server.database)' to user '\(server.user)': \(refusal)")
        }
        do {
            _ = try await read.raw("SELECT 1 AS ok").all()
        } catch {
            await db.close()
            throw AshlarError(
                .unavailable,
                "cannot reach PostgreSQL at \(server.host):\(server.port) (database '\(server.database)', user '\(server.user)'): \(Self.reason(error))",
                underlying: error)
        }
        return db
    }

    /// The server's own refusal of a login — a wrong password, no pg_hba.conf entry, no such database or role —
    /// from one connection of its own: the pool would only retry it until pool_timeout and then say the database
    /// did not answer. Nil when it logs in, and when the server cannot be reached at all (the pool then waits for
    /// it, as a service started before its database should).
    private static func refusal(of server: DatabaseURL.PostgreSQL, logger: Logger) async -> String? {
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch server.tlsPolicy {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            return nil
        }
        var configuration = PostgresConnection.Configuration(
            host: server.host, port: server.port, username: server.user, password: server.password,
            database: server.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
            return nil
        } catch let error as PSQLError {
            // Class 28: invalid authorization; 3D000: no such database.
            guard error.code == .server, let state = error.serverInfo?[.sqlState],
                state.hasPrefix("28") || state == "3D000"
            else { return nil }
            return error.serverInfo?[.message] ?? "login refused (\(state))"
        } catch {
            return nil
        }
    }

    /// What a connection failure says, without the driver's internals when it has a server message.
    private static func reason(_ error: any Error) -> String {
        if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] { return message }
        if let ashlar = error as? AshlarError, let underlying = ashlar.underlying { return "\(underlying)" }
        return "\(error)"
    }

    /// Brings the schema up to date. On PostgreSQL under a session advisory lock, so that services starting at
    /// the same moment run each step once.
    public func migrate() async throws {
        switch backing {
        case .sqlite:
            try await Migrations.run(on: write, logger: logger)
        case .postgresql(let client, _):
            try await client.withConnection { connection in
                let db = connection.sql(queryLogLevel: nil)
                try await db.raw("SELECT pg_advisory_lock(\(bind: Migrations.lockKey))").run()
                do {
                    try await Migrations.run(on: db, logger: logger)
                } catch {
                    try? await db.raw("SELECT pg_advisory_unlock(\(bind: Migrations.lockKey))").run()
                    throw error
                }
                try await db.raw("SELECT pg_advisory_unlock(\(bind: Migrations.lockKey))").run()
            }
        }
    }

    /// The schema version the database is at, and the one this build knows.
    public func schemaVersion() async throws -> (current: Int, latest: Int) {
        (try await Migrations.currentVersion(on: read), Migrations.steps.count)
    }

    /// Closes every connection. Done in a task of its own, so that a caller being cancelled (a test past its time
    /// limit, a service stopping) cannot leave a connection open.
    public func close() async {
        await Task { await closeAll() }.value
    }

    private func closeAll() async {
        switch backing {
        case .sqlite(let writers, let readers):
            for conn in readers.connections where !writers.connections.contains(where: { $0 === conn }) {
                try? await conn.close()
            }
            for conn in writers.connections { try? await conn.close() }
        case .postgresql(_, let run):
            run.cancel()
            await run.value
        }
    }

    /// The SQL dialect's name (`sqlite`, `postgresql`), for the few expressions that differ.
    public var dialectName: String { write.dialect.name }
}

extension DatabaseURL.PostgreSQL {
    /// How `sslmode` asks for TLS, as libpq reads it: `disable`; `allow` and `prefer` take it when the server
    /// offers it; anything else requires it.
    enum TLSPolicy { case disable, prefer, require }

    var tlsPolicy: TLSPolicy {
        switch sslMode {
        case "disable": .disable
        case "allow", "prefer": .prefer
        default: .require
        }
    }
}
