import AshlarTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real Glance 33 (the venv scripts/setup-test-env makes) on 127.0.0.1 and a free port: no Keystone (the
/// unauthenticated pipeline, every caller an administrator), SQLite, the file store, served by one gunicorn
/// worker, everything under a temporary folder; stopped by PID.
final class GlanceServer {
    static var venv: String {
        ProcessInfo.processInfo.environment["ASHLAR_GLANCE_VENV"] ?? Harness.root.appendingPathComponent(".venv-glance").path
    }
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: venv + "/bin/gunicorn")
            || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    let directory: URL
    let process = Process()
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("glance.log"), encoding: .utf8)) ?? "" }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    static func start() async throws -> GlanceServer {
        let gunicorn = venv + "/bin/gunicorn"
        try #require(FileManager.default.isExecutableFile(atPath: gunicorn), "Glance is missing: run scripts/setup-test-env")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-glance-\(UUID().uuidString.prefix(8))")
        let etc = directory.appendingPathComponent("etc")
        try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
        let d = directory.path
        try """
            [DEFAULT]
            enabled_backends = local:file
            enabled_import_methods = []
            [database]
            connection = sqlite:///\(d)/glance.sqlite
            [glance_store]
            default_backend = local
            [local]
            filesystem_store_datadir = \(d)/images
            [os_glance_staging_store]
            filesystem_store_datadir = \(d)/staging
            [os_glance_tasks_store]
            filesystem_store_datadir = \(d)/tasks
            """.write(to: etc.appendingPathComponent("glance-api.conf"), atomically: true, encoding: .utf8)
        // The unauthenticated context is an administrator without roles; the default policies ask for the role.
        try "\"context_is_admin\": \"\"\n".write(to: etc.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        try "{}".write(to: etc.appendingPathComponent("schema-image.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: venv + "/etc/glance/glance-api-paste.ini", toPath: etc.appendingPathComponent("glance-api-paste.ini").path)
        let sync = try await Harness.run(
            venv + "/bin/glance-manage", ["--config-file", etc.appendingPathComponent("glance-api.conf").path, "db_sync"])
        try #require(sync.status == 0, "glance-manage db_sync: \(sync.stderr.suffix(2000))")

        let server = GlanceServer(directory: directory, port: Loopback.freePort())
        let logFile = directory.appendingPathComponent("glance.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        server.process.executableURL = URL(fileURLWithPath: gunicorn)
        server.process.arguments = [
            "-w", "1", "--bind", "127.0.0.1:\(server.port)", "--no-control-socket", "--chdir", d, "glance.wsgi.api:application",
        ]
        server.process.environment = ProcessInfo.processInfo.environment.merging(["OS_GLANCE_CONFIG_DIR": etc.path]) { _, new in new }
        server.process.standardOutput = try FileHandle(forWritingTo: logFile)
        server.process.standardError = try FileHandle(forWritingTo: logFile)
        server.process.standardInput = FileHandle.nullDevice
        try server.process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if !server.process.isRunning { break }
            let answer = try await Harness.run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", server.url + "/"], timeout: .seconds(30))
            if answer.stdout == "300" { return server }
            try await Task.sleep(for: .milliseconds(200))
        }
        let log = server.log
        await server.stop()
        throw Harness.HarnessError("Glance did not answer within 60 s:\n\(log.suffix(3000))")
    }

    /// Ends gunicorn and its worker, bounded, and removes the folder. The worker's PID is read before the
    /// master is told to stop, so that a worker the master leaves behind is ended too.
    func stop() async {
        if process.isRunning {
            let master = process.processIdentifier
            let workers = ((try? String(contentsOfFile: "/proc/\(master)/task/\(master)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            kill(master, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(15)
            func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }
            while (process.isRunning || workers.contains(where: alive)) && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
            if process.isRunning { kill(master, SIGKILL) }
            for worker in workers where alive(worker) { kill(worker, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// `openstack …` against this Glance.
    func openstack(_ arguments: [String]) async throws -> Harness.Output {
        try await Harness.run(
            Harness.venv + "/bin/openstack", arguments, environment: ["OS_AUTH_TYPE": "none", "OS_ENDPOINT": url])
    }
}
