import AshlarTestSupport
import Foundation
import Testing

/// The distributed services under the failures that hurt Cinder's operators — the broker restarted, the scheduler
/// killed, the database restarted — each during a steady stream of creates. Whatever fails, every create that got
/// a 202 ends `available` or `error` with a message, nothing stays in a transitional state, a refused request left
/// nothing behind, and the quota counts exactly the volumes there are.
@Suite(
    .serialized, .timeLimit(.minutes(8)),
    .brokerAndDatabase)
struct DistributedFailureTests {
    /// A stale operation is taken over after 5 s, so that a message lost with a killed process is redone soon.
    static let fastRecovery = "stale_operation_timeout = 5"

    @Test func rabbitMQRestartsDuringAStreamOfCreates() async throws {
        let lab = try await DistributedLab.start(
            database: try await TestPostgres.newDatabase(), volumeHosts: ["block1", "block2"], extra: Self.fastRecovery)
        do {
            // The stream goes on until some seconds after the broker is back (its boot takes a while on a busy
            // machine), so that creates meet the API before, during and after the outage.
            let stop = CreateStream.Stop()
            let stream = Task { [base = lab.cli.url] in
                await CreateStream.run(base: base, count: 600, interval: .milliseconds(100), prefix: "rmq", stop: stop)
            }
            try await Task.sleep(for: .seconds(2))
            await lab.broker.stopServer()
            try await Task.sleep(for: .seconds(3))
            try await lab.broker.startServer()
            try await Task.sleep(for: .seconds(8))
            stop.now()
            let answers = await stream.value

            let accepted = answers.compactMap { $0.status == 202 ? $0.id : nil }
            let refused = answers.filter { $0.status != 202 }
            #expect(refused.allSatisfy { $0.status == 503 }, "a write with the broker away is a 503: \(refused.map(\.status))")
            #expect(!refused.isEmpty, "some creates fell in the 3 s outage and were refused")
            let lastRefused = answers.lastIndex { $0.status != 202 } ?? 0
            #expect(
                answers.lastIndex { $0.status == 202 } ?? 0 > lastRefused,
                "the API took creates again before the stream ended: \(answers.map(\.status))")

            // Every service reconnects by itself (at most 2 s between attempts): new work flows end to end again.
            var after: String?
            _ = try await lab.cli.eventually(.seconds(30)) {
                let reply = try await lab.cli.api("POST", "/admin/volumes", ["volume": ["size": 1, "name": "after"]])
                after = (reply.json["volume"] as? [String: Any])?["id"] as? String
                return reply.status == 202
            }
            let afterID = try #require(after, "the API takes creates again once the broker is back")
            let volumes = try await lab.settledVolumes()
            #expect(volumes.count == accepted.count + 1, "a refused create left no row")
            #expect(Set(accepted).isSubset(of: Set(volumes.keys)))
            #expect(volumes[afterID] == "available", "a create after the restart is made")
            for (id, status) in volumes where status == "error" {
                #expect(try await lab.hasUserMessage(id), "volume \(id) ended in error without a user message")
            }
            let made = volumes.filter { $0.value == "available" }.count
            let inQuota = try await lab.volumesInQuota()
            #expect(inQuota == made, "\(made) of \(volumes.count) volumes made")
            #expect(
                try await lab.cli.eventually(.seconds(20)) {
                    try await lab.servicesUp()
                        == ["cinder-scheduler/controller", "cinder-volume/block1@file", "cinder-volume/block2@file"]
                }, "every service is up again")
        } catch {
            await lab.stop()
            throw error
        }
        await lab.stop()
    }

    @Test func theSchedulerIsKilledDuringAStreamOfCreates() async throws {
        let lab = try await DistributedLab.start(
            database: try await TestPostgres.newDatabase(), volumeHosts: ["block1"], extra: Self.fastRecovery)
        do {
            let stream = Task { [base = lab.cli.url] in
                await CreateStream.run(base: base, count: 60, interval: .milliseconds(50), prefix: "sched")
            }
            try await Task.sleep(for: .seconds(1))
            await lab.scheduler.kill9()
            try await Task.sleep(for: .seconds(2))
            try await lab.scheduler.start()
            let answers = await stream.value

            // With the broker up, the API takes every create: they wait in the scheduler's queue.
            let accepted = answers.compactMap { $0.status == 202 ? $0.id : nil }
            #expect(accepted.count == answers.count, "\(answers.map(\.status))")
            let volumes = try await lab.settledVolumes()
            #expect(Set(volumes.keys) == Set(accepted))
            // A create the dead scheduler had taken but not placed is placed by the new one: none is lost.
            let errored = volumes.filter { $0.value != "available" }.map(\.key)
            let why = try await lab.userMessages(errored.prefix(3))
            #expect(errored.isEmpty, "\(errored.count) in error: \(why)\n\(lab.logs)")
            let inQuota = try await lab.volumesInQuota()
            #expect(inQuota == volumes.count, "\(volumes.count) volumes")
        } catch {
            await lab.stop()
            throw error
        }
        await lab.stop()
    }

    @Test func postgreSQLRestartsDuringAStreamOfCreates() async throws {
        // A server of this test's own: restarting the shared one would fail other tests' requests.
        let postgres = try await TestPostgres.startOwn()
        let lab: DistributedLab
        do {
            lab = try await DistributedLab.start(
                database: try await postgres.newDatabase(), volumeHosts: ["block1"],
                extra: Self.fastRecovery, databaseOptions: "pool_timeout = 3")
        } catch {
            await postgres.stop()
            throw error
        }
        do {
            let stream = Task { [base = lab.cli.url] in
                await CreateStream.run(base: base, count: 60, interval: .milliseconds(100), prefix: "pg")
            }
            try await Task.sleep(for: .seconds(2))
            try await postgres.restart(downFor: .seconds(5))
            let answers = await stream.value

            let accepted = answers.compactMap { $0.status == 202 ? $0.id : nil }
            let failed = answers.filter { $0.status != 202 }
            // Requests that met the database away, or lost their connection in flight, fail cleanly: a 503.
            #expect(failed.allSatisfy { $0.status == 503 }, "\(failed.map(\.status))\n\(lab.logs)")
            #expect(!failed.isEmpty, "some creates fell in the 5 s outage")
            // The pools reconnect: work flows again.
            let after = try await lab.cli.api("POST", "/admin/volumes", ["volume": ["size": 1, "name": "after"]])
            #expect(after.status == 202)
            let volumes = try await lab.settledVolumes()
            #expect(Set(accepted).isSubset(of: Set(volumes.keys)))
            #expect(volumes.count == accepted.count + 1, "a failed create left no row")
            for (id, status) in volumes where status == "error" {
                #expect(try await lab.hasUserMessage(id), "volume \(id) ended in error without a user message")
            }
            // A create that failed released its quota (it was never made): the quota counts the volumes made.
            let made = volumes.filter { $0.value == "available" }.count
            let inQuota = try await lab.volumesInQuota()
            #expect(inQuota == made, "the quota counts exactly what exists: \(made) of \(volumes.count) volumes made")
            let errored = volumes.filter { $0.value == "error" }.map(\.key)
            let why = try await lab.userMessages(errored.prefix(3))
            #expect(errored.isEmpty, "a create the outage interrupted is redone, not failed: \(errored.count) failed: \(why)")
        } catch {
            await lab.stop()
            await postgres.stop()
            throw error
        }
        await lab.stop()
        await postgres.stop()
    }
}
