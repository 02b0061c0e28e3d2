import AshlarCore
import HTTPTypes
import Testing

/// `/limits`, `/healthcheck`, `/metrics`.
@Suite("Limits and operations", .timeLimit(.minutes(2)))
struct LimitsAndOperationsTests {
    @Test("Absolute limits count the project's volumes and gigabytes")
    func limits() async throws {
        try await withSystem { api in
            let before = try await api.get("/v3/limits", token: "u:p1")
            #expect(before.status == .ok)
            #expect(before.json["limits"]["rate"] == JSON(.array([])))
            let absolute0 = before.json["limits"]["absolute"]
            #expect(absolute0["totalVolumesUsed"].int == 0)
            #expect(absolute0["totalGigabytesUsed"].int == 0)
            for key in [
                "maxTotalVolumes", "maxTotalSnapshots", "maxTotalVolumeGigabytes", "maxTotalBackups",
                "maxTotalBackupGigabytes", "totalSnapshotsUsed", "totalBackupsUsed", "totalBackupGigabytesUsed",
            ] {
                #expect(absolute0[key].int != nil, "\(key)")
            }
            #expect(absolute0["maxTotalVolumes"].int == api.system.config.quotas.volumes)
            #expect(absolute0["maxTotalVolumeGigabytes"].int == api.system.config.quotas.gigabytes)

            _ = try await api.createVolume(size: 1, token: "u:p1")
            _ = try await api.createVolume(size: 3, token: "u:p1")
            _ = try await api.createVolume(size: 7, token: "u:p2")
            let absolute = try await api.get("/v3/limits", token: "u:p1").json["limits"]["absolute"]
            #expect(absolute["totalVolumesUsed"].int == 2)
            #expect(absolute["totalGigabytesUsed"].int == 4)
            let other = try await api.get("/v3/p2/limits", token: "u:p2").json["limits"]["absolute"]
            #expect(other["totalVolumesUsed"].int == 1)
            #expect(other["totalGigabytesUsed"].int == 7)
            // An admin may ask for another project from 3.39.
            let asked = try await api.get("/v3/limits?project_id=p2", version: "3.39", token: "u:p1")
            #expect(asked.json["limits"]["absolute"]["totalGigabytesUsed"].int == 7)
            let ignored = try await api.get("/v3/limits?project_id=p2", version: "3.38", token: "u:p1")
            #expect(ignored.json["limits"]["absolute"]["totalGigabytesUsed"].int == 4)
        }
    }

    @Test("/healthcheck answers 200 OK")
    func healthcheck() async throws {
        try await withSystem { api in
            let reply = try await api.get("/healthcheck")
            #expect(reply.status == .ok)
            #expect(reply.text == "OK")
            #expect(isRequestID(reply.header("x-openstack-request-id")))
        }
    }

    @Test("/metrics shows request counters and volumes by status")
    func metrics() async throws {
        try await withSystem(registry: bootstrappedMetricsRegistry) { api in
            try await api.createAvailableVolume()
            _ = try await api.get("/v3/volumes")
            let reply = try await api.get("/metrics")
            #expect(reply.status == .ok)
            #expect(reply.header("Content-Type")?.hasPrefix("text/plain") == true)
            #expect(reply.text.contains("ashlar_http_requests_total"), "\(reply.text.prefix(2000))")
            #expect(reply.text.contains("ashlar_volumes"))
            #expect(reply.text.contains(#"ashlar_volumes{status="available"} 1.0"#), "\(reply.text.prefix(4000))")
        }
    }
}
