import AshlarCore
import AshlarStore
import Foundation
import Logging
import SQLKit
import Synchronization

@testable import AshlarVolume

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of the tests' own: a new cluster in a temporary folder, on a free port of 127.0.0.1,
/// stopped by PID. One per test process (`shared()`); each test takes a database of its own on it.
///
/// As root it runs as the `postgres` user (the server refuses root). A watchdog shell stops it when the test
/// process is gone, so a crashed run leaves no server behind.
public final class TestPostgres: Sendable {
    public let port: Int
    public let user = "ashlar"
    let directory: URL
    let serverPID: Int32

    /// initdb and postgres found (Debian's postgresql package; scripts/setup-test-env installs it).
    public static let isAvailable: Bool = binDirectory != nil

    /// Whether tests that need the server must run (CI), rather than be skipped where it is missing.
    public static let isRequired = ProcessInfo.processInfo.environment["CI"] == "true"

    static let binDirectory: String? = {
        var candidates = ["/usr/local/bin"]
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            candidates += versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }).map { "/usr/lib/postgresql/\($0)/bin" }
        }
        return candidates.first { access("\($0)/initdb", X_OK) == 0 && access("\($0)/postgres", X_OK) == 0 }
    }()

    private init(port: Int, directory: URL, serverPID: Int32) {
        self.port = port
        self.directory = directory
        self.serverPID = serverPID
    }

    private actor Shared {
        var started: Task<TestPostgres, any Error>?

        func get() async throws -> TestPostgres {
            if let started { return try await started.value }
            let task = Task { try await TestPostgres.start() }
            started = task
            let server = try await task.value
            // Stopped when the test process exits; the watchdog covers a crash.
            atexit { TestPostgres.stopAtExit() }
            TestPostgres.atExitPID.withLock { $0 = server.serverPID }
            return server
        }
    }

    private static let shared_ = Shared()
    /// The server's PID for the exit handler, which cannot await.
    private static let atExitPID = Mutex<Int32>(0)

    /// The server of this test process, started on first use.
    public static func shared() async throws -> TestPostgres { try await shared_.get() }

    private static func stopAtExit() {
        let pid = atExitPID.withLock { $0 }
        if pid > 0 { kill(pid, SIGINT) }
    }

    /// A connection URL of a new, empty database on the shared server.
    public static func newDatabase() async throws -> String {
        try await shared().newDatabase()
    }

    /// A server of the caller's own, for a test that stops or restarts it (`restart`, `stop`).
    public static func startOwn() async throws -> TestPostgres { try await start() }

    /// A connection URL of a new, empty database on this server.
    public func newDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try await AshlarDatabase.open(
            connection: url(database: "postgres"), migrate: false, logger: Self.quiet)
        defer { Task { await admin.close() } }
        try await admin.read.raw("CREATE DATABASE \(unsafeRaw: name)").run()
        return url(database: name)
    }

    /// `postgresql://ashlar@127.0.0.1:PORT/database`.
    public func url(database: String) -> String { "postgresql://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    static let quiet = Logger(label: "test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The server's current PID (a restart changes it).
    private var currentPID: Int32? {
        (try? String(contentsOfFile: directory.path + "/server.pid", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Stops the server as an operator's restart would (a fast shutdown: sessions are ended, transactions in
    /// flight rolled back), keeps it down for `downFor`, and starts it again on the same port and data; returns
    /// once it takes logins. Bounded: throws when it does not come back within a minute.
    public func restart(downFor: Duration) async throws {
        let hold = directory.path + "/hold"
        FileManager.default.createFile(atPath: hold, contents: nil)
        if let pid = currentPID { kill(pid, SIGINT) }
        let down = ContinuousClock.now + .seconds(30)
        while Loopback.accepts(port: port), ContinuousClock.now < down { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: downFor)
        unlink(hold)
        guard try await takesLogins(within: .seconds(60)) else {
            throw AshlarError(.internalError, "PostgreSQL did not come back on port \(port) within 60 s")
        }
    }

    /// Waits, up to `limit`, until the server takes a login (accepting TCP comes a moment before that).
    private func takesLogins(within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if Loopback.accepts(port: port),
                let db = try? await AshlarDatabase.open(
                    connection: url(database: "postgres"), migrate: false, logger: Self.quiet)
            {
                await db.close()
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Stops a server of the caller's own (`startOwn`) by its PID and removes its folder (the watchdog does both).
    public func stop() async {
        FileManager.default.createFile(atPath: directory.path + "/stop", contents: nil)
        let deadline = ContinuousClock.now + .seconds(30)
        while Loopback.accepts(port: port), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
    }

    private static func start() async throws -> TestPostgres {
        guard let bin = binDirectory else {
            throw AshlarError(.internalError, "PostgreSQL is not installed (run scripts/setup-test-env)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ashlar-pg-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        // The server refuses to run as root: the postgres user gets the folder, and runs initdb and the server.
        var prefix: [String] = []
        if asRoot {
            guard let owner = getpwnam("postgres") else {
                throw AshlarError(.internalError, "running as root, and there is no postgres user to run PostgreSQL")
            }
            _ = chown(directory.path, owner.pointee.pw_uid, owner.pointee.pw_gid)
            prefix = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        }
        let data = directory.appendingPathComponent("data").path
        let initdb = prefix + ["\(bin)/initdb", "-D", data, "-U", "ashlar", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        let result = try await ToolRunner.run(initdb[0], Array(initdb.dropFirst()), timeout: .seconds(60))
        guard result.succeeded else {
            throw AshlarError(.internalError, "initdb failed: \(result.stderr.suffix(600))")
        }
        var problems: [String] = []
        for _ in 0..<5 {
            let port = Loopback.freePort()
            let server = prefix + [
                "\(bin)/postgres", "-D", data, "-p", String(port), "-k", directory.path,
                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=500", "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "shared_buffers=32MB",
            ]
            let quoted = server.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            let d = directory.path
            // The watchdog: starts the server and starts it again whenever it stops, unless a `hold` file says to
            // keep it down (a test's restart) or a `stop` file says it is done; once this test process is gone
            // (or `stop` is there) it stops the server by its PID and removes the folder.
            let script = """
                start() { \(quoted) >> '\(d)/server-\(port).log' 2>&1 & pg=$!; echo $pg > '\(d)/server.pid'; }
                start
                while kill -0 \(getpid()) 2>/dev/null && [ ! -e '\(d)/stop' ]; do
                    if ! kill -0 $pg 2>/dev/null && [ ! -e '\(d)/hold' ]; then start; fi
                    sleep 0.2
                done
                kill -INT $pg 2>/dev/null
                wait $pg
                rm -rf '\(d)'
                """
            let watchdog = Process()
            watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
            watchdog.arguments = ["-c", script]
            watchdog.standardInput = FileHandle.nullDevice
            watchdog.standardOutput = FileHandle.nullDevice
            watchdog.standardError = FileHandle.nullDevice
            try watchdog.run()
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, watchdog.isRunning {
                if Loopback.accepts(port: port),
                    let text = try? String(contentsOfFile: directory.path + "/server.pid", encoding: .utf8),
                    let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
                {
                    let server = TestPostgres(port: port, directory: directory, serverPID: pid)
                    if try await server.takesLogins(within: .seconds(5)) { return server }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let log = (try? String(contentsOfFile: "\(directory.path)/server-\(port).log", encoding: .utf8)) ?? ""
            problems.append("port \(port): \(log.suffix(400))")
            FileManager.default.createFile(atPath: directory.path + "/hold", contents: nil)
            watchdog.terminate()
            if let text = try? String(contentsOfFile: directory.path + "/server.pid", encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(pid, SIGINT)
            }
        }
        throw AshlarError(.internalError, "PostgreSQL did not start: \(problems.joined(separator: "; "))")
    }
}
