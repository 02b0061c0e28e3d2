import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A mixed storm of creates, clones of a volume holding 64 MiB, snapshots, copies from snapshots, extends and
/// deletes from several clients, with `ashlar serve` killed (SIGKILL) at a random moment in each round and started
/// again on the same state: every operation that was answered with a 2xx is carried out, nothing stays
/// transitional, quota usage equals the rows and the files equal the rows.
@Suite("Kill storm", .serialized, .timeLimit(.minutes(10)))
struct KillStormTests {
    /// What a client was told was accepted.
    enum Accepted: Sendable {
        case volume(String), snapshot(String), deleted(String), deletedSnapshot(String), extended(String, Int)
        /// A delete sent when the server was killed: it may or may not have been carried out.
        case deleteInDoubt(String)
    }

    @Test("4 rounds of a mixed storm from 6 clients, killed at a random moment: nothing stuck, lost or leaked")
    func killedDuringStorm() async throws {
        try await CrashRecoveryTests.withRestartableServer { first, arguments, directory in
            try await storm(first, arguments, directory)
        }
    }

    func storm(_ first: Server, _ arguments: [String], _ directory: URL) async throws {
        let recovery = CrashRecoveryTests()
        var server = first
        let state = server.stateDirectory
        let source = try await recovery.makeVolume(server, "storm-source")
        try fill(directory.appendingPathComponent("volume-\(source)"), mebibytes: 64)
        let sourceSnapshot = try await recovery.makeSnapshot(server, of: source, "storm-source-snap")

        var accepted: [Accepted] = []
        var generator = SystemRandomNumberGenerator()
        for round in 0..<4 {
            let base = server.url
            let pid = server.process.processIdentifier
            let killAfter = Duration.milliseconds(Int.random(in: 300...1500, using: &generator))
            let results = try await withThrowingTaskGroup(of: [Accepted].self) { group in
                for client in 0..<6 {
                    group.addTask {
                        try await Self.client(base: base, client: client, round: round, source: source,
                            sourceSnapshot: sourceSnapshot, until: ContinuousClock.now + .seconds(5))
                    }
                }
                group.addTask {
                    try await Task.sleep(for: killAfter)
                    kill(pid, SIGKILL)
                    return []
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            accepted += results
            let died = try await server.eventually(.seconds(30)) { server.hasExited }
            #expect(died, "round \(round): the server outlived its SIGKILL: \(server.kernelState)")

            server = try await Server.start(extraArguments: arguments, stateDirectory: state)
            server.removesState = false
            var stuck: [String] = []
            let settled = try await server.eventually(.seconds(60)) {
                stuck = try await recovery.transitionalResources(server)
                return stuck.isEmpty
            }
            #expect(settled, "round \(round): still transitional \(stuck)\n\(server.log.suffix(1500))")
            try await recovery.checkQuotaAndFiles(server, volumes: directory, after: "round \(round)")
        }

        // Every accepted operation was carried out: made volumes and snapshots exist (unless deleted later) and
        // none failed, deletes are done, extends have their size.
        let volumes = try await server.get("/admin/volumes/detail?limit=1000")["volumes"] as? [[String: Any]] ?? []
        let snapshots = try await server.get("/admin/snapshots/detail?limit=1000")["snapshots"] as? [[String: Any]] ?? []
        let volumeByID = Dictionary(volumes.compactMap { v in (v["id"] as? String).map { ($0, v) } }) { a, _ in a }
        let snapshotByID = Dictionary(snapshots.compactMap { s in (s["id"] as? String).map { ($0, s) } }) { a, _ in a }
        var deleted = Set<String>()
        var inDoubt = Set<String>()
        for item in accepted {
            if case .deleted(let id) = item { deleted.insert(id) }
            if case .deletedSnapshot(let id) = item { deleted.insert(id) }
            if case .deleteInDoubt(let id) = item { inDoubt.insert(id) }
        }
        var checked = 0
        for item in accepted {
            checked += 1
            switch item {
            case .volume(let id) where inDoubt.contains(id):
                // Gone or available, as the delete was or was not carried out; never stuck or in error.
                #expect(volumeByID[id] == nil || volumeByID[id]?["status"] as? String == "available", "volume \(id): \(String(describing: volumeByID[id]?["status"]))")
            case .snapshot(let id) where inDoubt.contains(id):
                #expect(snapshotByID[id] == nil || snapshotByID[id]?["status"] as? String == "available", "snapshot \(id)")
            case .volume(let id) where !deleted.contains(id):
                #expect(volumeByID[id]?["status"] as? String == "available", "volume \(id): \(String(describing: volumeByID[id]?["status"]))")
            case .snapshot(let id) where !deleted.contains(id):
                #expect(snapshotByID[id]?["status"] as? String == "available", "snapshot \(id)")
            case .deleted(let id):
                #expect(volumeByID[id] == nil, "volume \(id) was to be deleted")
            case .deletedSnapshot(let id):
                #expect(snapshotByID[id] == nil, "snapshot \(id) was to be deleted")
            case .extended(let id, let size) where !deleted.contains(id):
                #expect((volumeByID[id]?["size"] as? Int ?? 0) >= size, "volume \(id) was to grow to \(size)")
            default:
                break
            }
        }
        #expect(checked > 20, "the storm got too little accepted to prove anything")
        print("kill storm: 4 rounds, \(accepted.count) accepted operations checked, \(volumes.count) volumes and \(snapshots.count) snapshots at the end")
        let errors = volumes.filter { $0["status"] as? String == "error" }.compactMap { $0["id"] as? String }
        #expect(errors.isEmpty, "volumes in error: \(errors)\n\(server.log.suffix(2000))")
        await server.stop()
    }

    /// One client: random operations until `deadline` or until the server goes away.
    static func client(
        base: String, client: Int, round: Int, source: String, sourceSnapshot: String, until deadline: ContinuousClock.Instant
    ) async throws -> [Accepted] {
        var accepted: [Accepted] = []
        var mine: [String] = []  // volumes this client made, available to delete or extend
        var snaps: [String] = []
        var generator = SystemRandomNumberGenerator()
        var n = 0
        var deleting: String?  // the id of a delete under way, in doubt if the server dies before answering
        while ContinuousClock.now < deadline {
            n += 1
            let name = "r\(round)-c\(client)-\(n)"
            do {
                switch Int.random(in: 0..<7, using: &generator) {
                case 0, 1:
                    var body: [String: Any] = ["size": 1, "name": name]
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: body["source_volid"] = source
                    case 1: body["snapshot_id"] = sourceSnapshot
                    default: break
                    }
                    let reply = try await Server.api(base, "POST", "/admin/volumes", ["volume": body])
                    if reply.status == 202, let id = (reply.json["volume"] as? [String: Any])?["id"] as? String {
                        accepted.append(.volume(id))
                        mine.append(id)
                    }
                case 2:
                    let reply = try await Server.api(
                        base, "POST", "/admin/snapshots", ["snapshot": ["volume_id": source, "name": name]])
                    if reply.status == 202, let id = (reply.json["snapshot"] as? [String: Any])?["id"] as? String {
                        accepted.append(.snapshot(id))
                        snaps.append(id)
                    }
                case 3 where !mine.isEmpty:
                    let id = mine.removeFirst()
                    deleting = id
                    let reply = try await Server.api(base, "DELETE", "/admin/volumes/\(id)")
                    deleting = nil
                    if reply.status == 202 { accepted.append(.deleted(id)) } else { mine.append(id) }
                case 4 where !mine.isEmpty:
                    let id = mine[mine.count - 1]
                    let reply = try await Server.api(
                        base, "POST", "/admin/volumes/\(id)/action", ["os-extend": ["new_size": 2]])
                    if reply.status == 202 { accepted.append(.extended(id, 2)) }
                case 5 where !snaps.isEmpty:
                    let id = snaps.removeFirst()
                    deleting = id
                    let reply = try await Server.api(base, "DELETE", "/admin/snapshots/\(id)")
                    deleting = nil
                    if reply.status == 202 { accepted.append(.deletedSnapshot(id)) } else { snaps.append(id) }
                default:
                    _ = try await Server.api(base, "GET", "/admin/volumes/detail?limit=20")
                }
            } catch {
                if let deleting { accepted.append(.deleteInDoubt(deleting)) }
                return accepted  // the server was killed
            }
        }
        return accepted
    }

    /// Writes `mebibytes` of non-zero data at the start of the file, so copies have real data to move.
    func fill(_ file: URL, mebibytes: Int) throws {
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        let chunk = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251 + 1) })
        for _ in 0..<mebibytes { try handle.write(contentsOf: chunk) }
        try handle.synchronize()
    }
}
