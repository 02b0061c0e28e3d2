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
/// SQLite gets one writer connection and a reader per core, in WAL mode, so reads never wait for a write.
public final class AshlarDatabase: Sendable {
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let next = Atomic<Int>(0)
    public let logger: Logger

    /// The connection for statements that change rows.
    public var write: any SQLDatabase { writer.sql(queryLogLevel: nil) }

    /// A connection for reads.
    public var read: any SQLDatabase {
        let turn = next.add(1, ordering: .relaxed).newValue
        return readers[Int(UInt(bitPattern: turn) % UInt(readers.count))].sql(queryLogLevel: nil)
    }

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.logger = logger
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
            db = AshlarDatabase(writer: conn, readers: [conn], logger: logger)
        } else {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let writer = try await openFile(path, logger: logger)
            _ = try await writer.query("PRAGMA journal_mode = WAL")
            var readers: [SQLiteConnection] = []
            for _ in 0..<max(2, System.coreCount) {
                readers.append(try await openFile(path, logger: logger))
            }
            db = AshlarDatabase(writer: writer, readers: readers, logger: logger)
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
        for conn in readers where conn !== writer {
            try? await conn.close()
        }
        try? await writer.close()
    }

    /// The SQL dialect's name (`sqlite`, `postgresql`), for the few expressions that differ.
    public var dialectName: String { writer.sql().dialect.name }
}
