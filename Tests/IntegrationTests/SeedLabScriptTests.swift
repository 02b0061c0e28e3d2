import AshlarTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `examples/seed-lab/run --smoke`: the seed's lab from its one script — RabbitMQ, PostgreSQL, the controller and
/// three volume nodes as processes, each volume node with its own tgtd — driven by the openstack CLI: the seed's
/// service table, placements by zone, an attach over iSCSI from the controller, and deletes; with `--netns`, the
/// four nodes as hosts in network namespaces, and the network node cut off and back.
@Suite(
    .serialized, .timeLimit(.minutes(8)),
    .enabled(
        if: (TestRabbitMQ.isAvailable && TestPostgres.isAvailable) || TestPostgres.isRequired,
        "needs rabbitmq-server and PostgreSQL (scripts/setup-test-env)"))
struct SeedLabScriptTests {
    static let script = Harness.root.appendingPathComponent("examples/seed-lab/run").path

    func smoke(_ extra: [String]) async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-seedlab-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let result = try await Harness.run(
            "/bin/bash", [Self.script, "--smoke", "--binary", Harness.binary, "--state", state.path] + extra,
            environment: ["ASHLAR_VENV": Harness.venv], timeout: .seconds(360))
        #expect(result.status == 0, "\(result.stderr.suffix(4000))")
        #expect(result.stderr.contains("seed-lab: smoke passed"))
        #expect(!result.stderr.contains("FAILED"))
        // The seed's table: the scheduler and the four backends, all up.
        for host in ["block1@lvmdriver-b1", "block2@lvmdriver-b21", "block2@lvmdriver-b22", "network@lvmdriver-network"] {
            #expect(result.stderr.contains(host), "\(host) in the service list")
        }
        if getuid() == 0 {
            #expect(result.stderr.contains("ok: attach from the controller over iSCSI"))
        }
    }

    @Test func onLoopback() async throws {
        try await smoke([])
    }

    @Test(.enabled(if: getuid() == 0, "network namespaces need root"))
    func asFourHostsInNetworkNamespaces() async throws {
        try await smoke(["--netns"])
    }
}
