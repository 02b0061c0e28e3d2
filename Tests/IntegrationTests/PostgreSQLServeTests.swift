import AshlarTestSupport
import Foundation
import Testing

/// `ashlar serve` and `ashlar manage` on a real PostgreSQL server (the tests' own), driven by the openstack CLI.
@Suite(
    .serialized, .timeLimit(.minutes(5)),
    .enabled(if: TestPostgres.isAvailable || TestPostgres.isRequired, "PostgreSQL is not installed"))
struct PostgreSQLServeTests {
    @Test func theOpenStackCLIDrivesAshlarOnPostgreSQL() async throws {
        let database = try await TestPostgres.newDatabase()
        let configDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ashlar-pg-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: configDirectory) }
        let config = configDirectory.appendingPathComponent("ashlar.conf").path
        // Upstream's spelling of the URL; a short down time so that a stopped service counts as down quickly.
        let url = database.replacingOccurrences(of: "postgresql://", with: "postgresql+psycopg2://")
        try "[DEFAULT]\nreport_interval = 1\nservice_down_time = 3\n[database]\nconnection = \(url)\n"
            .write(toFile: config, atomically: true, encoding: .utf8)

        let before = try await Harness.run(Harness.binary, ["manage", "db", "version", "--config-file", config])
        #expect(before.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(before.stderr)")
        let sync = try await Harness.run(Harness.binary, ["manage", "db", "sync", "--config-file", config])
        #expect(sync.status == 0 && sync.stdout.contains("schema migrated from version 0"), "\(sync.stdout)\(sync.stderr)")

        let server = try await Server.start(extraArguments: ["--config-file", config])
        let volume = try #require(
            try await server.openstackJSON("volume", "create", "--size", "1", "--property", "tier=pg", "pg-vol")
                as? [String: Any])
        let id = try #require(volume["id"] as? String)
        #expect(
            try await server.eventually {
                (try await server.openstackJSON("volume", "show", id) as? [String: Any])?["status"] as? String
                    == "available"
            }, "\(server.log)")
        let snapshot = try #require(
            try await server.openstackJSON("volume", "snapshot", "create", "--volume", id, "pg-snap") as? [String: Any])
        let snapshotID = try #require(snapshot["id"] as? String)
        #expect(
            try await server.eventually {
                (try await server.openstackJSON("volume", "snapshot", "show", snapshotID) as? [String: Any])?["status"]
                    as? String == "available"
            })
        let clone = try #require(
            try await server.openstackJSON("volume", "create", "--snapshot", snapshotID, "--size", "1", "pg-clone")
                as? [String: Any])
        let cloneID = try #require(clone["id"] as? String)
        #expect(
            try await server.eventually {
                (try await server.openstackJSON("volume", "show", cloneID) as? [String: Any])?["status"] as? String
                    == "available"
            })
        // The metadata filter (JSON in a text column: one expression per dialect) and the LIKE filter.
        let tagged = try #require(
            try await server.openstackJSON("volume", "list", "--property", "tier=pg") as? [[String: Any]])
        #expect(tagged.map { $0["ID"] as? String } == [id])
        let named = try await server.get("/admin/volumes?name~=PG-")
        #expect((named["volumes"] as? [[String: Any]])?.count == 2, "name~ ignores case on every database")

        // Quota admission on PostgreSQL: the third volume of a project limited to two is refused.
        #expect(try await server.openstack("quota", "set", "--volumes", "2", "admin").status == 0)
        let refused = try await server.openstack("volume", "create", "--size", "1", "pg-over")
        #expect(refused.status != 0 && refused.stderr.contains("VolumeLimitExceeded"), "\(refused.stderr)")

        let services = try await Harness.run(Harness.binary, ["manage", "service", "list", "--config-file", config])
        #expect(services.stdout.contains("cinder-scheduler") && services.stdout.contains("cinder-volume"))
        #expect(services.stdout.contains(":-)"), "\(services.stdout)")

        for resource in [["volume", "delete", cloneID], ["volume", "snapshot", "delete", snapshotID]] {
            #expect(try await server.openstack(resource).status == 0)
        }
        #expect(
            try await server.eventually {
                (try await server.openstackJSON("volume", "snapshot", "list") as? [[String: Any]])?.isEmpty == true
            })
        #expect(try await server.openstack("volume", "delete", id).status == 0)
        #expect(
            try await server.eventually {
                (try await server.openstackJSON("volume", "list") as? [[String: Any]])?.isEmpty == true
            })
        #expect(await server.stop() == 0)

        // Stopped: the volume service is down after service_down_time and may be removed; the scheduler too.
        let host = try #require(
            services.stdout.split(separator: "\n").first { $0.hasPrefix("cinder-volume") }?
                .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init))
        try await Task.sleep(for: .seconds(4))
        let removed = try await Harness.run(
            Harness.binary, ["manage", "service", "remove", "cinder-volume", host, "--config-file", config])
        #expect(removed.status == 0 && removed.stdout.contains("removed"), "\(removed.stdout)\(removed.stderr)")
        let after = try await Harness.run(Harness.binary, ["manage", "service", "list", "--config-file", config])
        #expect(!after.stdout.contains("cinder-volume"), "\(after.stdout)")
    }
}

extension Server {
    /// `openstack …` with the words in an array.
    func openstack(_ arguments: [String]) async throws -> Harness.Output {
        try await Harness.run(
            Harness.venv + "/bin/openstack", arguments,
            environment: ["OS_AUTH_TYPE": "none", "OS_ENDPOINT": url, "OS_VOLUME_API_VERSION": "3.71"])
    }
}
