import AshlarCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How one run of an external tool ended.
struct ToolResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// The tool did not finish in time and was killed.
    var timedOut: Bool

    var succeeded: Bool { status == 0 && !timedOut }
}

/// Runs external tools (tgtadm, and qemu-img in tests) without blocking Swift's cooperative pool.
enum ToolRunner {
    /// The directories searched after `PATH`: admin tools such as tgtadm live in sbin, often not on a service's PATH.
    static let fallbackDirectories = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"]

    /// The executable path for `tool`: as is when it has a slash, else the first match on PATH or in sbin.
    static func locate(_ tool: String) -> String? {
        if tool.contains("/") { return access(tool, X_OK) == 0 ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + fallbackDirectories
        return directories.lazy.map { "\($0)/\(tool)" }.first { access($0, X_OK) == 0 }
    }

    /// Runs `executable` with `arguments` on a dispatch thread, killing it after `timeout`.
    /// Throws only when it cannot be started; a non-zero status is in the result.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> ToolResult {
        // waitUntilExit and pipe reads block their thread.
        try await Blocking.run { try runBlocking(executable, arguments, timeout: timeout) }
    }

    private static func runBlocking(
        _ executable: String, _ arguments: [String], timeout: Duration
    ) throws
        -> ToolResult
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()

        let timedOut = Mutex(false)
        let pid = process.processIdentifier
        let killer = DispatchWorkItem {
            guard process.isRunning else { return }
            timedOut.withLock { $0 = true }
            kill(pid, SIGKILL)
        }
        let (seconds, attoseconds) = timeout.components
        DispatchQueue.global().asyncAfter(
            deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: killer)

        // Both pipes are drained before waiting, stderr on its own thread: a full pipe would stall the tool.
        let errorData = Mutex(Data())
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            errorData.withLock { $0 = data }
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        killer.cancel()
        return ToolResult(
            status: process.terminationStatus,
            stdout: String(decoding: outputData, as: UTF8.self),
            stderr: errorData.withLock { String(decoding: $0, as: UTF8.self) },
            timedOut: timedOut.withLock { $0 })
    }
}

/// Lets one operation at a time through, in arrival order: tgtadm changes are read-modify-write sequences
/// (pick a free tid, then create it) that must not interleave.
actor OperationGate {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            // Hands the gate straight to the next waiter, so no newcomer can slip in between.
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
