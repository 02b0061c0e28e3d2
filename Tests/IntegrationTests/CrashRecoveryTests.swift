import AshlarCore
import Foundation
import Testing

/// `ashlar serve` killed at every named crash point (the process dies there as with kill -9), then started
/// again on the same state folder: within a bounded time nothing is transitional, every accepted operation has
/// been carried out (not failed: its inputs still exist), quota usage equals the rows, and no file is without
/// its row or row without its file.
@Suite("Crash recovery", .serialized, .timeLimit(.minutes(10)))
struct CrashRecoveryTests {
    /// One operation driven into one crash point.
    struct Case: Sendable {
        var point: CrashPoint
        var operation: Operation
    }

    enum Operation: Sendable {
        case create, clone, fromSnapshot, delete, extend, revert, snapshot, deleteSnapshot
    }

    static let cases: [Case] = [
        Case(point: .apiCreateInserted, operation: .create),
        Case(point: .schedulerCreatePlaced, operation: .create),
        Case(point: .volumeCreateMade, operation: .create),
        Case(point: .volumeCloneMade, operation: .clone),
        Case(point: .volumeFromSnapshotMade, operation: .fromSnapshot),
        Case(point: .apiDeleteMarked, operation: .delete),
        Case(point: .volumeDeleteRemoved, operation: .delete),
        Case(point: .apiExtendMarked, operation: .extend),
        Case(point: .volumeExtendGrown, operation: .extend),
        Case(point: .apiRevertMarked, operation: .revert),
        Case(point: .volumeRevertDone, operation: .revert),
        Case(point: .apiSnapshotInserted, operation: .snapshot),
        Case(point: .volumeSnapshotMade, operation: .snapshot),
        Case(point: .apiSnapshotDeleteMarked, operation: .deleteSnapshot),
        Case(point: .volumeSnapshotDeleteRemoved, operation: .deleteSnapshot),
    ]

    static let transitional: Set<String> = [
        "creating", "deleting", "extending", "reverting", "restoring", "attaching", "detaching", "downloading",
        "uploading", "retyping", "backing-up", "restoring-backup", "maintenance",
    ]

