import AshlarCore
import Foundation
import Synchronization

/// An in-memory `ISCSITarget` for tests: it keeps exports like tgtd would (same ACL rules, tids, idempotence),
/// records every call, fails on demand and can play an unreachable or restarted daemon.
public final class FakeISCSITarget: ISCSITarget {
    /// The operations, to make fail.
    public enum Operation: Hashable, Sendable {
        case createExport, removeExport, allowInitiator, disallowInitiator, exports
    }

    /// One recorded call.
    public enum Call: Hashable, Sendable {
        case createExport(ISCSIExport)
        case removeExport(iqn: String)
        case allowInitiator(iqn: String, initiator: String?)
        case disallowInitiator(iqn: String, initiator: String?)
        case exports
        case checkReachable
    }

    private struct State {
        var targets: [String: ISCSIExportState] = [:]
        var calls: [Call] = []
        var failing: [Operation: AshlarError] = [:]
        var failOnce: [Operation: AshlarError] = [:]
        var unreachableReason: String?
    }

    private let state = Mutex(State())

    public init() {}

    /// Every call so far, in order.
    public var calls: [Call] { state.withLock { $0.calls } }

    /// The exports now, by IQN (what `exports()` returns, without recording a call).
    public var current: [String: ISCSIExportState] { state.withLock { $0.targets } }

    /// Whether the daemon answers: false makes `checkReachable` give a reason and every operation throw.
    public var reachable: Bool {
        get { state.withLock { $0.unreachableReason == nil } }
        set { state.withLock { $0.unreachableReason = newValue ? nil : "tgtd is not running (FakeISCSITarget)" } }
    }

    /// Makes `operation` throw `error` (a driver failure by default) until `succeed(_:)`.
    public func fail(_ operation: Operation, with error: AshlarError? = nil) {
        state.withLock { $0.failing[operation] = error ?? Self.injected(operation) }
    }

    /// Makes the next call of `operation` throw `error` (a driver failure by default).
    public func failNext(_ operation: Operation, with error: AshlarError? = nil) {
        state.withLock { $0.failOnce[operation] = error ?? Self.injected(operation) }
    }

    /// Ends the failures of `operation`.
    public func succeed(_ operation: Operation) {
        state.withLock {
            $0.failing[operation] = nil
            $0.failOnce[operation] = nil
        }
    }

    /// Forgets every export, as a tgtd restart does.
    public func simulateRestart() { state.withLock { $0.targets = [:] } }

    // MARK: ISCSITarget

    public func createExport(_ export: ISCSIExport) async throws {
        try perform(.createExport, .createExport(export)) { state in
            if let reason = export.validationFailure() {
                throw AshlarError(.driverFailure, "Cannot export a volume over iSCSI: \(reason).")
            }
            if var existing = state.targets[export.iqn] {
                // As tgtd: the ACL of an existing target stays, the rest is made to match.
                existing.path = export.path
                existing.readOnly = export.readOnly
                existing.chapUsers = export.chapUser.map { [$0] } ?? []
                state.targets[export.iqn] = existing
            } else {
                let tid = (state.targets.values.map(\.tid).max() ?? 0) + 1
                state.targets[export.iqn] = ISCSIExportState(
                    iqn: export.iqn, tid: tid, path: export.path, chapUsers: export.chapUser.map { [$0] } ?? [],
                    allowsAnyInitiator: true, initiators: [], readOnly: export.readOnly)
            }
        }
    }

    public func removeExport(iqn: String) async throws {
        try perform(.removeExport, .removeExport(iqn: iqn)) { $0.targets[iqn] = nil }
    }

    public func allowInitiator(iqn: String, initiator: String?) async throws {
        try perform(.allowInitiator, .allowInitiator(iqn: iqn, initiator: initiator)) { state in
            if let initiator, let reason = initiatorNameFailure(initiator) {
                throw AshlarError(.driverFailure, "Cannot allow an initiator on \(iqn): \(reason).")
            }
            guard var target = state.targets[iqn] else {
                throw AshlarError(
                    .driverFailure,
                    "Cannot allow \(initiator ?? "all initiators") on iSCSI target \(iqn): no such target.")
            }
            if let initiator {
                target.initiators.insert(initiator)
                target.allowsAnyInitiator = false
            } else {
                target.allowsAnyInitiator = true
            }
            state.targets[iqn] = target
        }
    }

    public func disallowInitiator(iqn: String, initiator: String?) async throws {
        try perform(.disallowInitiator, .disallowInitiator(iqn: iqn, initiator: initiator)) { state in
            guard var target = state.targets[iqn] else { return }
            if let initiator { target.initiators.remove(initiator) } else { target.allowsAnyInitiator = false }
            state.targets[iqn] = target
        }
    }

    public func exports() async throws -> [String: ISCSIExportState] {
        try perform(.exports, .exports) { $0.targets }
    }

    public func checkReachable() async -> String? {
        state.withLock {
            $0.calls.append(.checkReachable)
            return $0.unreachableReason
        }
    }

    // MARK: Helpers

    /// Records `call`, then throws the failure set for `operation` (or the unreachable daemon's), else runs `body`.
    private func perform<T>(_ operation: Operation, _ call: Call, _ body: (inout State) throws -> T) throws -> T {
        try state.withLock { state in
            state.calls.append(call)
            if let reason = state.unreachableReason { throw AshlarError(.driverFailure, reason) }
            if let error = state.failOnce.removeValue(forKey: operation) ?? state.failing[operation] { throw error }
            return try body(&state)
        }
    }

    private static func injected(_ operation: Operation) -> AshlarError {
        AshlarError(.driverFailure, "FakeISCSITarget: injected failure of \(operation)")
    }
}
