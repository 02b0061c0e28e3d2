import AshlarCore
import AshlarVolume
import Foundation
import HTTPTypes
import Synchronization
import Testing

/// A file driver whose creates fail now and then: every third create (counted across all creates) throws
/// after doing nothing, as a backend that runs out of something would.
final class FlakyDriver: VolumeDriver, Sendable {
    let base: FileDriver
    let creates = Atomic<Int>(0)
    init(_ base: FileDriver) { self.base = base }

    private func maybeFail() throws {
        if creates.add(1, ordering: .relaxed).newValue % 3 == 0 {
            throw AshlarError(.driverFailure, "injected failure")
        }
    }

    func doSetup() async throws { try await base.doSetup() }
    func createVolume(id: String, sizeGB: Int) async throws {
        try maybeFail()
        try await base.createVolume(id: id, sizeGB: sizeGB)
    }
    func deleteVolume(id: String) async throws { try await base.deleteVolume(id: id) }
    func localPath(forVolume id: String) -> String { base.localPath(forVolume: id) }
    var imageCacheDirectory: String? { base.imageCacheDirectory }
    func stats(provisionedGB: Int, volumeCount: Int) async throws -> [String: JSONValue] {
        try await base.stats(provisionedGB: provisionedGB, volumeCount: volumeCount)
    }
    func createSnapshot(id: String, volumeID: String) async throws { try await base.createSnapshot(id: id, volumeID: volumeID) }
    func deleteSnapshot(id: String) async throws { try await base.deleteSnapshot(id: id) }
    func createVolume(id: String, sizeGB: Int, fromSnapshot snapshotID: String) async throws {
        try maybeFail()
        try await base.createVolume(id: id, sizeGB: sizeGB, fromSnapshot: snapshotID)
    }
    func createVolume(id: String, sizeGB: Int, cloneOf sourceID: String) async throws {
        try maybeFail()
        try await base.createVolume(id: id, sizeGB: sizeGB, cloneOf: sourceID)
    }
    func createVolume(id: String, sizeGB: Int, copyingFile path: String) async throws {
        try maybeFail()
        try await base.createVolume(id: id, sizeGB: sizeGB, copyingFile: path)
    }
    func extendVolume(id: String, newSizeGB: Int) async throws { try await base.extendVolume(id: id, newSizeGB: newSizeGB) }
    func revertVolume(id: String, toSnapshot snapshotID: String) async throws {
        try await base.revertVolume(id: id, toSnapshot: snapshotID)
    }
}

/// What the storm's tasks count, shared between them.
final class Tally: Sendable {
    let accepted = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    let unexpected = Mutex<[String]>([])
    let overLimitSeen = Mutex<[String]>([])
    let stop = Atomic<Bool>(false)
}

/// Quotas under a storm: hundreds of creates and deletes at once, a third of the creates failing in the driver
/// (and rescheduled onto the same single backend until attempts run out).
@Suite("Quotas under concurrency", .timeLimit(.minutes(3)))
struct QuotaConcurrencyTests {
    static let volumeLimit = 8
    static let gigabyteLimit = 14

    /// What the project really has: volumes that count (not failed creates), and their sizes.
    func realUsage(_ api: API) async throws -> (volumes: Int, gigabytes: Int, all: [JSON]) {
        let all = try await api.get("/v3/volumes/detail?limit=1000", version: "3.65").json["volumes"].array
        let counted = all.filter { $0["consumes_quota"].bool == true }
        return (counted.count, counted.reduce(0) { $0 + ($1["size"].int ?? 0) }, all)
    }

    func reportedUsage(_ api: API) async throws -> (volumes: Int, gigabytes: Int) {
        let set = try await api.get("/v3/os-quota-sets/admin?usage=true").json["quota_set"]
        return (set["volumes"]["in_use"].int ?? -1, set["gigabytes"]["in_use"].int ?? -1)
    }

