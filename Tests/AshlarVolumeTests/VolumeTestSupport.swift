import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging
import Synchronization
import Testing

@testable import AshlarVolume

#if canImport(Glibc)
import Glibc
#endif

/// A logger that drops everything.
let quietLogger = Logger(label: "ashlar.volume.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A fresh directory under the system temporary directory.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ashlar-volume-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func removeTemporaryDirectory(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// Polls `condition` until it holds or `timeout` passes; true when it held.
func eventually(
    timeout: Duration = .seconds(30), poll: Duration = .milliseconds(20), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: poll)
    }
}

/// `stat` of a path, or nil when it does not exist.
func fileStat(_ path: String) -> stat? {
    var st = stat()
    return stat(path, &st) == 0 ? st : nil
}

/// The AshlarError `body` throws, or nil when it throws nothing.
func ashlarError(_ body: () async throws -> Void) async -> AshlarError? {
    do {
        try await body()
        return nil
    } catch let error as AshlarError {
        return error
    } catch {
        Issue.record("expected an AshlarError, got \(error)")
        return nil
    }
}

/// A thread-safe flag.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Work running in a task that can be stopped with a bounded wait.
struct Background: Sendable {
    let finished: Flag
    let task: Task<Void, Never>

    init(_ body: @escaping @Sendable () async throws -> Void) {
        let finished = Flag()
        self.finished = finished
        self.task = Task {
            do { try await body() } catch {}
            finished.set()
        }
    }

    /// Cancels the task; true when it ended within `timeout`.
    func stop(timeout: Duration = .seconds(30)) async -> Bool {
        task.cancel()
        return await eventually(timeout: timeout) { finished.isSet }
    }
}

/// An RPC endpoint that keeps every message it gets.
final class Recorder: RPCEndpoint {
    private let messages = Mutex<[RPCMessage]>([])

    func handle(_ message: RPCMessage) async throws -> Data? {
        messages.withLock { $0.append(message) }
        return nil
    }

    func received(_ method: String) -> [RPCMessage] {
        messages.withLock { $0.filter { $0.method == method } }
    }
}

/// A driver double: records calls and fails where told to.
///
/// `failCreate` and `onCreate` apply to every way of creating a volume (empty, from a snapshot, as a clone).
final class ScriptedDriver: VolumeDriver {
    let failSetup: Bool
    let failCreate: Bool
    let failDelete: Bool
    let failSnapshot: Bool
    let failDeleteSnapshot: Bool
    let failExtend: Bool
    let failRevert: Bool
    let onCreate: (@Sendable (String) async -> Void)?
    private let log = Mutex<[String]>([])

    init(
        failSetup: Bool = false, failCreate: Bool = false, failDelete: Bool = false, failSnapshot: Bool = false,
        failDeleteSnapshot: Bool = false, failExtend: Bool = false, failRevert: Bool = false,
        onCreate: (@Sendable (String) async -> Void)? = nil
    ) {
        self.failSetup = failSetup
        self.failCreate = failCreate
        self.failDelete = failDelete
        self.failSnapshot = failSnapshot
        self.failDeleteSnapshot = failDeleteSnapshot
        self.failExtend = failExtend
        self.failRevert = failRevert
        self.onCreate = onCreate
    }

    var calls: [String] { log.withLock { $0 } }

    func doSetup() async throws {
        log.withLock { $0.append("setup") }
        if failSetup { throw AshlarError(.driverFailure, "scripted setup failure") }
    }

    func createVolume(id: String, sizeGB: Int) async throws {
        log.withLock { $0.append("create \(id) \(sizeGB)") }
        await onCreate?(id)
        if failCreate { throw AshlarError(.driverFailure, "scripted create failure") }
    }

    func deleteVolume(id: String) async throws {
        log.withLock { $0.append("delete \(id)") }
        if failDelete { throw AshlarError(.driverFailure, "scripted delete failure") }
    }

    /// Logged as `snapshot <id> <volumeID>`.
    func createSnapshot(id: String, volumeID: String) async throws {
        log.withLock { $0.append("snapshot \(id) \(volumeID)") }
        if failSnapshot { throw AshlarError(.driverFailure, "scripted snapshot failure") }
    }

    /// Logged as `delete-snapshot <id>`.
    func deleteSnapshot(id: String) async throws {
        log.withLock { $0.append("delete-snapshot \(id)") }
        if failDeleteSnapshot { throw AshlarError(.driverFailure, "scripted snapshot delete failure") }
    }

    /// Logged as `volume-from-snapshot <id> <sizeGB> <snapshotID>`.
    func createVolume(id: String, sizeGB: Int, fromSnapshot snapshotID: String) async throws {
        log.withLock { $0.append("volume-from-snapshot \(id) \(sizeGB) \(snapshotID)") }
        await onCreate?(id)
        if failCreate { throw AshlarError(.driverFailure, "scripted create failure") }
    }

    /// Logged as `clone <id> <sizeGB> <sourceID>`.
    func createVolume(id: String, sizeGB: Int, cloneOf sourceID: String) async throws {
        log.withLock { $0.append("clone \(id) \(sizeGB) \(sourceID)") }
        await onCreate?(id)
        if failCreate { throw AshlarError(.driverFailure, "scripted create failure") }
    }

