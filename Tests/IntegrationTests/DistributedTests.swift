import AshlarTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The services as separate processes over a real RabbitMQ and PostgreSQL, driven by the openstack CLI.
@Suite(
    .serialized, .timeLimit(.minutes(6)),
    .enabled(
        if: (TestRabbitMQ.isAvailable && TestPostgres.isAvailable) || TestPostgres.isRequired,
        "needs rabbitmq-server and PostgreSQL (scripts/setup-test-env)"))
struct DistributedTests {
    @Test func apiSchedulerAndTwoVolumeNodesAsProcesses() async throws {
        let broker = try await TestRabbitMQ.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-dist-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var nodes: [ServiceNode] = []
        do {
            let database = try await TestPostgres.newDatabase()
            let common = directory.appendingPathComponent("common.conf").path
            try """
                [DEFAULT]
                transport_url = rabbit://guest:guest@127.0.0.1:\(broker.amqpPort)/
                report_interval = 1
                service_down_time = 4
                scheduler_driver_init_wait_time = 5
                [database]
                connection = \(database)
                """.write(toFile: common, atomically: true, encoding: .utf8)
            func nodeConfig(_ host: String, _ backend: String) throws -> String {
                let path = directory.appendingPathComponent("\(host).conf").path
                try """
                    [DEFAULT]
                    host = \(host)
                    state_path = \(directory.appendingPathComponent(host).path)
                    enabled_backends = \(backend)
                    [\(backend)]
                    volume_driver = file
                    volume_backend_name = shared
                    file_capacity_gb = 100
                    """.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let controller = try nodeConfig("controller", "unused")
            let api = ServiceNode(
                name: "api", arguments: ["api", "--config-file", common, "--config-file", controller, "--port", "0"],
                directory: directory)
            let scheduler = ServiceNode(
                name: "scheduler", arguments: ["scheduler", "--config-file", common, "--config-file", controller],
                directory: directory)
            let block1 = ServiceNode(
                name: "block1", arguments: ["volume", "--config-file", common, "--config-file", try nodeConfig("block1", "file-a")],
                directory: directory)
            let block2 = ServiceNode(
                name: "block2", arguments: ["volume", "--config-file", common, "--config-file", try nodeConfig("block2", "file-b")],
                directory: directory)
            nodes = [api, scheduler, block1, block2]
            // The database first (two processes migrating at once is covered by the advisory lock).
            let url = try await api.start()
            for node in [scheduler, block1, block2] { try await node.start() }
            let cli = try await Server.attach(url: url)

            // The seed's table: one scheduler and a volume service per backend, all up.
            #expect(
                try await cli.eventually(.seconds(30)) {
                    let services = try await cli.openstackJSON("volume", "service", "list") as? [[String: Any]] ?? []
                    let up = services.filter { $0["State"] as? String == "up" }.map { "\($0["Binary"] ?? "")/\($0["Host"] ?? "")" }
                    return Set(up) == ["cinder-scheduler/controller", "cinder-volume/block1@file-a", "cinder-volume/block2@file-b"]
                }, "services never all came up:\n\(scheduler.logText)")

            // Creates go through the API process, the scheduler process and a volume process.
            var ids: [String] = []
            for n in 0..<4 {
                let volume = try #require(try await cli.openstackJSON("volume", "create", "--size", "1", "d\(n)") as? [String: Any])
                ids.append(try #require(volume["id"] as? String))
            }
            #expect(
                try await cli.eventually(.seconds(30)) {
                    let list = try await cli.openstackJSON("volume", "list") as? [[String: Any]] ?? []
                    return list.count == 4 && list.allSatisfy { $0["Status"] as? String == "available" }
                }, "volumes never became available:\n\(scheduler.logText)\n\(block1.logText)")
            let hosts = try await Set(
                ids.asyncMap { try await cli.get("/admin/volumes/\($0)")["volume"] as? [String: Any] }
                    .compactMap { $0?["os-vol-host-attr:host"] as? String }.map { $0.split(separator: "#")[0] })
            #expect(hosts == ["block1@file-a", "block2@file-b"], "the capacity weigher spreads the volumes: \(hosts)")

            // A call across processes: the API asks a volume service for its capabilities.
            let capabilities = try await cli.get("/admin/capabilities/block1@file-a")
            #expect(capabilities["volume_backend_name"] as? String == "shared")

            // kill -9 of a volume node: its service goes down, and new volumes all land on the other node.
            await block2.kill9()
            #expect(
                try await cli.eventually(.seconds(20)) {
                    let services = try await cli.openstackJSON("volume", "service", "list") as? [[String: Any]] ?? []
                    return services.contains { $0["Host"] as? String == "block2@file-b" && $0["State"] as? String == "down" }
                })
            for n in 0..<2 {
                let volume = try #require(try await cli.openstackJSON("volume", "create", "--size", "1", "after\(n)") as? [String: Any])
                let id = try #require(volume["id"] as? String)
                #expect(
                    try await cli.eventually(.seconds(30)) {
                        let shown = try await cli.get("/admin/volumes/\(id)")["volume"] as? [String: Any]
                        return shown?["status"] as? String == "available"
                            && (shown?["os-vol-host-attr:host"] as? String)?.hasPrefix("block1@file-a") == true
                    })
            }
            // It comes back: up again, and its volumes are still there and available.
            try await block2.start()
            #expect(
                try await cli.eventually(.seconds(20)) {
                    let services = try await cli.openstackJSON("volume", "service", "list") as? [[String: Any]] ?? []
                    return services.contains { $0["Host"] as? String == "block2@file-b" && $0["State"] as? String == "up" }
                })
            let list = try await cli.openstackJSON("volume", "list") as? [[String: Any]] ?? []
            #expect(list.count == 6 && list.allSatisfy { $0["Status"] as? String == "available" })
            for volume in list {
                #expect(try await cli.openstack("volume", "delete", volume["ID"] as? String ?? "").status == 0)
            }
            #expect(
                try await cli.eventually(.seconds(30)) {
                    (try await cli.openstackJSON("volume", "list") as? [[String: Any]])?.isEmpty == true
                })
        } catch {
            for node in nodes { await node.stop() }
            await broker.stop()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        for node in nodes { await node.stop() }
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
