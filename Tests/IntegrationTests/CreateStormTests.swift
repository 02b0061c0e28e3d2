import Foundation
import Testing

/// Thousands of creates at once against the real `ashlar serve`, on its SQLite file: every accepted create ends
/// `available`, none is lost between the API, the scheduler and the volume service.
@Suite("Create storm", .serialized, .timeLimit(.minutes(5)))
struct CreateStormTests {
    @Test("2,400 creates from 16 concurrent clients: every one ends available")
    func noCreateIsLost() async throws {
        let server = try await Server.start()
        let base = server.url
        let unlimited = try await server.api(
            "PUT", "/admin/os-quota-sets/admin", ["quota_set": ["volumes": -1, "gigabytes": -1]])
        try #require(unlimited.status == 200, "\(unlimited)")

        let clients = 16, each = 150
        let accepted = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var ids: [String] = []
                    for i in 0..<each {
                        let reply = try await Server.api(
                            base, "POST", "/admin/volumes", ["volume": ["size": 1, "name": "storm-\(client)-\(i)"]])
                        if reply.status == 202, let id = (reply.json["volume"] as? [String: Any])?["id"] as? String {
                            ids.append(id)
                        }
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(accepted.count == clients * each)

        // Bounded: once nothing is creating, every accepted volume must be available.
        var creating: [[String: Any]] = []
        _ = try await server.eventually(.seconds(60)) {
            creating = try await server.get("/admin/volumes/detail?status=creating&limit=1000")["volumes"]
                as? [[String: Any]] ?? []
            return creating.isEmpty
        }
        #expect(creating.isEmpty, "stuck in creating: \(creating.prefix(5).compactMap { $0["id"] as? String })")
        let available = try await server.get("/admin/volumes?status=available&with_count=true&limit=1")["count"] as? Int
        #expect(available == accepted.count)
        #expect(!server.log.contains("no longer exists"), "a service missed a volume the API had just inserted")
        await server.stop()
    }
}
