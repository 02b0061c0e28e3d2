import AshlarCore
import Foundation

@testable import AshlarVolume

#if canImport(Glibc)
import Glibc
#endif

/// A tgtd of the test's own, on a random control port and a free iSCSI port of 127.0.0.1, stopped by PID.
public final class TestTgtd: @unchecked Sendable {
    public let controlPort: Int
    public let portalPort: Int
    private let logDirectory: URL
    private var process: Process

    /// Root, tgtd/tgtadm and qemu-img with its iSCSI driver (qemu-block-extra); scripts/setup-test-env
    /// installs the packages.
    public static let isAvailable: Bool = {
        guard getuid() == 0, ToolRunner.locate("tgtd") != nil, ToolRunner.locate("tgtadm") != nil,
            let qemu = ToolRunner.locate("qemu-img")
        else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = ["--help"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        let help = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return help.contains(" iscsi ")
    }()

    private init(controlPort: Int, portalPort: Int, logDirectory: URL, process: Process) {
        self.controlPort = controlPort
        self.portalPort = portalPort
        self.logDirectory = logDirectory
        self.process = process
    }

    /// The helper under test, on this daemon.
    public var target: TgtAdmTarget { TgtAdmTarget(controlPort: controlPort, timeout: .seconds(20)) }

    /// Starts a tgtd, trying other ports until one comes up answering tgtadm and accepting iSCSI connections.
    public static func start(logDirectory: URL) async throws -> TestTgtd {
        var problems: [String] = []
        for _ in 0..<10 {
            let control = Int.random(in: 7000...9999)
            // Another tgtd on that port would make ours exit, and tgtadm would then talk to that one.
            if await tgtadmAnswers(control) { continue }
            let portal = Loopback.freePort()
            switch await launch(control: control, portal: portal, logDirectory: logDirectory) {
            case .success(let process):
                return TestTgtd(controlPort: control, portalPort: portal, logDirectory: logDirectory, process: process)
            case .failure(let problem):
                problems.append(problem.message)
            }
        }
        throw AshlarError(.internalError, "tgtd did not start: \(problems.joined(separator: "; "))")
    }

    /// Kills tgtd as a crash would and starts a new one on the same ports: it has no targets and no accounts.
    public func restart() async throws {
        await kill(process)
        var problems: [String] = []
        // The ports were just freed; the new daemon may need a moment to get them.
        for _ in 0..<10 {
            switch await Self.launch(control: controlPort, portal: portalPort, logDirectory: logDirectory) {
            case .success(let process):
                self.process = process
                return
            case .failure(let problem):
                problems.append(problem.message)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        throw AshlarError(.internalError, "tgtd did not restart: \(problems.joined(separator: "; "))")
    }

    /// Stops tgtd: it ignores SIGTERM while it has targets and refuses "delete system" with any, so the targets
    /// go first; SIGKILL by PID if it still runs.
    public func stop() async {
        if process.isRunning, let tgtadm = ToolRunner.locate("tgtadm") {
            let base = ["-C", String(controlPort), "--lld", "iscsi"]
            if let shown = try? await ToolRunner.run(
                tgtadm, base + ["--op", "show", "--mode", "target"], timeout: .seconds(10))
            {
                for target in TgtAdmOutput.parseTargets(shown.stdout) {
                    _ = try? await ToolRunner.run(
                        tgtadm, base + ["--op", "delete", "--mode", "target", "--tid", String(target.tid), "--force"],
                        timeout: .seconds(10))
                }
            }
            _ = try? await ToolRunner.run(
                tgtadm, ["-C", String(controlPort), "--op", "delete", "--mode", "system"], timeout: .seconds(10))
        }
        await kill(process, grace: .seconds(2))
        // tgtd leaves its management socket and lock file behind.
        for suffix in ["", ".lock"] { unlink("/var/run/tgtd/socket.\(controlPort)\(suffix)") }
    }

    /// Waits `grace` for `process` to end, then SIGKILLs it and waits until it is gone.
    private func kill(_ process: Process, grace: Duration = .zero) async {
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Starts `tgtd -f` and waits until it answers on `control` and accepts connections on `portal`.
    private static func launch(control: Int, portal: Int, logDirectory: URL) async -> Result<Process, AshlarError> {
        guard let tgtd = ToolRunner.locate("tgtd") else { return .failure(AshlarError(.internalError, "no tgtd")) }
        let logPath = logDirectory.appendingPathComponent("tgtd-\(control)-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tgtd)
        process.arguments = ["-f", "-C", String(control), "--iscsi", "portal=127.0.0.1:\(portal)"]
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            return .failure(AshlarError(.internalError, "cannot write \(logPath)"))
        }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(AshlarError(.internalError, "cannot run tgtd: \(error)")) }
        try? log.close()
        let deadline = ContinuousClock.now + .seconds(3)
        while process.isRunning && ContinuousClock.now < deadline {
            if await tgtadmAnswers(control), Loopback.accepts(port: portal), process.isRunning { return .success(process) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return .failure(
            AshlarError(.internalError, "tgtd on control port \(control), portal \(portal): \(output.suffix(300))"))
    }

    private static func tgtadmAnswers(_ control: Int) async -> Bool {
        guard let tgtadm = ToolRunner.locate("tgtadm") else { return false }
        let result = try? await ToolRunner.run(
            tgtadm, ["-C", String(control), "--op", "show", "--mode", "system"], timeout: .seconds(5))
        return result?.succeeded ?? false
    }
}
