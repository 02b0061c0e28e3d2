import AshlarAPI
import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@Suite("Recovery of work whose message was lost", .timeLimit(.minutes(2)))
struct RecoveryTests {
    @Test("a create accepted but never handed to the scheduler is placed and made after stale_operation_timeout")
    func unplacedCreateIsScheduled() async throws {
        try await withSystem(configure: { $0.staleOperationTimeout = 1 }) { api in
            let types = VolumeTypeStore(db: api.system.database)
            let type = try #require(try await types.get(name: "__DEFAULT__"))
            // As if the API stopped between its insert and its cast to the scheduler.
            let orphan = Volume(
                projectID: "admin", userID: "admin", size: 1, status: .creating, availabilityZone: "nova",
                volumeTypeID: type.id)
            try await api.system.environment.volumes.insert(orphan)
            let done = try await poll(timeout: .seconds(30)) {
                try await api.system.environment.volumes.get(orphan.id)?.status == .available
            }
            #expect(done)
            #expect(try await api.system.environment.volumes.get(orphan.id)?.host == TestSystem.backendHost + "#file-1")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(orphan.id)))
        }
    }

    @Test("an unplaced volume left deleting is removed")
    func unplacedDeleteIsFinished() async throws {
        try await withSystem(configure: { $0.staleOperationTimeout = 1 }) { api in
            let type = try #require(try await VolumeTypeStore(db: api.system.database).get(name: "__DEFAULT__"))
            let orphan = Volume(
                projectID: "admin", userID: "admin", size: 1, status: .deleting, availabilityZone: "nova",
                volumeTypeID: type.id)
            try await api.system.environment.volumes.insert(orphan)
            #expect(try await poll(timeout: .seconds(30)) { try await api.system.environment.volumes.get(orphan.id) == nil })
        }
    }
}

@Suite("POST /workers/cleanup", .timeLimit(.minutes(2)))
struct WorkersCleanupTests {
    @Test("the services finish at once what was left transitional, without waiting for their sweep")
    func cleanupNow() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let type = try #require(try await VolumeTypeStore(db: api.system.database).get(name: "__DEFAULT__"))
            // Placed on the backend, but its create message was lost; stale_operation_timeout is 120 s here.
            let lost = Volume(
                projectID: "admin", userID: "admin", size: 1, status: .creating, availabilityZone: "nova",
                volumeTypeID: type.id, host: TestSystem.backendHost + "#file-1")
            try await api.system.environment.volumes.insert(lost)
            let unplaced = Volume(
                projectID: "admin", userID: "admin", size: 1, status: .creating, availabilityZone: "nova",
                volumeTypeID: type.id)
            try await api.system.environment.volumes.insert(unplaced)

            expectFault(try await api.post("/v3/workers/cleanup", [:], version: "3.23"), .notFound)
            let reply = try await api.post("/v3/workers/cleanup", [:], version: "3.24")
            #expect(reply.status == .accepted, "\(reply)")
            let cleaning = reply.json["cleaning"].array.compactMap { $0["binary"].string }
            #expect(Set(cleaning) == ["cinder-volume", "cinder-scheduler"], "\(reply)")
            #expect(reply.json["unavailable"].array.isEmpty)
            for id in [lost.id, unplaced.id] {
                #expect(try await poll(timeout: .seconds(20)) {
                    try await api.system.environment.volumes.get(id)?.status == .available
                }, "volume \(id)")
            }
            // Filters narrow it; a bad filter is Cinder's 400.
            let scoped = try await api.post(
                "/v3/workers/cleanup", ["binary": "cinder-volume", "host": .string(TestSystem.backendHost)], version: "3.24")
            #expect(scoped.json["cleaning"].array.compactMap { $0["host"].string } == [TestSystem.backendHost])
            expectFault(try await api.post("/v3/workers/cleanup", ["binary": "nova-compute"], version: "3.24"), .badRequest)
            expectFault(try await api.post("/v3/workers/cleanup", ["colour": "blue"], version: "3.24"), .badRequest)
        }
    }
}

