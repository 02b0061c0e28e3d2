import Foundation
import Testing

/// Starts the real `ashlar` binary and runs real client commands against it.
enum Harness {
    /// The package root, from this file's path.
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The built `ashlar` executable (`ASHLAR_BIN` overrides).
    static var binary: String {
        ProcessInfo.processInfo.environment["ASHLAR_BIN"] ?? root.appendingPathComponent(".build/debug/ashlar").path
    }

    /// The venv with the openstack and cinder clients, made by scripts/setup-test-env.
    static var venv: String {
        ProcessInfo.processInfo.environment["ASHLAR_VENV"] ?? root.appendingPathComponent(".venv").path
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion (bounded by `timeout`), capturing both streams through files so that a large
    /// output can never block the child.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
        timeout: Duration = .seconds(120)) async throws -> Output
    {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        // Polled with Task.sleep, never a blocking wait: tests share a small pool of threads.
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw HarnessError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return Output(
            status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// A running `ashlar serve` on an ephemeral port with its own state folder, stopped by PID at the end.
final class Server {
    let process = Process()
    let stateDirectory: URL
    let stdoutFile: URL
    let stderrFile: URL
    fileprivate(set) var url = ""

    /// Whether `deinit` removes the state folder (not when another server goes on with it).
    var removesState = true

    init(extraArguments: [String] = [], stateDirectory reused: URL? = nil, environment: [String: String] = [:]) throws {
        stateDirectory = reused ?? FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let run = UUID().uuidString.prefix(8)
        stdoutFile = stateDirectory.appendingPathComponent("serve-\(run).out")
        stderrFile = stateDirectory.appendingPathComponent("serve-\(run).err")
        FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        guard FileManager.default.isExecutableFile(atPath: Harness.binary) else {
            throw Harness.HarnessError("\(Harness.binary) is missing: run `swift build --build-tests` (scripts/test does)")
        }
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments =
            ["serve", "--state-path", stateDirectory.appendingPathComponent("state").path, "--bind", "127.0.0.1", "--port", "0"]
            + extraArguments
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        try process.run()
    }

    /// A client of an API that something else started (its process is not this object's).
    private init(attachingTo url: String) {
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-it-none")
        stdoutFile = stateDirectory.appendingPathComponent("none.out")
        stderrFile = stateDirectory.appendingPathComponent("none.err")
        removesState = false
        self.url = url
    }

    /// The client methods (`openstack`, `get`, …) for the API at `url`.
    static func attach(url: String) async throws -> Server { Server(attachingTo: url) }

    /// Starts `ashlar serve` and waits (bounded) for its ready line.
    static func start(
        extraArguments: [String] = [], stateDirectory: URL? = nil, environment: [String: String] = [:]
    ) async throws -> Server {
        let server = try Server(extraArguments: extraArguments, stateDirectory: stateDirectory, environment: environment)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: server.stdoutFile, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Ashlar is ready at ") }) {
                server.url = String(line.dropFirst("Ashlar is ready at ".count))
                return server
            }
            if !server.process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        await server.stop()
        throw Harness.HarnessError("ashlar serve did not become ready:\n\(server.log)")
    }

    var log: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Whether the process has ended: reaped by Foundation, or already a zombie (or gone) in the kernel's view.
    /// Foundation reaps on its own thread, which a loaded machine can hold back long after a SIGKILL took effect.
    var hasExited: Bool {
        guard process.isRunning else { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8) else {
            return true
        }
        // The state is the first field after the parenthesised command name.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// The kernel's state letter and wait channel of the process, for a failure message.
    var kernelState: String {
        let pid = process.processIdentifier
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "gone"
        let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"
        return "pid \(pid) stat: \(stat.prefix(80)) wchan: \(wchan)"
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns the exit status, nil if it had to be killed.
    @discardableResult
    func stop() async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        // A test that failed before stopping its server: end it by PID without waiting.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        if removesState { try? FileManager.default.removeItem(at: stateDirectory) }
    }

    /// `openstack …` against this server (auth type none, endpoint from the server).
    func openstack(_ arguments: String...) async throws -> Harness.Output {
        try await Harness.run(
            Harness.venv + "/bin/openstack", arguments,
            environment: ["OS_AUTH_TYPE": "none", "OS_ENDPOINT": url, "OS_VOLUME_API_VERSION": "3.71"])
    }

    /// `openstack … -f json`, parsed; fails the test when the command fails.
    func openstackJSON(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) async throws -> Any {
        try await openstackJSON(arguments, sourceLocation: sourceLocation)
    }

    func openstackJSON(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Any {
        let out = try await Harness.run(
            Harness.venv + "/bin/openstack", arguments + ["-f", "json"],
            environment: ["OS_AUTH_TYPE": "none", "OS_ENDPOINT": url, "OS_VOLUME_API_VERSION": "3.71"])
        try #require(out.status == 0, "openstack \(arguments.joined(separator: " ")) failed: \(out.stderr)", sourceLocation: sourceLocation)
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8))
    }

    /// `cinder …` with noauth (user and project `admin`).
    func cinder(_ arguments: String...) async throws -> Harness.Output {
        try await cinder(asUser: "admin", project: "admin", arguments)
    }

    /// `cinder …` with noauth as `user` of `project`.
    func cinder(asUser user: String, project: String, _ arguments: [String]) async throws -> Harness.Output {
        try await Harness.run(
            Harness.venv + "/bin/cinder",
            ["--os-auth-type", "noauth", "--os-user-id", user, "--os-project-id", project, "--os-endpoint", url,
             "--os-volume-api-version", "3.71"] + arguments)
    }

    /// Polls `condition` until it holds or `timeout` passes.
    func eventually(_ timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        repeat {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return false
    }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Server {
    /// `GET` on the API (as admin of project `admin`), parsed as a JSON object.
    func get(_ path: String) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: url + path)!)
        request.setValue("admin:admin", forHTTPHeaderField: "X-Auth-Token")
        request.setValue("volume 3.71", forHTTPHeaderField: "OpenStack-API-Version")
        request.timeoutInterval = 30
        let (data, _) = try await URLSession.shared.data(for: request)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The project's volumes by name: (status, zone, host).
    func volumesByName() async throws -> [String: (status: String, zone: String, host: String?)] {
        let volumes = try await get("/admin/volumes/detail") ["volumes"] as? [[String: Any]] ?? []
        var result: [String: (status: String, zone: String, host: String?)] = [:]
        for v in volumes {
            guard let name = v["name"] as? String else { continue }
            result[name] = (
                v["status"] as? String ?? "", v["availability_zone"] as? String ?? "", v["os-vol-host-attr:host"] as? String
            )
        }
        return result
    }
}

extension Server {
    /// Any request on the API (as admin of project `admin`, at `version`): the status and the parsed JSON body
    /// (empty when there is none).
    func api(
        _ method: String, _ path: String, _ body: [String: Any]? = nil, version: String = "3.71",
        token: String = "admin:admin"
    ) async throws -> (status: Int, json: [String: Any]) {
        try await Self.api(url, method, path, body, version: version, token: token)
    }

    /// `api` on the server at `base`, for tasks that cannot share the server object.
    static func api(
        _ base: String, _ method: String, _ path: String, _ body: [String: Any]? = nil, version: String = "3.71",
        token: String = "admin:admin"
    ) async throws -> (status: Int, json: [String: Any]) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.setValue(token, forHTTPHeaderField: "X-Auth-Token")
        request.setValue("volume \(version)", forHTTPHeaderField: "OpenStack-API-Version")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.timeoutInterval = 60
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = data.isEmpty ? [:] : (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return (status, json ?? [:])
    }
}
