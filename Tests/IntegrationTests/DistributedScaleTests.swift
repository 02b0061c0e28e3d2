import AshlarTestSupport
import Foundation
import Testing

/// Growing past one of each: two `ashlar api` processes and two schedulers on one broker and one PostgreSQL,
/// as upstream allows, with two volume nodes.
@Suite(
    .serialized, .timeLimit(.minutes(6)),
    .brokerAndDatabase)
struct DistributedScaleTests {
    @Test func twoAPIsAndTwoSchedulersShareTheWorkAndTheQuota() async throws {
        let lab = try await DistributedLab.start(
            database: try await TestPostgres.newDatabase(), volumeHosts: ["block1", "block2"], apis: 2, schedulers: 2)
        do {
            let bases = [lab.cli.url] + lab.moreAPIURLs
            #expect(bases.count == 2)
            // 60 creates, ten at a time, alternating between the two API processes.
            let answers = await withTaskGroup(of: (Int, String?).self) { group in
                var answers: [(Int, String?)] = []
                for n in 0..<60 {
                    if n >= 10, let answer = await group.next() { answers.append(answer) }
                    group.addTask {
                        let reply = try? await Server.api(
                            bases[n % 2], "POST", "/admin/volumes", ["volume": ["size": 1, "name": "s\(n)"]])
                        return (reply?.status ?? 0, (reply?.json["volume"] as? [String: Any])?["id"] as? String)
                    }
                }
                for await answer in group { answers.append(answer) }
                return answers
            }
            #expect(answers.allSatisfy { $0.0 == 202 }, "\(answers.map(\.0))")
            let volumes = try await lab.settledVolumes()
            #expect(volumes.count == 60 && volumes.values.allSatisfy { $0 == "available" }, "\(lab.logs)")
            // Both schedulers took their share from the shared topic queue.
            for scheduler in [lab.scheduler] + lab.moreSchedulers {
                #expect(scheduler.logText.contains("scheduled to"), "\(scheduler.name) placed none")
            }

            // A quota admitted across both API processes at once: exactly the limit, not one more.
            let limit = try await Server.api(
                bases[1], "PUT", "/admin/os-quota-sets/p2", ["quota_set": ["volumes": 7]])
            #expect(limit.status == 200)
            let statuses = await withTaskGroup(of: Int.self) { group in
                for n in 0..<40 {
                    group.addTask {
                        (try? await Server.api(
                            bases[n % 2], "POST", "/p2/volumes", ["volume": ["size": 1, "name": "q\(n)"]],
                            token: "u:p2"))?.status ?? 0
                    }
                }
                return await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 202 }.count == 7, "\(statuses)")
            #expect(statuses.allSatisfy { $0 == 202 || $0 == 413 }, "\(statuses)")
        } catch {
            await lab.stop()
            throw error
        }
        await lab.stop()
    }
}
