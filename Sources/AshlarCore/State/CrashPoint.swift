import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Named places in every multi-step operation where a test can make the process die at once, as `kill -9` would:
/// nothing after the point runs, no cleanup, no graceful shutdown. The recovery tests restart Ashlar on the same
/// state and check that nothing is left half-done.
///
/// Armed only by the environment of the process under test, never by configuration a deployment would carry:
/// `ASHLAR_CRASH_AT=point` dies the first time `point` is reached, `point@N` the N-th time; several may be given,
/// separated by commas.
public enum CrashPoint: String, CaseIterable, Sendable {
    // Volumes.
    case apiCreateInserted = "api.create.inserted"
    case schedulerCreatePlaced = "scheduler.create.placed"
    case volumeCreateMade = "volume.create.made"
    case volumeCloneMade = "volume.clone.made"
    case volumeImageFetched = "volume.image.fetched"
    case volumeFromSnapshotMade = "volume.from_snapshot.made"
    case apiDeleteMarked = "api.delete.marked"
    case volumeDeleteRemoved = "volume.delete.removed"
    case apiExtendMarked = "api.extend.marked"
    case volumeExtendGrown = "volume.extend.grown"
    case apiRevertMarked = "api.revert.marked"
    case volumeRevertDone = "volume.revert.done"
    // Snapshots.
    case apiSnapshotInserted = "api.snapshot.inserted"
    case volumeSnapshotMade = "volume.snapshot.made"
    case apiSnapshotDeleteMarked = "api.snapshot_delete.marked"
    case volumeSnapshotDeleteRemoved = "volume.snapshot_delete.removed"
    // Attachments.
    case attachConnecting = "volume.attach.connecting"
    case volumeAttachExported = "volume.attach.exported"
    case detachDetached = "volume.detach.detached"
    case volumeDetachUnexported = "volume.detach.unexported"

    /// Dies here when the environment says so.
    public func reach() {
        guard let wanted = Self.armed[self] else { return }
        let count = Self.counter.increment(self)
        guard count >= wanted else { return }
        FileHandle.standardError.write(Data("ashlar: crash point \(rawValue) reached (\(count)); dying\n".utf8))
        kill(getpid(), SIGKILL)
    }

    /// The armed points and on which arrival each one dies, from `ASHLAR_CRASH_AT`.
    static let armed: [CrashPoint: Int] = parse(ProcessInfo.processInfo.environment["ASHLAR_CRASH_AT"] ?? "")

    static func parse(_ text: String) -> [CrashPoint: Int] {
        var armed: [CrashPoint: Int] = [:]
        for item in text.split(separator: ",") {
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: "@", maxSplits: 1)
            guard let name = parts.first, let point = CrashPoint(rawValue: String(name)) else { continue }
            armed[point] = parts.count == 2 ? max(1, Int(parts[1]) ?? 1) : 1
        }
        return armed
    }

    private static let counter = Counter()

    /// Arrivals per point (only armed points are counted).
    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [CrashPoint: Int] = [:]

        func increment(_ point: CrashPoint) -> Int {
            lock.lock()
            defer { lock.unlock() }
            counts[point, default: 0] += 1
            return counts[point]!
        }
    }
}