/// A bus whose broker is away: every send fails as `RabbitTransport`'s do. With `known`, the transport also
/// says so when asked (the connection is down); without, the loss shows only when a send fails.
private struct UnreachableBus: RPCTransport {
    var known = false
    func isReachable() async -> Bool { !known }
    func cast(_ message: RPCMessage, to target: RPCTarget) async throws {
        throw AshlarError(.unavailable, "The message bus is unreachable; try again later.")
    }
    func call(_ message: RPCMessage, to target: RPCTarget, timeout: Duration) async throws -> Data? {
        throw AshlarError(.unavailable, "The message bus is unreachable; try again later.")
    }
    func fanout(_ message: RPCMessage, topic: String) async throws {
        throw AshlarError(.unavailable, "The message bus is unreachable; try again later.")
    }
    func serve(topic: String, server: String, endpoint: any RPCEndpoint) async throws {}
}

@Suite("The bus unreachable", .timeLimit(.minutes(2)))
struct BusUnreachableTests {
    @Test("a create the scheduler cannot be told of is a 503 that changed nothing: no volume, no quota used")
    func createIsRefusedWhole() async throws {
        try await withSystem { api in
            let system = api.system
            let environment = APIEnvironment(
                config: system.config, database: system.database, transport: UnreachableBus(),
                registry: PrometheusCollectorRegistry(), logger: quietLogger)
            let app = APIServer.application(environment: environment, host: "127.0.0.1", port: 0, logger: quietLogger)
            try await app.test(.router) { client in
                let cut = API(client: client, system: system)
                let reply = try await cut.post("/v3/admin/volumes", ["volume": ["size": 1, "name": "lost"]])
                #expect(reply.status == .serviceUnavailable, "\(reply)")
                #expect(reply.text.contains("nothing was created"), "\(reply)")
                #expect(!reply.text.contains("bus is unreachable"), "the bus's own words stay in the log")
            }
            let volumes = try await api.get("/v3/admin/volumes")
            #expect(volumes.json["volumes"].array.isEmpty, "\(volumes)")
            let usage = try await system.environment.quotaStore.usage(projectID: "admin")
            #expect(usage["volumes"] == 0 && usage["gigabytes"] == 0)
        }
    }

    @Test("while the bus is known to be away, writes that need it are 503 and change nothing; reads and row-only writes work")
    func writesAreRefusedWhileTheBusIsAway() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let system = api.system
            let created = try await api.post("/v3/admin/volumes", ["volume": ["size": 1, "name": "kept"]])
            let id = try #require(created.json["volume"]["id"].string)
            #expect(try await poll(timeout: .seconds(20)) { try await system.environment.volumes.get(id)?.status == .available })
            let usageBefore = try await system.environment.quotaStore.usage(projectID: "admin")

            let environment = APIEnvironment(
                config: system.config, database: system.database, transport: UnreachableBus(known: true),
                registry: PrometheusCollectorRegistry(), logger: quietLogger)
            let app = APIServer.application(environment: environment, host: "127.0.0.1", port: 0, logger: quietLogger)
            try await app.test(.router) { client in
                let cut = API(client: client, system: system)
                let refused = [
                    try await cut.post("/v3/admin/volumes", ["volume": ["size": 1, "name": "lost"]]),
                    try await cut.delete("/v3/admin/volumes/\(id)"),
                    try await cut.post("/v3/admin/volumes/\(id)/action", ["os-extend": ["new_size": 2]]),
                    try await cut.post("/v3/admin/snapshots", ["snapshot": ["volume_id": .string(id), "name": "s"]]),
                ]
                for reply in refused {
                    #expect(reply.status == .serviceUnavailable, "\(reply)")
                    #expect(reply.json["serviceUnavailable"]["message"].string?.contains("nothing was changed") == true, "\(reply)")
                }
                // Reads, and writes that touch rows only, go on.
                #expect(try await cut.get("/v3/admin/volumes/\(id)").status == .ok)
                #expect(try await cut.put("/v3/admin/volumes/\(id)", ["volume": ["name": "renamed"]]).status == .ok)
                #expect(try await cut.post("/v3/admin/volumes/\(id)/metadata", ["metadata": ["k": "v"]]).status == .ok)
            }
            let volume = try #require(try await system.environment.volumes.get(id))
            #expect(volume.status == .available && volume.size == 1 && volume.name == "renamed")
            #expect(try await api.get("/v3/admin/volumes").json["volumes"].array.count == 1)
            #expect(try await api.get("/v3/admin/snapshots").json["snapshots"].array.isEmpty)
            #expect(try await system.environment.quotaStore.usage(projectID: "admin") == usageBefore)
        }
    }
}
