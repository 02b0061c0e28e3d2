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
    .brokerAndDatabase)
struct SeedLabScriptTests {
    static let script = Harness.root.appendingPathComponent("examples/seed-lab/run").path

    func smoke(_ extra: [String]) async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-seedlab-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-seedlab-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        // Spawned with an empty signal mask (Foundation's Process would pass the runner's blocked SIGTERM down to
        // the script and every server it starts, and none of them could then be stopped gracefully).
        var environment = ProcessInfo.processInfo.environment
        environment["ASHLAR_VENV"] = Harness.venv
        let script = try SpawnedProcess(
            path: "/bin/bash", arguments: [Self.script, "--smoke", "--binary", Harness.binary, "--state", state.path] + extra,
            environment: environment, outputPath: output.path)
        let deadline = ContinuousClock.now + .seconds(360)
        while script.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        let finished = !script.isRunning
        // On time or not, it stops what it started when told to (SIGTERM), or is killed after a grace.
        await script.stop(grace: .seconds(90))
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(finished, "the smoke did not finish within 360 s:\n\(text.suffix(4000))")
        #expect(script.exitCode == 0, "\(text.suffix(4000))")
        #expect(text.contains("seed-lab: smoke passed"))
        #expect(!text.contains("FAILED"))
        // The seed's table: the scheduler and the four backends, all up.
        for host in ["block1@lvmdriver-b1", "block2@lvmdriver-b21", "block2@lvmdriver-b22", "network@lvmdriver-network"] {
            #expect(text.contains(host), "\(host) in the service list")
        }
        if getuid() == 0 {
            #expect(text.contains("ok: attach from the controller over iSCSI"))
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
