import AshlarCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// The database behind every store: SQLKit over SQLite (the embedded default).
///
/// Every change Ashlar makes is a single statement (status changes are `UPDATE … WHERE status IN (…)`
/// compare-and-swaps), so no multi-statement transactions are needed and statements can go to any connection.
/// SQLite gets one writer connection and a reader per core, in WAL mode, so reads never wait for a write. Each
/// statement has its connection to itself while it runs (`ConnectionPool`), so it sees every change committed
/// before it started.
public final class AshlarDatabase: Sendable {
    private let writers: ConnectionPool
    private let readers: ConnectionPool
    public let logger: Logger

    /// The connection for statements that change rows.
    public let write: any SQLDatabase

    /// A connection for reads.
    public let read: any SQLDatabase

    private init(writers: ConnectionPool, readers: ConnectionPool, logger: Logger) {
        self.writers = writers
        self.readers = readers
        self.logger = logger
        self.write = PooledDatabase(pool: writers, logger: logger)
        self.read = PooledDatabase(pool: readers, logger: logger)
    }

    /// Opens the database named by a `[database] connection` URL (`sqlite:///relative`, `sqlite:////absolute`,
    /// or `sqlite://` for an in-memory database) and brings its schema up to date.
    public static func open(connection: String, logger: Logger) async throws -> AshlarDatabase {
        guard connection.hasPrefix("sqlite://") else {
            throw AshlarError(
                .invalidInput,
                "[database] connection: '\(connection)' is not supported; use sqlite:///path/to/ashlar.sqlite")
        }
        var path = String(connection.dropFirst("sqlite://".count))
        if path.hasPrefix("/") { path.removeFirst() }
        let db: AshlarDatabase
        if path.isEmpty || path == ":memory:" {
            let conn = try await SQLiteConnection.open(storage: .memory, logger: logger)
            _ = try await conn.query("PRAGMA foreign_keys = ON")
            // One connection: reads and writes take turns on it.
            let pool = ConnectionPool([conn])
            db = AshlarDatabase(writers: pool, readers: pool, logger: logger)
        } else {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let writer = try await openFile(path, logger: logger)
            _ = try await writer.query("PRAGMA journal_mode = WAL")
            var readers: [SQLiteConnection] = []
            for _ in 0..<max(2, System.coreCount) {
                readers.append(try await openFile(path, logger: logger))
            }
            db = AshlarDatabase(writers: ConnectionPool([writer]), readers: ConnectionPool(readers), logger: logger)
        }
        try await Migrations.run(on: db.write, logger: logger)
        return db
    }

    private static func openFile(_ path: String, logger: Logger) async throws -> SQLiteConnection {
        let conn = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        // NORMAL is durable in WAL mode against a process crash; it skips an fsync per commit.
        _ = try await conn.query("PRAGMA synchronous = NORMAL")
        _ = try await conn.query("PRAGMA foreign_keys = ON")
        return conn
    }

    /// Closes every connection.
    public func close() async {
        for conn in readers.connections where !writers.connections.contains(where: { $0 === conn }) {
            try? await conn.close()
        }
        for conn in writers.connections { try? await conn.close() }
    }

    /// The SQL dialect's name (`sqlite`, `postgresql`), for the few expressions that differ.
    public var dialectName: String { write.dialect.name }
}
