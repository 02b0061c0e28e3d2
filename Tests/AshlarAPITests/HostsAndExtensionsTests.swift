import AshlarCore
import Foundation
import HTTPTypes
import Testing

@Suite("os-hosts and extensions", .timeLimit(.minutes(2)))
struct HostsAndExtensionsTests {
    @Test("os-hosts lists the services as hosts and shows what each project keeps on a volume host")
    func hosts() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let listed = try await api.get("/v3/os-hosts")
            #expect(listed.status == .ok)
            let hosts = listed.json["hosts"].array
            #expect(Set(hosts.compactMap { $0["service"].string }) == ["cinder-scheduler", "cinder-volume"])
            #expect(
                hosts.allSatisfy {
                    $0.keys == ["host_name", "service", "zone", "service-status", "service-state", "last-update"]
                        && $0["service-status"].string == "available" && $0["service-state"].string == "enabled"
                })
            #expect(try await api.get("/v3/os-hosts?zone=elsewhere").json["hosts"].array.isEmpty)

            let volume = try await api.createAvailableVolume(size: 2)
            try await api.createAvailableSnapshot(of: volume)
            try await api.createAvailableVolume(size: 1, token: "u:other")
            let shown = try await api.get("/v3/os-hosts/\(TestSystem.backendHost)")
            #expect(shown.status == .ok, "\(shown)")
            let rows = shown.json["host"].array.map { $0["resource"] }
            #expect(rows.map { $0["project"].string } == ["(total)", "admin", "other"])
            #expect(rows[0]["volume_count"].string == "2")
            #expect(rows[0]["total_volume_gb"].string == "3")
            #expect(rows[0]["snapshot_count"].string == "1")
            #expect(rows[0]["total_snapshot_gb"].string == "2")
            #expect(rows[2]["volume_count"].string == "1" && rows[2]["snapshot_count"].string == "0")
            #expect(
                rows.allSatisfy {
                    $0.keys == ["host", "project", "volume_count", "total_volume_gb", "snapshot_count", "total_snapshot_gb"]
                })
            expectFault(try await api.get("/v3/os-hosts/nowhere@nothing"), .notFound)
        }
    }

    @Test("extensions are listed by upstream's names and aliases")
    func extensions() async throws {
        try await withSystem { api in
            let reply = try await api.get("/v3/extensions")
            #expect(reply.status == .ok)
            let items = reply.json["extensions"].array
            #expect(items.contains { $0["name"].string == "Hosts" && $0["alias"].string == "os-hosts" })
            #expect(items.contains { $0["alias"].string == "qos-specs" })
            #expect(items.allSatisfy { $0.keys == ["name", "alias", "description", "links", "updated"] })
        }
    }
}
