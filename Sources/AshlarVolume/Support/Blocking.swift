import Foundation

/// Blocking work (file copies, fsync, waiting for a child process) done on a dispatch thread. Swift's cooperative
/// pool has one thread per core, two here: one held for seconds stalls every request the process serves.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
