import Foundation
import Synchronization

/// Blocking work (file copies, directory walks, fsync, waiting for a child process) done on dispatch threads.
/// Swift's cooperative pool has one thread per core, two here: one held for seconds stalls every request the
/// process serves. Each lane runs at most `limit` jobs at once, so a storm of copies cannot make dispatch start a
/// thread for each; the rest wait their turn without holding a thread.
public enum Blocking {
    /// Work of one kind, with its own bound, so that quick jobs never queue behind long ones.
    public enum Lane: Sendable {
        /// Copies, syncs, child processes: seconds each.
        case bulk
        /// Looking at files (capacity walks): milliseconds each, asked for by every report and capability call.
        case quick
    }

    /// Jobs running at once, per lane.
    public static let limit = 8
    private static let bulkPermits = Permits(limit)
    private static let quickPermits = Permits(limit)

    /// Runs `work` on a dispatch thread.
    public static func run<T: Sendable>(
        _ lane: Lane = .bulk, _ work: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await run(lane) { (_: CancellationFlag) in try work() }
    }

    /// Runs `work` on a dispatch thread; `work` looks at the flag it is given between steps and stops early when
    /// the task that asked for it is cancelled (throwing `CancellationError`).
    public static func run<T: Sendable>(
        _ lane: Lane = .bulk, _ work: @escaping @Sendable (CancellationFlag) throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let permits = lane == .bulk ? bulkPermits : quickPermits
        await permits.acquire()
        defer { permits.release() }
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(with: Result { try work(flag) })
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Set when the task waiting for a blocking job is cancelled.
    public final class CancellationFlag: Sendable {
        private let cancelled = Atomic<Bool>(false)
        public func cancel() { cancelled.store(true, ordering: .relaxed) }
        public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
        /// Throws `CancellationError` once cancelled.
        public func check() throws { if isCancelled { throw CancellationError() } }
    }

    /// A counting semaphore for tasks: waiting suspends, it never blocks a thread.
    private final class Permits: Sendable {
        private struct State {
            var available: Int
            var waiters: [CheckedContinuation<Void, Never>] = []
        }
        private let state: Mutex<State>

        init(_ count: Int) { state = Mutex(State(available: count)) }

        func acquire() async {
            if state.withLock({ state in
                guard state.available > 0 else { return false }
                state.available -= 1
                return true
            }) { return }
            await withCheckedContinuation { continuation in
                let granted = state.withLock { state -> Bool in
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    state.waiters.append(continuation)
                    return false
                }
                if granted { continuation.resume() }
            }
        }

        func release() {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if !state.waiters.isEmpty { return state.waiters.removeFirst() }
                state.available += 1
                return nil
            }
            waiter?.resume()
        }
    }
}