    /// Logged as `copy <id> <sizeGB> <path>`.
    func createVolume(id: String, sizeGB: Int, copyingFile path: String) async throws {
        log.withLock { $0.append("copy \(id) \(sizeGB) \(path)") }
        await onCreate?(id)
        if failCreate { throw AshlarError(.driverFailure, "scripted create failure") }
    }

    /// Logged as `extend <id> <newSizeGB>`.
    func extendVolume(id: String, newSizeGB: Int) async throws {
        log.withLock { $0.append("extend \(id) \(newSizeGB)") }
        if failExtend { throw AshlarError(.driverFailure, "scripted extend failure") }
    }

    /// Logged as `revert <id> <snapshotID>`.
    func revertVolume(id: String, toSnapshot snapshotID: String) async throws {
        log.withLock { $0.append("revert \(id) \(snapshotID)") }
        if failRevert { throw AshlarError(.driverFailure, "scripted revert failure") }
    }

    func localPath(forVolume id: String) -> String { "/dev/null/volume-\(id)" }
    var imageCacheDirectory: String? { nil }

    func stats(provisionedGB: Int, volumeCount: Int) async throws -> [String: JSONValue] {
        [
            "volume_backend_name": "backend",
            "pools": [["pool_name": "backend", "provisioned_capacity_gb": .int(Int64(provisionedGB))]],
        ]
    }
}

/// One backend's world: a database, a bus, a state directory.
struct Harness: Sendable {
    static let node = "node"
    static let backend = "backend"
    static let host = "node@backend"
    static let poolHost = "node@backend#backend"
    static let zone = "az-test"

    let dir: URL
    let db: AshlarDatabase
    let transport: InProcessTransport

    var volumes: VolumeStore { VolumeStore(db: db) }
    var services: ServiceStore { ServiceStore(db: db) }
    var messages: MessageStore { MessageStore(db: db) }
    var snapshots: SnapshotStore { SnapshotStore(db: db) }
    var volumeDir: String { dir.appendingPathComponent("volumes").path }
    var fileDriver: FileDriver { FileDriver(directory: volumeDir, backendName: Self.backend) }
    var client: VolumeRPC.Client { VolumeRPC.Client(transport: transport) }

    func manager(
        driver: any VolumeDriver, reportInterval: Duration = .milliseconds(50), target: (any ISCSITarget)? = nil,
        staleAfter: Duration = .seconds(120)
    ) -> VolumeManager {
        VolumeManager(
            host: Self.host, backendName: Self.backend, availabilityZone: Self.zone, driver: driver, database: db,
            transport: transport, reportInterval: reportInterval, logger: quietLogger, target: target,
            staleAfter: staleAfter)
    }

    /// The service row, once the manager has registered and reported at least `reports` times.
    func waitForReports(_ reports: Int = 1) async throws -> Bool {
        try await eventually {
            (try await services.get(host: Self.host, binary: ServiceRecord.volumeBinary)?.reportCount ?? 0) >= reports
        }
    }

    /// Starts a manager; its start-up recovery is over once this returns true.
    func start(_ manager: VolumeManager) async throws -> (Background, Bool) {
        let running = Background { try await manager.run() }
        return (running, try await waitForReports())
    }

    /// Serves a recording fake scheduler on `cinder-scheduler`, returning once it is consuming.
    func fakeScheduler() async throws -> (Recorder, Background, Bool) {
        let recorder = Recorder()
        let server = "fake-scheduler-\(UUID().uuidString.prefix(8))"
        let transport = self.transport
        let serving = Background {
            try await transport.serve(topic: SchedulerRPC.topic, server: server, endpoint: recorder)
        }
        // A cast to the server's own queue waits until it consumes, so seeing it proves the fanout queue is bound.
        try await transport.cast(
            RPCMessage(method: "probe", context: .service(requestID: "req-probe"), args: Data("{}".utf8)),
            to: RPCTarget(topic: SchedulerRPC.topic, server: server))
        let ready = await eventually { !recorder.received("probe").isEmpty }
        return (recorder, serving, ready)
    }

    /// A volume placed on this backend.
    func volume(status: VolumeStatus, size: Int = 1, host: String = Harness.poolHost, project: String = "proj")
        -> Volume
    {
        Volume(
            projectID: project, userID: "user", size: size, status: status, availabilityZone: Self.zone,
            volumeTypeID: "type", host: host)
    }
}

let testContext = CallerContext(requestID: "req-test-0001", userID: "user", projectID: "proj", isAdmin: false)

/// Runs `body` with a fresh harness (in-memory database, in-process bus, temp directory) and cleans up.
func withHarness(_ body: (Harness) async throws -> Void) async throws {
    let dir = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(dir) }
    let db = try await AshlarDatabase.open(connection: "sqlite://", logger: quietLogger)
    let harness = Harness(dir: dir, db: db, transport: InProcessTransport(logger: quietLogger))
    do {
        try await body(harness)
        await db.close()
    } catch {
        await db.close()
        throw error
    }
}
