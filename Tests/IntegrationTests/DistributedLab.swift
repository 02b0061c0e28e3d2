import AshlarTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One `ashlar api|scheduler|volume` process of a distributed test, stopped by PID. Spawned with an empty signal
/// mask, so that SIGTERM stops it gracefully (under Foundation's `Process` it would inherit the runner's blocked
/// SIGTERM and every stop would wait for the SIGKILL).
final class ServiceNode {
    let name: String
    let arguments: [String]
    /// Its standard output and error together.
    let log: URL
    private var process: SpawnedProcess?

    init(name: String, arguments: [String], directory: URL) {
        self.name = name
        self.arguments = arguments
        self.log = directory.appendingPathComponent("\(name).log")
    }

    /// Starts it and waits (bounded) for its ready line; returns the API URL for an API node.
    @discardableResult
    func start() async throws -> String {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = try SpawnedProcess(
            path: Harness.binary, arguments: arguments, environment: ProcessInfo.processInfo.environment,
            outputPath: log.path)
        self.process = process
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, process.isRunning {
            if let line = logText.split(separator: "\n").first(where: { $0.hasPrefix("Ashlar ") }) {
                return line.hasPrefix("Ashlar is ready at ") ? String(line.dropFirst("Ashlar is ready at ".count)) : ""
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Harness.HarnessError("\(name) did not start:\n\(logText)")
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// kill -9, as a crash or a power cut would.
    func kill9() async {
        await process?.stop(signal: SIGKILL, grace: .seconds(5))
    }

    /// SIGTERM, the graceful stop; SIGKILL if it has not ended within 20 s.
    func stop() async {
        await process?.stop(grace: .seconds(20))
    }

    deinit { if let process, process.isRunning { kill(process.pid, SIGKILL) } }
}

extension Trait where Self == ConditionTrait {
    /// A RabbitMQ and a PostgreSQL of the test's own can run here (and must in CI, where a missing one fails).
    static var brokerAndDatabase: Self {
        .enabled(
            if: (TestRabbitMQ.isAvailable && TestPostgres.isAvailable) || TestPostgres.isRequired,
            "needs rabbitmq-server and PostgreSQL (scripts/setup-test-env)")
    }
}

/// The distributed services as processes on one broker and one database: an API, a scheduler and volume nodes
/// (one file backend each), with short report and down times so that failures show within seconds.
final class DistributedLab {
    let broker: TestRabbitMQ
    let directory: URL
    let api: ServiceNode
    let scheduler: ServiceNode
    /// More API processes and schedulers beside the first (on hosts controller2, …).
    let moreAPIs: [ServiceNode]
    let moreSchedulers: [ServiceNode]
    let volumeNodes: [ServiceNode]
    /// The URLs of the API processes beyond the first.
    private(set) var moreAPIURLs: [String] = []
    /// The API, once it is up.
    private(set) var cli: Server!

    var nodes: [ServiceNode] { [api, scheduler] + moreAPIs + moreSchedulers + volumeNodes }

    private init(
        broker: TestRabbitMQ, directory: URL, api: ServiceNode, scheduler: ServiceNode, moreAPIs: [ServiceNode],
        moreSchedulers: [ServiceNode], volumeNodes: [ServiceNode]
    ) {
        self.broker = broker
        self.directory = directory
        self.api = api
        self.scheduler = scheduler
        self.moreAPIs = moreAPIs
        self.moreSchedulers = moreSchedulers
        self.volumeNodes = volumeNodes
    }

    /// Starts a broker of its own and the processes on `database`; `volumeHosts` name the volume nodes, each with
    /// backend `file`; `extra` is added to every node's [DEFAULT], `databaseOptions` to its [database].
    /// Stops what it started when a start fails.
    static func start(
        database: String, volumeHosts: [String] = ["block1"], apis: Int = 1, schedulers: Int = 1, extra: String = "",
        databaseOptions: String = ""
    ) async throws -> DistributedLab {
        let broker = try await TestRabbitMQ.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-lab-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let common = directory.appendingPathComponent("common.conf").path
            try """
                [DEFAULT]
                transport_url = rabbit://guest:guest@127.0.0.1:\(broker.amqpPort)/
                report_interval = 1
                service_down_time = 10
                scheduler_driver_init_wait_time = 3
                quota_volumes = 1000
                quota_gigabytes = 10000
                \(extra)
                [database]
                connection = \(database)
                \(databaseOptions)
                """.write(toFile: common, atomically: true, encoding: .utf8)
            func nodeConfig(_ host: String, backend: String?) throws -> String {
                let path = directory.appendingPathComponent("\(host).conf").path
                var text = "[DEFAULT]\nhost = \(host)\nstate_path = \(directory.appendingPathComponent(host).path)\n"
                if let backend {
                    text += "enabled_backends = \(backend)\n[\(backend)]\nvolume_driver = file\nfile_capacity_gb = 1000\n"
                }
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            /// The `n`th API or scheduler: `api`/`scheduler` on host controller, then `api2` on controller2, …
            func controllerNode(_ role: String, _ n: Int) throws -> ServiceNode {
                let suffix = n == 1 ? "" : String(n)
                let config = try nodeConfig("controller\(suffix)", backend: nil)
                let port = role == "api" ? ["--port", "0"] : []
                return ServiceNode(
                    name: role + suffix, arguments: [role, "--config-file", common, "--config-file", config] + port,
                    directory: directory)
            }
            let lab = DistributedLab(
                broker: broker, directory: directory,
                api: try controllerNode("api", 1),
                scheduler: try controllerNode("scheduler", 1),
                moreAPIs: try (1..<max(apis, 1)).map { try controllerNode("api", $0 + 1) },
                moreSchedulers: try (1..<max(schedulers, 1)).map { try controllerNode("scheduler", $0 + 1) },
                volumeNodes: try volumeHosts.map {
                    ServiceNode(
                        name: $0,
                        arguments: ["volume", "--config-file", common, "--config-file", try nodeConfig($0, backend: "file")],
                        directory: directory)
                })
            do {
                lab.cli = try await Server.attach(url: try await lab.api.start())
                for node in lab.moreAPIs { lab.moreAPIURLs.append(try await node.start()) }
                for node in [lab.scheduler] + lab.moreSchedulers + lab.volumeNodes { try await node.start() }
                let expected = Set(
                    ["cinder-scheduler/controller"] + (1..<max(schedulers, 1)).map { "cinder-scheduler/controller\($0 + 1)" }
                        + volumeHosts.map { "cinder-volume/\($0)@file" })
                let up = try await lab.cli.eventually(.seconds(30)) { try await lab.servicesUp() == expected }
                guard up else { throw Harness.HarnessError("services never all came up:\n\(lab.logs)") }
                return lab
            } catch {
                await lab.stop()
                throw error
            }
        } catch {
            await broker.stop()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// `binary/host` of every service that is up.
    func servicesUp() async throws -> Set<String> {
        let services = try await cli.get("/admin/os-services")["services"] as? [[String: Any]] ?? []
        return Set(services.filter { $0["state"] as? String == "up" }.map { "\($0["binary"] ?? "")/\($0["host"] ?? "")" })
    }

    /// Every node's log, for a failure's message.
    var logs: String { nodes.map { "--- \($0.name)\n\($0.logText.suffix(3000))" }.joined(separator: "\n") }

    func stop() async {
        for node in nodes { await node.stop() }
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Volume creates one after another from one client, as a steady load while something fails.
struct CreateStream {
    struct Answer {
        let status: Int
        let id: String?
    }

    /// Says when a stream should end.
    final class Stop: Sendable {
        private let flag = Mutex(false)
        func now() { flag.withLock { $0 = true } }
        var isSet: Bool { flag.withLock { $0 } }
    }

    /// Sends up to `count` creates, `interval` apart, to the API at `base`, until `stop` is set; every answer in
    /// order (status 0: no answer).
    static func run(base: String, count: Int, interval: Duration, prefix: String, stop: Stop = Stop()) async -> [Answer] {
        var answers: [Answer] = []
        for n in 0..<count where !stop.isSet {
            let answer: Answer
            do {
                let reply = try await Server.api(base, "POST", "/admin/volumes", ["volume": ["size": 1, "name": "\(prefix)\(n)"]])
                answer = Answer(status: reply.status, id: (reply.json["volume"] as? [String: Any])?["id"] as? String)
            } catch {
                answer = Answer(status: 0, id: nil)
            }
            answers.append(answer)
            try? await Task.sleep(for: interval)
        }
        return answers
    }
}

extension DistributedLab {
    /// Waits (bounded) until no volume is in a transitional state; returns every volume's (id, status).
    func settledVolumes(within timeout: Duration = .seconds(90)) async throws -> [String: String] {
        var last: [String: String] = [:]
        let settled = try await cli.eventually(timeout) {
            let list = try await cli.get("/admin/volumes/detail?limit=1000")["volumes"] as? [[String: Any]] ?? []
            last = Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as? String ?? "", $0["status"] as? String ?? "") })
            return last.values.allSatisfy { $0 == "available" || $0 == "error" }
        }
        guard settled else {
            let stuck = last.filter { $0.value != "available" && $0.value != "error" }
            throw Harness.HarnessError("volumes left in a transitional state: \(stuck)\n\(logs)")
        }
        return last
    }

    /// The project's volumes in use as its quota counts them.
    func volumesInQuota() async throws -> Int {
        let set = try await cli.get("/admin/os-quota-sets/admin?usage=true")["quota_set"] as? [String: Any]
        return (set?["volumes"] as? [String: Any])?["in_use"] as? Int ?? -1
    }

    /// The user messages of `ids`, for a failure's message.
    func userMessages(_ ids: some Sequence<String>) async throws -> [String] {
        var texts: [String] = []
        for id in ids {
            let messages = try await cli.get("/admin/messages?resource_uuid=\(id)")["messages"] as? [[String: Any]] ?? []
            texts += messages.compactMap { $0["user_message"] as? String }
        }
        return texts
    }

    /// Whether an errored volume carries a user message that says why.
    func hasUserMessage(_ id: String) async throws -> Bool {
        let messages = try await cli.get("/admin/messages?resource_uuid=\(id)")["messages"] as? [[String: Any]] ?? []
        return messages.contains { ($0["user_message"] as? String)?.isEmpty == false }
    }
}
