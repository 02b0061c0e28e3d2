import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with posix_spawn and an empty signal mask.
///
/// Foundation's `Process` hands the test runner's blocked signals down to the child, and an Erlang VM with SIGTERM
/// blocked cannot be stopped gracefully; this one can. It is watched and reaped by its PID only.
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    public init(path: String, arguments: [String], environment: [String: String], outputPath: String) throws {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &fileActions, &attributes, argv, envp)
        guard result == 0 else { throw BrokerError("posix_spawn \(path): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// Whether it still runs (reaps it once it has exited).
    public var isRunning: Bool {
        lock.withLock {
            if exitStatus != nil { return false }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) {
                exitStatus = status
                return false
            }
            return true
        }
    }

    var terminationStatus: Int32 { lock.withLock { exitStatus ?? -1 } }

    /// The exit code once it has exited normally; nil while it runs or when a signal ended it.
    public var exitCode: Int32? {
        guard !isRunning, let status = lock.withLock({ exitStatus }), status & 0x7f == 0 else { return nil }
        return (status >> 8) & 0xff
    }

    func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    /// Signals it and waits, bounded, for it to exit; SIGKILL after the grace period.
    public func stop(signal first: Int32 = SIGTERM, grace: Duration) async {
        signal(first)
        let deadline = ContinuousClock.now + grace
        while isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }
}
