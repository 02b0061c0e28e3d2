import AshlarAMQP
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A rabbitmq-server of the tests' own: its own node name, data and log directories, AMQP, distribution and epmd
/// ports picked free on 127.0.0.1, started and stopped by PID (its epmd too).
public final class TestRabbitMQ: @unchecked Sendable {
    public static let serverPath = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    /// Installed (scripts/setup-test-env installs it as root), or CI, where a missing broker must fail the tests.
    public static let isAvailable: Bool =
        FileManager.default.isExecutableFile(atPath: serverPath)
        && FileManager.default.isExecutableFile(atPath: epmdPath)
        || ProcessInfo.processInfo.environment["CI"] == "true"
    public static let unavailableReason = "needs rabbitmq-server (scripts/setup-test-env installs it as root)"

    static let epmdPath: String = {
        for path in ["/usr/bin/epmd", "/usr/lib/erlang/bin/epmd"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return "/usr/bin/epmd"
    }()

    public let amqpPort: Int
    public let directory: URL
    private let distPort: Int
    private let epmdPort: Int
    private let nodeName: String
    private var epmd: SpawnedProcess?
    private var server: SpawnedProcess?
    private let lock = NSLock()

    private init(directory: URL) {
        amqpPort = Self.freeTCPPort()
        distPort = Self.freeTCPPort()
        epmdPort = Self.freeTCPPort()
        self.directory = directory
        nodeName = "ashlar-amqp-\(getpid())-\(Int.random(in: 0..<1_000_000))@localhost"
    }

    /// A configuration for this broker as guest.
    public func configuration(heartbeat: UInt16 = 60, password: String = "guest") -> AMQPConnectionConfiguration {
        AMQPConnectionConfiguration(
            host: "127.0.0.1", port: amqpPort, password: password, heartbeat: heartbeat,
            connectionName: "ashlar-amqp-tests", connectTimeout: .seconds(10), requestTimeout: .seconds(10))
    }

    /// Starts a new broker and waits (bounded) until it accepts AMQP.
    public static func start() async throws -> TestRabbitMQ {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ashlar-rabbitmq-\(UUID().uuidString)")
        let broker = TestRabbitMQ(directory: directory)
        for sub in ["home", "mnesia", "log"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        // No plugins (management would want ports of its own).
        try "[].\n".write(to: directory.appendingPathComponent("enabled_plugins"), atomically: true, encoding: .utf8)
        try """
        listeners.tcp.1 = 127.0.0.1:\(broker.amqpPort)
        loopback_users = none
        log.console = false
        log.file.level = info

        """.write(to: directory.appendingPathComponent("rabbitmq.conf"), atomically: true, encoding: .utf8)
        let epmd = try SpawnedProcess(
            path: epmdPath, arguments: ["-port", "\(broker.epmdPort)", "-address", "127.0.0.1"],
            environment: ProcessInfo.processInfo.environment,
            outputPath: directory.appendingPathComponent("epmd.out").path)
        broker.epmd = epmd
        // Until ours listens, the VM would start an epmd daemon of its own on that port, which we could not stop.
        let epmdDeadline = ContinuousClock.now + .seconds(10)
        while !(await tcpAccepts(broker.epmdPort)) {
            guard ContinuousClock.now < epmdDeadline, epmd.isRunning else {
                await broker.stop()
                throw BrokerError("epmd did not listen on \(broker.epmdPort)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        do {
            try await broker.startServer()
        } catch {
            await broker.stop()
            throw error
        }
        return broker
    }

    private var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        let d = directory.path
        env["HOME"] = "\(d)/home"
        env["RABBITMQ_NODENAME"] = nodeName
        env["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1"
        env["RABBITMQ_NODE_PORT"] = "\(amqpPort)"
        env["RABBITMQ_DIST_PORT"] = "\(distPort)"
        env["ERL_EPMD_PORT"] = "\(epmdPort)"
        env["ERL_EPMD_ADDRESS"] = "127.0.0.1"
        env["RABBITMQ_MNESIA_BASE"] = "\(d)/mnesia"
        env["RABBITMQ_LOG_BASE"] = "\(d)/log"
        env["RABBITMQ_CONFIG_FILE"] = "\(d)/rabbitmq.conf"
        env["RABBITMQ_ADVANCED_CONFIG_FILE"] = "\(d)/advanced.config"
        env["RABBITMQ_CONF_ENV_FILE"] = "\(d)/rabbitmq-env.conf"
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = "\(d)/enabled_plugins"
        env["RABBITMQ_PID_FILE"] = "\(d)/rabbitmq.pid"
        return env
    }

    /// Starts rabbitmq-server (again, on the same port and data) and waits until AMQP answers.
    public func startServer() async throws {
        let process = try SpawnedProcess(
            path: Self.serverPath, arguments: [], environment: environment,
            outputPath: directory.appendingPathComponent("server.out").path)
        lock.withLock { server = process }
        // The Erlang VM takes several seconds to boot, more on a loaded machine.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard process.isRunning else {
                throw BrokerError(
                    "rabbitmq-server exited (\(process.terminationStatus)); see \(directory.path)/server.out")
            }
            if await amqpAnswers() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BrokerError("rabbitmq-server did not accept AMQP on \(amqpPort) within 60 s; see \(directory.path)")
    }

    /// Stops rabbitmq-server by its PID (SIGTERM: the script stops the node) and waits, bounded, for it to exit.
    public func stopServer() async {
        guard let process = lock.withLock({ server }) else { return }
        lock.withLock { server = nil }
        // SIGTERM to the script: it stops the VM (its child) and waits for it.
        await process.stop(grace: .seconds(30))
        // The script's child, the VM, goes with it; wait until the port is free again.
        let portDeadline = Date().addingTimeInterval(15)
        while await amqpAnswers() && Date() < portDeadline { try? await Task.sleep(for: .milliseconds(100)) }
    }

    /// Stops the broker and its epmd, by PID (waiting, bounded, for each), and removes its directory.
    public func stop() async {
        await stopServer()
        let epmd = lock.withLock { self.epmd }
        // epmd keeps no state worth a graceful stop.
        if let epmd { await epmd.stop(signal: SIGKILL, grace: .seconds(1)) }
        lock.withLock { self.epmd = nil }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Whether something accepts TCP on the AMQP port and answers our protocol header with connection.start.
    private func amqpAnswers() async -> Bool {
        let port = amqpPort
        return await Task.detached {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { return false }
            let header: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]
            guard write(fd, header, header.count) == header.count else { return false }
            var reply = [UInt8](repeating: 0, count: 8)
            let count = read(fd, &reply, reply.count)
            // A method frame on channel 0: connection.start.
            return count > 0 && reply[0] == 1
        }.value
    }

    /// Whether something accepts TCP connections on this port of 127.0.0.1.
    static func tcpAccepts(_ port: Int) async -> Bool {
        await Task.detached {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }.value
    }

    public static func freeTCPPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct BrokerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The broker of a suite: started when the suite begins, reachable as `TestRabbitMQ.current` from its tests, and
/// stopped (by PID) when the suite ends. Swift Testing has no process-wide teardown, and stopping from `atexit`
/// would run after Foundation can no longer watch its child processes.
public struct RabbitMQBrokerTrait: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public init() {}

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard TestRabbitMQ.isAvailable else { return try await function() }
        let broker = try await TestRabbitMQ.start()
        do {
            try await TestRabbitMQ.$current.withValue(broker) { try await function() }
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}

extension Trait where Self == RabbitMQBrokerTrait {
    /// A rabbitmq-server for the suite's tests (`TestRabbitMQ.current`).
    public static var rabbitMQ: Self { RabbitMQBrokerTrait() }
}

extension TestRabbitMQ {
    /// The broker of the running suite (see `RabbitMQBrokerTrait`).
    @TaskLocal public static var current: TestRabbitMQ?

    /// The suite's broker, or a failure naming the missing trait.
    public static func suiteBroker() throws -> TestRabbitMQ {
        guard let current else { throw BrokerError("no broker: the suite needs the .rabbitMQ trait") }
        return current
    }
}
