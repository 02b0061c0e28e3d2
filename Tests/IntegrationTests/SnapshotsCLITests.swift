import Foundation
import Testing

/// Snapshots, copies, extend, revert and quotas through the unchanged `openstack` client, checking the bytes in
/// the volume files, not only what the API says.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct SnapshotsCLITests {
    /// Writes `text` at `offset` of a file.
    func write(_ text: String, at offset: UInt64, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        handle.write(Data(text.utf8))
        try handle.synchronize()
    }

    /// Reads `count` bytes at `offset` of a file as text.
    func read(_ count: Int, at offset: UInt64, from path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        return String(decoding: handle.readData(ofLength: count), as: UTF8.self)
    }

    func size(of path: String) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
    }

    /// Waits for `openstack <kind> show name` to report `status`; returns the shown object.
    func waitFor(
        _ server: Server, _ kind: [String], _ name: String, status: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        let reached = try await server.eventually {
            last = try await server.openstackJSON(kind + ["show", name]) as? [String: Any] ?? [:]
            return last["status"] as? String == status
        }
        try #require(reached, "\(kind.joined(separator: " ")) \(name) never became \(status): \(last)\n\(server.log)", sourceLocation: sourceLocation)
        return last
    }

    @Test func snapshotsCopiesExtendAndRevertThroughTheOpenStackCLI() async throws {
        let server = try await Server.start()
        let volumes = server.stateDirectory.appendingPathComponent("state/volumes").path
        func file(_ id: Any?) -> String { "\(volumes)/volume-\(id as? String ?? "?")" }

        let v1 = try #require(try await server.openstackJSON("volume", "create", "--size", "1", "origin") as? [String: Any])
        _ = try await waitFor(server, ["volume"], "origin", status: "available")
        try write("BEFORE-SNAPSHOT", at: 0, to: file(v1["id"]))
        try write("TAIL-BEFORE", at: (1 << 30) - 4096, to: file(v1["id"]))

        // Snapshot: created, listed, shown; a file beside the volumes.
        let s1 = try #require(try await server.openstackJSON("volume", "snapshot", "create", "--volume", "origin", "snap") as? [String: Any])
        let snapshot = try await waitFor(server, ["volume", "snapshot"], "snap", status: "available")
        #expect(snapshot["size"] as? Int == 1)
        #expect(snapshot["volume_id"] as? String == v1["id"] as? String)
        let listed = try #require(try await server.openstackJSON("volume", "snapshot", "list") as? [[String: Any]])
        #expect(listed.map { $0["Name"] as? String } == ["snap"])
        #expect(FileManager.default.fileExists(atPath: "\(volumes)/snapshot-\(s1["id"] as? String ?? "")"))

        // The volume moves on; the snapshot keeps what it had.
        try write("AFTER-SNAPSHOT!", at: 0, to: file(v1["id"]))

        // From the snapshot, larger: the snapshot's bytes, the new size.
        let fromSnap = try #require(try await server.openstackJSON("volume", "create", "--snapshot", "snap", "--size", "2", "from-snap") as? [String: Any])
        let shownFromSnap = try await waitFor(server, ["volume"], "from-snap", status: "available")
        #expect(shownFromSnap["snapshot_id"] as? String == s1["id"] as? String)
        #expect(try read(15, at: 0, from: file(fromSnap["id"])) == "BEFORE-SNAPSHOT")
        #expect(try read(11, at: (1 << 30) - 4096, from: file(fromSnap["id"])) == "TAIL-BEFORE")
        #expect(try size(of: file(fromSnap["id"])) == 2 << 30)

        // A clone: the source's current bytes.
        let clone = try #require(try await server.openstackJSON("volume", "create", "--source", "origin", "clone") as? [String: Any])
        let shownClone = try await waitFor(server, ["volume"], "clone", status: "available")
        #expect(shownClone["source_volid"] as? String == v1["id"] as? String)
        #expect(shownClone["size"] as? Int == 1)
        #expect(try read(15, at: 0, from: file(clone["id"])) == "AFTER-SNAPSHOT!")

        // Revert to the (latest) snapshot: the volume reads what it held then.
        let revert = try await server.openstack("volume", "revert", "snap")
        #expect(revert.status == 0, "\(revert.stderr)")
        _ = try await waitFor(server, ["volume"], "origin", status: "available")
        _ = try await waitFor(server, ["volume", "snapshot"], "snap", status: "available")
        #expect(try read(15, at: 0, from: file(v1["id"])) == "BEFORE-SNAPSHOT")

        // Extend: bigger file, data intact; after it, revert to the smaller snapshot is refused.
        let extend = try await server.openstack("volume", "set", "--size", "3", "origin")
        #expect(extend.status == 0, "\(extend.stderr)")
        let extended = try await server.eventually {
            (try await server.openstackJSON("volume", "show", "origin") as? [String: Any])?["size"] as? Int == 3
        }
        #expect(extended, "\(server.log)")
        _ = try await waitFor(server, ["volume"], "origin", status: "available")
        #expect(try size(of: file(v1["id"])) == 3 << 30)
        #expect(try read(15, at: 0, from: file(v1["id"])) == "BEFORE-SNAPSHOT")
        let refused = try await server.openstack("volume", "revert", "snap")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("extended"), "\(refused.stderr)")

        // A volume with a snapshot is not deleted without cascade; the snapshot goes first, then the volume.
        let blocked = try await server.openstack("volume", "delete", "origin")
        #expect(blocked.status != 0)
        #expect(blocked.stderr.contains("snapshot"), "\(blocked.stderr)")
        _ = try await waitFor(server, ["volume"], "origin", status: "available")
        #expect(try await server.openstack("volume", "snapshot", "delete", "snap").status == 0)
        let snapshotGone = try await server.eventually {
            (try await server.openstackJSON("volume", "snapshot", "list") as? [[String: Any]])?.isEmpty == true
        }
        #expect(snapshotGone)
        #expect(!FileManager.default.fileExists(atPath: "\(volumes)/snapshot-\(s1["id"] as? String ?? "")"))

        // --purge deletes a volume together with its snapshots.
        #expect(try await server.openstack("volume", "snapshot", "create", "--volume", "clone", "clone-snap").status == 0)
        _ = try await waitFor(server, ["volume", "snapshot"], "clone-snap", status: "available")
        let purge = try await server.openstack("volume", "delete", "--purge", "clone")
        #expect(purge.status == 0, "\(purge.stderr)")
        let purged = try await server.eventually {
            let vols = try await server.openstackJSON("volume", "list") as? [[String: Any]] ?? []
            let snaps = try await server.openstackJSON("volume", "snapshot", "list") as? [[String: Any]] ?? []
            return !vols.contains { $0["Name"] as? String == "clone" } && snaps.isEmpty
        }
        #expect(purged, "\(server.log)")
        #expect(await server.stop() == 0)
    }

    @Test func quotasThroughTheOpenStackCLI() async throws {
        let server = try await Server.start()
        // `admin` is the noauth project; quota set/show look it up first.
        let set = try await server.openstack("quota", "set", "--volumes", "3", "--gigabytes", "5", "--snapshots", "1", "admin")
        #expect(set.status == 0, "\(set.stderr)")
        func limits() async throws -> [String: Int] {
            let rows = try await server.openstackJSON("quota", "show", "--volume", "admin") as? [[String: Any]] ?? []
            return Dictionary(rows.compactMap { row in (row["Resource"] as? String).map { ($0, row["Limit"] as? Int ?? -99) } }) { a, _ in a }
        }
        let shown = try await limits()
        #expect(shown["volumes"] == 3)
        #expect(shown["gigabytes"] == 5)
        #expect(shown["snapshots"] == 1)

        // 2 + 2 GiB fit; a third volume of 2 GiB would make 6 > 5: refused with Cinder's 413 message.
        for name in ["q1", "q2"] {
            #expect(try await server.openstack("volume", "create", "--size", "2", name).status == 0)
            _ = try await waitFor(server, ["volume"], name, status: "available")
        }
        let over = try await server.openstack("volume", "create", "--size", "2", "q3")
        #expect(over.status != 0)
        #expect(over.stderr.contains("413") && over.stderr.contains("VolumeSizeExceedsAvailableQuota"), "\(over.stderr)")
        // One snapshot allowed (it counts 2 GiB of the 5, so only 1 GiB is left for the second one: refused either way).
        let snapshotOver = try await server.openstack("volume", "snapshot", "create", "--volume", "q1", "qs1")
        #expect(snapshotOver.status != 0)
        #expect(snapshotOver.stderr.contains("413"), "\(snapshotOver.stderr)")

        // Usage is what exists: two volumes, 4 GiB.
        let usage = try await server.openstackJSON("quota", "show", "--volume", "--usage", "admin") as? [[String: Any]] ?? []
        let inUse = Dictionary(usage.compactMap { row in (row["Resource"] as? String).map { ($0, row["In Use"] as? Int ?? -99) } }) { a, _ in a }
        #expect(inUse["volumes"] == 2)
        #expect(inUse["gigabytes"] == 4)
        #expect(inUse["snapshots"] == 0)

        // Deleting frees it at once.
        #expect(try await server.openstack("volume", "delete", "q2").status == 0)
        let freed = try await server.eventually {
            try await server.openstack("volume", "create", "--size", "2", "q4").status == 0
        }
        #expect(freed, "\(server.log)")
        #expect(await server.stop() == 0)
    }
}
