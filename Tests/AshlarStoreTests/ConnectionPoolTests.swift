import AshlarCore
import Foundation
import SQLKit
import SQLiteNIO
import Synchronization
import Testing

@testable import AshlarStore

/// The pool lends a connection to one statement at a time (the create storm of the integration tests shows what
/// sharing one cost: rows invisible to the next reader).
@Suite("ConnectionPool", .timeLimit(.minutes(1)))
struct ConnectionPoolTests {
    @Test("no connection is ever lent to two statements at once, and every waiter gets one")
    func exclusive() async throws {
        let connections = try await (0..<2).asyncMap { _ in
            try await SQLiteConnection.open(storage: .memory, logger: quietLogger)
        }
        let pool = ConnectionPool(connections)
        let inUse = InUse()
        try await withThrowingTaskGroup { group in
            for _ in 0..<64 {
                group.addTask {
                    try await pool.withConnection { connection in
                        inUse.enter(ObjectIdentifier(connection))
                        try await Task.sleep(for: .milliseconds(1))
                        inUse.leave(ObjectIdentifier(connection))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(inUse.overlaps == 0)
        #expect(inUse.entries == 64)
        for connection in connections { try await connection.close() }
    }

    @Test("statements from many tasks all run, on a file database")
    func manyStatements() async throws {
        try await withFileDatabase { db, _ in
            let store = VolumeStore(db: db)
            try await withThrowingTaskGroup { group in
                for i in 0..<64 {
                    group.addTask { _ = try await store.insert(makeVolume(id: "v-\(i)", offset: Double(i))) }
                    group.addTask { _ = try await store.count(ListQuery(projectID: "p1")) }
                }
                try await group.waitForAll()
            }
            #expect(try await store.count(ListQuery(projectID: "p1")) == 64)
        }
    }
}

/// Which connections are lent right now; counts a second lending of one that is still out.
private final class InUse: Sendable {
    private struct State {
        var out: Set<ObjectIdentifier> = []
        var overlaps = 0
        var entries = 0
    }
    private let state = Mutex(State())

    func enter(_ id: ObjectIdentifier) {
        state.withLock {
            if !$0.out.insert(id).inserted { $0.overlaps += 1 }
            $0.entries += 1
        }
    }

    func leave(_ id: ObjectIdentifier) { _ = state.withLock { $0.out.remove(id) } }
    var overlaps: Int { state.withLock { $0.overlaps } }
    var entries: Int { state.withLock { $0.entries } }
}

extension Sequence where Element: Sendable {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
