import Foundation
import Synchronization

/// Runs async operations one at a time, in the order they arrive. An actor alone does not: it lets another
/// call in at every `await`, and two tgtadm sequences interleaved would pick the same target id.
final class AsyncSerialQueue: Sendable {
    private let state = Mutex<Task<Void, Never>?>(nil)

    /// Runs `operation` after every operation enqueued before it has finished.
    func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let task: Task<T, any Error> = state.withLock { tail in
            let previous = tail
            let next = Task {
                await previous?.value
                return try await operation()
            }
            tail = Task { _ = try? await next.value }
            return next
        }
        return try await task.value
    }
}
