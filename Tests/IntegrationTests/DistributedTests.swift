import AshlarTestSupport
import Foundation
import Testing

/// The services as separate processes over a real RabbitMQ and PostgreSQL, driven by the openstack CLI.
@Suite(
    .serialized, .timeLimit(.minutes(6)),
    .brokerAndDatabase)
struct DistributedTests {
    @Test func apiSchedulerAndTwoVolumeNodesAsProcesses() async throws {
        let lab = try await DistributedLab.start(
            database: try await TestPostgres.newDatabase(), volumeHosts: ["block1", "block2"])
        let (scheduler, block1, block2) = (lab.scheduler, lab.volumeNodes[0], lab.volumeNodes[1])
        do {
            let cli = lab.cli!
            // The seed's table: one scheduler and a volume service per backend, all up.
            #expect(
                try await cli.eventually(.seconds(30)) {
                    let services = try await cli.openstackJSON("volume", "service", "list") as? [[String: Any]] ?? []
                    let up = services.filter { $0["State"] as? String == "up" }.map { "\($0["Binary"] ?? "")/\($0["Host"] ?? "")" }
                    return Set(up) == ["cinder-scheduler/controller", "cinder-volume/block1@file", "cinder-volume/block2@file"]
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
            #expect(hosts == ["block1@file", "block2@file"], "the capacity weigher spreads the volumes: \(hosts)")

            // A call across processes: the API asks a volume service for its capabilities.
            let capabilities = try await cli.get("/admin/capabilities/block1@file")
            #expect(capabilities["volume_backend_name"] as? String == "file")

            // kill -9 of a volume node: its service goes down, and new volumes all land on the other node.
            await block2.kill9()
            #expect(
                try await cli.eventually(.seconds(20)) {
                    let services = try await cli.openstackJSON("volume", "service", "list") as? [[String: Any]] ?? []
                    return services.contains { $0["Host"] as? String == "block2@file" && $0["State"] as? String == "down" }
                })
            for n in 0..<2 {
                let volume = try #require(try await cli.openstackJSON("volume", "create", "--size", "1", "after\(n)") as? [String: Any])
                let id = try #require(volume["id"] as? String)
                #expect(
                    try await cli.eventually(.seconds(30)) {
                        let shown = try await cli.get("/admin/volumes/\(id)")["volume"] as? [String: Any]
                        return shown?["status"] as? String == "available"
                            && (shown?["os-vol-host-attr:host"] as? String)?.hasPrefix("block1@file") == true
                    })
            }
            // It comes back: up again, and its volumes are still there and available.
            try await block2.start()
            #expect(
                try await cli.eventually(.seconds(20)) {
                    let services = try await cli.openstackJSON("volume", "service", "list") as? [[String: Any]] ?? []
                    return services.contains { $0["Host"] as? String == "block2@file" && $0["State"] as? String == "up" }
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
            await lab.stop()
            throw error
        }
        await lab.stop()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