    /// A server that a test kills and starts again on the same state: short `stale_operation_timeout`, unlimited
    /// quotas. Runs `body` with the server, the arguments to start it again with, and the backend's directory;
    /// removes its files afterwards.
    static func withRestartableServer(
        _ body: (Server, [String], URL) async throws -> Void
    ) async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("ashlar.conf")
        try "[DEFAULT]\nstale_operation_timeout = 2\n".write(to: config, atomically: true, encoding: .utf8)
        let arguments = ["--config-file", config.path]
        let server = try await Server.start(extraArguments: arguments)
        server.removesState = false
        defer { try? FileManager.default.removeItem(at: server.stateDirectory) }
        let unlimited = try await server.api(
            "PUT", "/admin/os-quota-sets/admin", ["quota_set": ["volumes": -1, "gigabytes": -1, "snapshots": -1]])
        try #require(unlimited.status == 200)
        try await body(server, arguments, server.stateDirectory.appendingPathComponent("state/volumes"))
    }

    @Test("every crash point in volume, snapshot, extend and revert paths: nothing stuck, lost, leaked or failed")
    func everyCrashPoint() async throws {
        try await Self.withRestartableServer { first, arguments, volumes in
            try await crashAtEveryPoint(first, arguments, volumes)
        }
    }

    func crashAtEveryPoint(_ first: Server, _ arguments: [String], _ volumes: URL) async throws {
        var server = first
        let state = server.stateDirectory
        // The source of copies: a volume holding data, and a snapshot of it.
        let source = try await makeVolume(server, "source")
        try write("SOURCE-DATA", to: volumes.appendingPathComponent("volume-\(source)"))
        let snapshot = try await makeSnapshot(server, of: source, "source-snap")

        var points = 0
        for item in Self.cases {
            // What the operation needs, made before the crash point is armed.
            var target = ""
            switch item.operation {
            case .delete, .extend: target = try await makeVolume(server, "\(item.point.rawValue)-volume")
            case .deleteSnapshot: target = try await makeSnapshot(server, of: source, "\(item.point.rawValue)-snap")
            case .revert:
                target = try await makeVolume(server, "\(item.point.rawValue)-volume")
                try write("ORIGINAL", to: volumes.appendingPathComponent("volume-\(target)"))
                _ = try await makeSnapshot(server, of: target, "\(item.point.rawValue)-snap")
                try write("CHANGED!", to: volumes.appendingPathComponent("volume-\(target)"))
            default: break
            }
            await server.stop()

            let armed = try await Server.start(
                extraArguments: arguments, stateDirectory: state, environment: ["ASHLAR_CRASH_AT": item.point.rawValue])
            armed.removesState = false
            let name = "\(item.point.rawValue)-result"
            let base = armed.url
            var created: String?
            // The reply may never come: the process dies at the point, before or after answering.
            switch item.operation {
            case .create, .clone, .fromSnapshot:
                var body: [String: Any] = ["size": 1, "name": name]
                if item.operation == .clone { body["source_volid"] = source }
                if item.operation == .fromSnapshot { body["snapshot_id"] = snapshot }
                let reply = try? await Server.api(base, "POST", "/admin/volumes", ["volume": body])
                created = (reply?.json["volume"] as? [String: Any])?["id"] as? String
            case .delete: _ = try? await Server.api(base, "DELETE", "/admin/volumes/\(target)")
            case .extend:
                _ = try? await Server.api(base, "POST", "/admin/volumes/\(target)/action", ["os-extend": ["new_size": 2]])
            case .revert:
                let snaps = try await armed.get("/admin/snapshots?volume_id=\(target)")["snapshots"] as? [[String: Any]]
                let latest = try #require(snaps?.first?["id"] as? String)
                _ = try? await Server.api(
                    base, "POST", "/admin/volumes/\(target)/action", ["revert": ["snapshot_id": latest]], version: "3.40")
            case .snapshot:
                _ = try? await Server.api(
                    base, "POST", "/admin/snapshots", ["snapshot": ["volume_id": source, "name": name]])
            case .deleteSnapshot: _ = try? await Server.api(base, "DELETE", "/admin/snapshots/\(target)")
            }
            let died = try await armed.eventually(.seconds(30)) { armed.hasExited }
            #expect(died, "\(item.point.rawValue) was never reached:\n\(armed.log.suffix(1500))")
            if died { points += 1 }

            server = try await Server.start(extraArguments: arguments, stateDirectory: state)
            server.removesState = false
            // Bounded: recovery finishes what the crash interrupted.
            var stuck: [String] = []
            let settled = try await server.eventually(.seconds(30)) {
                stuck = try await transitionalResources(server)
                return stuck.isEmpty
            }
            #expect(settled, "after \(item.point.rawValue) still transitional: \(stuck)\n\(server.log.suffix(1500))")

            // The accepted operation was carried out, not failed.
            let byName = try await volumesByName(server)
            switch item.operation {
            case .create, .clone, .fromSnapshot:
                let made = byName[name]
                if created != nil || made != nil {
                    #expect(made?["status"] as? String == "available", "\(item.point.rawValue): \(String(describing: made))")
                }
                if item.operation != .create, let id = made?["id"] as? String {
                    #expect(
                        try read(11, from: volumes.appendingPathComponent("volume-\(id)")) == "SOURCE-DATA",
                        "\(item.point.rawValue): the copy does not hold its source's data")
                }
            case .delete:
                #expect(try await server.api("GET", "/admin/volumes/\(target)").status == 404, "\(item.point.rawValue)")
            case .extend:
                let v = try await server.api("GET", "/admin/volumes/\(target)").json["volume"] as? [String: Any]
                #expect(v?["status"] as? String == "available" && v?["size"] as? Int == 2, "\(item.point.rawValue): \(String(describing: v))")
                let size = try FileManager.default.attributesOfItem(
                    atPath: volumes.appendingPathComponent("volume-\(target)").path)[.size] as? Int
                #expect(size == 2 << 30)
            case .revert:
                let v = try await server.api("GET", "/admin/volumes/\(target)").json["volume"] as? [String: Any]
                #expect(v?["status"] as? String == "available", "\(item.point.rawValue): \(String(describing: v))")
                let content = try read(8, from: volumes.appendingPathComponent("volume-\(target)"))
                #expect(content == "ORIGINAL", "\(item.point.rawValue): the revert was not carried out")
            case .snapshot:
                let snaps = try await server.get("/admin/snapshots/detail")["snapshots"] as? [[String: Any]] ?? []
                if let made = snaps.first(where: { $0["name"] as? String == name }) {
                    #expect(made["status"] as? String == "available", "\(item.point.rawValue): \(made)")
                }
            case .deleteSnapshot:
                #expect(try await server.api("GET", "/admin/snapshots/\(target)").status == 404, "\(item.point.rawValue)")
            }
            try await checkQuotaAndFiles(server, volumes: volumes, after: item.point.rawValue)
        }
        // What an operator runs to have every service clean up now: the real cinder client's work-cleanup.
        let cleanup = try await server.cinder("work-cleanup")
        #expect(cleanup.status == 0 && cleanup.stdout.contains("cinder-volume"), "\(cleanup.stdout)\(cleanup.stderr)")
        await server.stop()
        #expect(points == Self.cases.count)
    }

    // MARK: - Checks

    /// Every volume and snapshot in a transitional status, as "kind id status".
    func transitionalResources(_ server: Server) async throws -> [String] {
        let volumes = try await server.get("/admin/volumes/detail?limit=1000")["volumes"] as? [[String: Any]] ?? []
        let snapshots = try await server.get("/admin/snapshots/detail?limit=1000")["snapshots"] as? [[String: Any]] ?? []
        return volumes.compactMap { v in
            guard let status = v["status"] as? String, Self.transitional.contains(status) else { return nil }
            return "volume \(v["id"] ?? "") \(status)"
        } + snapshots.compactMap { s in
            guard let status = s["status"] as? String, Self.transitional.contains(status) else { return nil }
            return "snapshot \(s["id"] ?? "") \(status)"
        }
    }

    /// Quota usage equals what the rows hold, and the backend's files are exactly the rows' files.
    func checkQuotaAndFiles(_ server: Server, volumes directory: URL, after point: String) async throws {
        let volumes = try await server.api("GET", "/admin/volumes/detail?limit=1000", version: "3.65").json["volumes"]
            as? [[String: Any]] ?? []
        let snapshots = try await server.api("GET", "/admin/snapshots/detail?limit=1000", version: "3.65")
            .json["snapshots"] as? [[String: Any]] ?? []
        let usage = try await server.api("GET", "/admin/os-quota-sets/admin?usage=true").json["quota_set"]
            as? [String: Any] ?? [:]
        func inUse(_ resource: String) -> Int? { (usage[resource] as? [String: Any])?["in_use"] as? Int }
        let counting = volumes.filter { ($0["consumes_quota"] as? Bool) ?? true }
        let countingSnapshots = snapshots.filter { ($0["consumes_quota"] as? Bool) ?? true }
        #expect(inUse("volumes") == counting.count, "after \(point): volumes in use")
        #expect(inUse("snapshots") == countingSnapshots.count, "after \(point): snapshots in use")
        let gigabytes = counting.reduce(0) { $0 + ($1["size"] as? Int ?? 0) }
            + countingSnapshots.reduce(0) { $0 + ($1["size"] as? Int ?? 0) }
        #expect(inUse("gigabytes") == gigabytes, "after \(point): gigabytes in use")

        let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") })
        let expected = Set(
            volumes.filter { $0["status"] as? String != "error" }.compactMap { $0["id"] as? String }.map { "volume-\($0)" }
                + snapshots.filter { $0["status"] as? String != "error" }.compactMap { $0["id"] as? String }
                .map { "snapshot-\($0)" })
        #expect(files == expected, "after \(point): files without rows \(files.subtracting(expected)), rows without files \(expected.subtracting(files))")
    }

    // MARK: - Helpers

    func makeVolume(_ server: Server, _ name: String) async throws -> String {
        let reply = try await server.api("POST", "/admin/volumes", ["volume": ["size": 1, "name": name]])
        let id = try #require((reply.json["volume"] as? [String: Any])?["id"] as? String, "\(reply)")
        let ready = try await server.eventually {
            (try await server.api("GET", "/admin/volumes/\(id)").json["volume"] as? [String: Any])?["status"] as? String
                == "available"
        }
        try #require(ready, "volume \(name) never became available")
        return id
    }

    func makeSnapshot(_ server: Server, of volume: String, _ name: String) async throws -> String {
        let reply = try await server.api("POST", "/admin/snapshots", ["snapshot": ["volume_id": volume, "name": name]])
        let id = try #require((reply.json["snapshot"] as? [String: Any])?["id"] as? String, "\(reply)")
        let ready = try await server.eventually {
            (try await server.api("GET", "/admin/snapshots/\(id)").json["snapshot"] as? [String: Any])?["status"]
                as? String == "available"
        }
        try #require(ready, "snapshot \(name) never became available")
        return id
    }

    func volumesByName(_ server: Server) async throws -> [String: [String: Any]] {
        let volumes = try await server.get("/admin/volumes/detail?limit=1000")["volumes"] as? [[String: Any]] ?? []
        var byName: [String: [String: Any]] = [:]
        for v in volumes { if let name = v["name"] as? String { byName[name] = v } }
        return byName
    }

    func write(_ text: String, to file: URL) throws {
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }

    func read(_ count: Int, from file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        return String(decoding: try handle.read(upToCount: count) ?? Data(), as: UTF8.self)
    }
}
