import AshlarCore
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import _ConnectionPoolModule

/// The `SQLDatabase` the stores build statements on when the database is PostgreSQL: each statement runs on a
/// connection leased from `client`'s pool for that statement alone.
///
/// Every change Ashlar makes is one statement whose conditions may read other rows (a quota counted over the
/// project's volumes, "no other live attachment"). SQLite runs such statements one at a time on its single
/// writer, which makes each check-and-change atomic. PostgreSQL's READ COMMITTED would let two of them check at
/// once and both change; so, with `serialized`, each statement is its own transaction that first takes one
/// transaction-level advisory lock. The statement's snapshot is taken after the lock, so it sees every change
/// committed by the statement before it — SQLite's guarantee, across any number of processes. Reads do not take
/// the lock and never wait for writes.
struct PostgresPoolDatabase: SQLDatabase {
    let client: PostgresClient
    let logger: Logger
    let serialized: Bool
    /// How long a statement may wait for a connection (the server down or every connection busy).
    let leaseTimeout: Duration

    /// The key of the advisory lock writes take (any constant no other program on the database uses).
    static let writeLock = 0x6173_686C_6172  // "ashlar"

    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var dialect: any SQLDialect { PostgresDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await Self.bounded(leaseTimeout) { [client, logger, serialized] in
            if serialized {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: logger)
                    try await connection.sql(queryLogLevel: nil).execute(sql: query, onRow)
                }
            } else {
                try await client.withConnection { connection in
                    try await connection.sql(queryLogLevel: nil).execute(sql: query, onRow)
                }
            }
        }
    }

    func execute(
        sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void
    ) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    /// Runs `body`, failing with `.unavailable` when it takes longer than `limit`: a pool whose server is down
    /// keeps a lease waiting, and a request must get its answer instead.
    static func bounded(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await body()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return false
                }
                let finished = try await group.next() ?? false
                group.cancelAll()
                if !finished {
                    throw AshlarError(.unavailable, "The database did not answer within \(limit); try again later.")
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// The error a caller should see for `error`: PostgreSQL's transaction wrapper is opened to the failure inside
    /// it (a connection lost mid-transaction is as unreachable as one lost before it), and the pool's own refusals
    /// (its circuit breaker tripped while the server stays away) are the server unreachable too.
    static func map(_ error: any Error) -> any Error {
        switch error {
        case let error as PostgresTransactionError:
            // The first failure is the cause; a failed rollback after it only follows from it.
            guard let cause = error.beginError ?? error.closureError ?? error.commitError else { return error }
            return map(cause)
        case let error as PSQLError:
            return map(error)
        case is _ConnectionPoolModule.ConnectionPoolError:
            return AshlarError(.unavailable, "The database is unreachable; try again later.", underlying: error)
        default:
            return error
        }
    }

    /// A connection-level failure becomes `.unavailable` (503, try again); anything else is kept as it is, so
    /// that the store above can tell a constraint violation from a bug.
    static func map(_ error: PSQLError) -> any Error {
        let unreachable: Bool
        switch error.code {
        case .connectionError, .uncleanShutdown, .serverClosedConnection, .clientClosedConnection, .poolClosed,
            .queryCancelled:
            unreachable = true
        case .server:
            // Class 08: connection exception; 57: operator intervention (the server shutting down).
            let state = error.serverInfo?[.sqlState] ?? ""
            unreachable = state.hasPrefix("08") || state.hasPrefix("57")
        default:
            unreachable = false
        }
        guard unreachable else { return error }
        return AshlarError(.unavailable, "The database is unreachable; try again later.", underlying: error)
    }
}