    @Test("Usage always equals what exists, and no create over the limit is ever accepted")
    func storm() async throws {
        try await withSystem(driver: { FlakyDriver($0) }) { api in
            try await api.waitForServices()
            let limits = try await api.put(
                "/v3/os-quota-sets/admin",
                ["quota_set": ["volumes": .int(Int64(Self.volumeLimit)), "gigabytes": .int(Int64(Self.gigabyteLimit))]])
            #expect(limits.status == .ok, "\(limits)")

            let tally = Tally()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // 300 creates of 1–3 GiB from 20 clients at once, each sending its next as soon as the last is
                // answered, so creates keep meeting deletes and failures for the whole storm.
                for client in 0..<20 {
                    group.addTask {
                        for n in 0..<15 {
                            let i = client * 15 + n
                            let reply = try await api.post(
                                "/v3/volumes", ["volume": ["size": .int(Int64(1 + i % 3)), "name": .string("storm-\(i)")]])
                            switch reply.status.code {
                            case 202: tally.accepted.add(1, ordering: .relaxed)
                            case 413: tally.refused.add(1, ordering: .relaxed)
                            default: tally.unexpected.withLock { $0.append("\(reply)") }
                            }
                            try await Task.sleep(for: .milliseconds(2))
                        }
                    }
                }
                // Deleters: whatever has settled (available or error) goes, while the creates run.
                for _ in 0..<4 {
                    group.addTask {
                        let deadline = ContinuousClock.now + .seconds(60)
                        while !tally.stop.load(ordering: .relaxed), ContinuousClock.now < deadline {
                            let volumes = try await api.get("/v3/volumes/detail?limit=1000").json["volumes"].array
                            for v in volumes.shuffled().prefix(3) {
                                guard let id = v["id"].string, ["available", "error"].contains(v["status"].string ?? "")
                                else { continue }
                                let reply = try await api.delete("/v3/volumes/\(id)")
                                if ![202, 400, 404].contains(Int(reply.status.code)) {
                                    tally.unexpected.withLock { $0.append("delete: \(reply)") }
                                }
                            }
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    }
                }
                // A watcher: at no moment may what counts exceed the limits.
                group.addTask {
                    let deadline = ContinuousClock.now + .seconds(60)
                    while !tally.stop.load(ordering: .relaxed), ContinuousClock.now < deadline {
                        let real = try await realUsage(api)
                        if real.volumes > Self.volumeLimit || real.gigabytes > Self.gigabyteLimit {
                            tally.overLimitSeen.withLock { $0.append("\(real.volumes) volumes, \(real.gigabytes) GiB") }
                        }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
                // Stop the deleters and the watcher once every create has answered.
                group.addTask {
                    while tally.accepted.load(ordering: .relaxed) + tally.refused.load(ordering: .relaxed)
                        + tally.unexpected.withLock({ $0.count }) < 300
                    {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    tally.stop.store(true, ordering: .relaxed)
                }
                try await group.waitForAll()
            }

            #expect(tally.unexpected.withLock { $0 }.isEmpty, "\(tally.unexpected.withLock { $0 })")
            #expect(tally.overLimitSeen.withLock { $0 }.isEmpty, "over the limit at times: \(tally.overLimitSeen.withLock { $0 })")
            // Deletes free room while creates run: more are accepted over the storm than fit at once.
            #expect(tally.accepted.load(ordering: .relaxed) > Self.volumeLimit, "deletes never made room")
            #expect(tally.refused.load(ordering: .relaxed) > 0, "the storm should hit the quota")

            // Once everything has settled, the quota's usage is exactly what exists.
            let settled = try await poll(timeout: .seconds(30)) {
                let all = try await realUsage(api).all
                return !all.contains { ["creating", "deleting"].contains($0["status"].string ?? "") }
            }
            #expect(settled)
            let real = try await realUsage(api)
            let reported = try await reportedUsage(api)
            #expect(reported.volumes == real.volumes)
            #expect(reported.gigabytes == real.gigabytes)
            #expect(real.volumes <= Self.volumeLimit && real.gigabytes <= Self.gigabyteLimit)
            // Failed creates hold nothing: every volume in error was released.
            for v in real.all where v["status"].string == "error" {
                #expect(v["consumes_quota"].bool == false, "\(v)")
            }
        }
    }
}
