import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// Lends each statement a connection of its own for as long as the statement runs.
///
/// SQLiteNIO runs every statement of a connection on a thread of a shared pool, so two statements given to one
/// connection at once interleave their steps, and SQLite treats them as one transaction: a read that joins a read
/// already under way sees that read's older snapshot, and a write's commit waits until every statement on the
/// writer has finished. Either way a row another service has just inserted can be invisible to the next read —
/// which is how a create cast to the scheduler found no volume and was dropped. One statement per connection at a
/// time makes every statement its own transaction, started after everything that was committed before it.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [SQLiteConnection]
        var waiters = CircularBuffer<CheckedContinuation<SQLiteConnection, Never>>()
    }

    private let state: Mutex<State>
    /// Every connection, lent or not (for closing).
    let connections: [SQLiteConnection]

    init(_ connections: [SQLiteConnection]) {
        precondition(!connections.isEmpty, "a pool needs a connection")
        self.connections = connections
        self.state = Mutex(State(idle: connections))
    }

    /// Runs `body` with a connection nobody else uses until it returns.
    func withConnection<T: Sendable>(_ body: (SQLiteConnection) async throws -> T) async throws -> T {
        let connection = await lease()
        defer { giveBack(connection) }
        return try await body(connection)
    }

    private func lease() async -> SQLiteConnection {
        if let ready = state.withLock({ $0.idle.popLast() }) { return ready }
        return await withCheckedContinuation { continuation in
            // Taken under the same lock as the waiter is queued, so a connection given back in between is not
            // missed.
            let ready = state.withLock { state -> SQLiteConnection? in
                if let ready = state.idle.popLast() { return ready }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func giveBack(_ connection: SQLiteConnection) {
        let waiter = state.withLock { state -> CheckedContinuation<SQLiteConnection, Never>? in
            if let waiter = state.waiters.popFirst() { return waiter }
            state.idle.append(connection)
            return nil
        }
        waiter?.resume(returning: connection)
    }
}

/// The `SQLDatabase` the stores build statements on: each statement runs on a connection lent by `pool` for
/// that statement alone.
struct PooledDatabase: SQLDatabase {
    let pool: ConnectionPool
    let logger: Logger
    let dialect: any SQLDialect

    var eventLoop: any EventLoop { pool.connections[0].eventLoop }
    var queryLogLevel: Logger.Level? { nil }

    init(pool: ConnectionPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
        self.dialect = pool.connections[0].sql().dialect
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await pool.withConnection { connection in
            try await connection.sql(queryLogLevel: nil).execute(sql: query, onRow)
        }
    }

    func execute(
        sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void
    ) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }
}
