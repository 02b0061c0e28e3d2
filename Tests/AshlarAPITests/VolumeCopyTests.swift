import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// Volumes with snapshots (delete, cascade) and volumes made from snapshots and other volumes.
@Suite("Volume copies: snapshots, clones and cascade", .timeLimit(.minutes(2)))
struct VolumeCopyTests {
    @Test("A volume with snapshots cannot be deleted without cascade: 400, and everything stays")
    func deleteRefusedWithSnapshots() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let snap = try await api.createAvailableSnapshot(of: volume)
            let refused = try await api.delete("/v3/volumes/\(volume)")
            expectFault(refused, .badRequest, "snapshot")
            expectFault(try await api.delete("/v3/volumes/\(volume)?cascade=false"), .badRequest, "snapshot")
            expectFault(
                try await api.post("/v3/volumes/\(volume)/action", ["os-force_delete": [:]]), .badRequest, "snapshot")
            #expect(try await api.volume(volume)?["status"].string == "available")
            #expect(try await api.snapshot(snap)?["status"].string == "available")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(volume)))
            #expect(FileManager.default.fileExists(atPath: api.system.snapshotFile(snap)))
        }
    }

    @Test("cascade=true deletes the volume, its snapshots and all their files")
    func cascadeDelete() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let other = try await api.createAvailableVolume()
            let s1 = try await api.createAvailableSnapshot(of: volume)
            let s2 = try await api.createAvailableSnapshot(of: volume)
            let kept = try await api.createAvailableSnapshot(of: other)
            // An errored snapshot goes too.
            _ = try await api.post("/v3/snapshots/\(s2)/action", ["os-reset_status": ["status": "error"]])
            let reply = try await api.delete("/v3/volumes/\(volume)?cascade=true")
            #expect(reply.status == .accepted, "\(reply)")
            try await api.waitForGone(volume)
            try await api.waitForSnapshotGone(s1)
            try await api.waitForSnapshotGone(s2)
            for path in [api.system.volumeFile(volume), api.system.snapshotFile(s1), api.system.snapshotFile(s2)] {
                #expect(!FileManager.default.fileExists(atPath: path), "\(path) is left")
            }
            #expect(try await api.snapshotIDs() == [kept])
            #expect(FileManager.default.fileExists(atPath: api.system.snapshotFile(kept)))
            #expect(try await api.volume(other)?["status"].string == "available")
        }
    }

    @Test("cascade refuses a volume whose snapshot is busy (creating): 400, nothing changes")
    func cascadeBusy() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let snap = try await api.createAvailableSnapshot(of: volume)
            _ = try await api.post("/v3/snapshots/\(snap)/action", ["os-reset_status": ["status": "creating"]])
            expectFault(try await api.delete("/v3/volumes/\(volume)?cascade=true"), .badRequest, "snapshot")
            #expect(try await api.volume(volume)?["status"].string == "available")
            #expect(try await api.snapshot(snap)?["status"].string == "creating")
            #expect(FileManager.default.fileExists(atPath: api.system.snapshotFile(snap)))
        }
    }

    @Test("cascade refuses a volume while a volume is being made from one of its snapshots: 400, nothing goes")
    func cascadeWhileCopying() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let snap = try await api.createAvailableSnapshot(of: volume)
            let reply = try await api.post("/v3/volumes", ["volume": ["snapshot_id": .string(snap)]])
            let copy = try #require(reply.json["volume"]["id"].string, "\(reply)")
            try await api.waitForStatus(copy, "available")
            // Back to creating, as if the backend were still copying.
            _ = try await api.post("/v3/volumes/\(copy)/action", ["os-reset_status": ["status": "creating"]])
            expectFault(try await api.delete("/v3/volumes/\(volume)?cascade=true"), .badRequest, "being created")
            #expect(try await api.volume(volume)?["status"].string == "available")
            #expect(try await api.snapshot(snap)?["status"].string == "available")
            #expect(FileManager.default.fileExists(atPath: api.system.snapshotFile(snap)))
            _ = try await api.post("/v3/volumes/\(copy)/action", ["os-reset_status": ["status": "available"]])
            #expect(try await api.delete("/v3/volumes/\(volume)?cascade=true").status == .accepted)
        }
    }

    @Test("From a snapshot: the snapshot's size and data, the same host and type, snapshot_id shown")
    func fromSnapshot() async throws {
        try await withSystem { api in
            let type = try await api.post("/v3/types", ["volume_type": ["name": "gold"]])
            #expect(type.status == .ok, "\(type)")
            let source = try await api.createAvailableVolume(size: 2, extra: ["volume_type": "gold"])
            let head = pattern("before-the-snapshot|")
            let tail = pattern("far-in|", count: 512)
            try writeBytes(api.system.volumeFile(source), head)
            try writeBytes(api.system.volumeFile(source), tail, at: UInt64(gib + 4096))
            let snap = try await api.createAvailableSnapshot(of: source)
            // Written after the snapshot: must not reach the copy.
            try writeBytes(api.system.volumeFile(source), pattern("after-the-snapshot|"))

            let reply = try await api.post("/v3/volumes", ["volume": ["snapshot_id": .string(snap)]])
            #expect(reply.status == .accepted, "\(reply)")
            let id = try #require(reply.json["volume"]["id"].string)
            #expect(reply.json["volume"]["size"].int == 2)
            #expect(reply.json["volume"]["snapshot_id"].string == snap)
            try await api.waitForStatus(id, "available")
            let v = try #require(try await api.volume(id))
            let s = try #require(try await api.volume(source))
            #expect(v["size"].int == 2)
            #expect(v["snapshot_id"].string == snap)
            #expect(v["source_volid"].isNull)
            #expect(v["volume_type"].string == "gold")
            #expect(v["os-vol-host-attr:host"].string != nil)
            #expect(v["os-vol-host-attr:host"] == s["os-vol-host-attr:host"])
            #expect(v["availability_zone"] == s["availability_zone"])
            let file = api.system.volumeFile(id)
            #expect(fileSize(file) == 2 * gib)
            #expect(try readBytes(file, count: head.count) == head)
            #expect(try readBytes(file, count: tail.count, at: UInt64(gib + 4096)) == tail)
            // The snapshot itself is unchanged and still available.
            #expect(try readBytes(api.system.snapshotFile(snap), count: head.count) == head)
            #expect(try await api.snapshot(snap)?["status"].string == "available")
        }
    }

    @Test("From a snapshot: smaller is 400, larger grows the file and keeps the data; a type may be given")
    func fromSnapshotSizes() async throws {
        try await withSystem { api in
            let source = try await api.createAvailableVolume(size: 2)
            let data = pattern("sized-copy|")
            try writeBytes(api.system.volumeFile(source), data, at: 8192)
            let snap = try await api.createAvailableSnapshot(of: source)
            let smaller = try await api.post("/v3/volumes", ["volume": ["snapshot_id": .string(snap), "size": 1]])
            expectFault(smaller, .badRequest, "size")
            #expect(try await api.volumeIDs() == [source])

            _ = try await api.post("/v3/types", ["volume_type": ["name": "silver"]])
            let larger = try await api.createVolume(
                size: 3, extra: ["snapshot_id": .string(snap), "volume_type": "silver"])
            try await api.waitForStatus(larger, "available")
            let v = try #require(try await api.volume(larger))
            #expect(v["size"].int == 3)
            #expect(v["volume_type"].string == "silver")
            let file = api.system.volumeFile(larger)
            #expect(fileSize(file) == 3 * gib)
            #expect(try readBytes(file, count: data.count, at: 8192) == data)
            #expect(try readBytes(file, count: 16, at: UInt64(2 * gib + 100)) == [UInt8](repeating: 0, count: 16))
        }
    }

    @Test("From a snapshot that is not available: 400; unknown snapshot or source: 404")
    func fromUnusableSources() async throws {
        try await withSystem { api in
            let source = try await api.createAvailableVolume()
            let snap = try await api.createAvailableSnapshot(of: source)
            _ = try await api.post("/v3/snapshots/\(snap)/action", ["os-reset_status": ["status": "error"]])
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["snapshot_id": .string(snap)]]), .badRequest,
                "snapshot")
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["snapshot_id": .string(randomID())]]), .notFound)
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["source_volid": .string(randomID())]]), .notFound)
            expectFault(try await api.post("/v3/volumes", ["volume": ["snapshot_id": "nope"]]), .badRequest)
            // A source volume in error cannot be cloned.
            _ = try await api.post("/v3/volumes/\(source)/action", ["os-reset_status": ["status": "error"]])
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["source_volid": .string(source)]]), .badRequest)
            #expect(try await api.volumeIDs() == [source])
        }
    }

    @Test("A clone has its source's size, data, host and type, and shows source_volid")
    func clone() async throws {
        try await withSystem { api in
            _ = try await api.post("/v3/types", ["volume_type": ["name": "gold"]])
            let source = try await api.createAvailableVolume(size: 2, extra: ["volume_type": "gold"])
            let data = pattern("clone-me|")
            try writeBytes(api.system.volumeFile(source), data, at: 1 << 20)
            let reply = try await api.post("/v3/volumes", ["volume": ["source_volid": .string(source)]])
            #expect(reply.status == .accepted, "\(reply)")
            let id = try #require(reply.json["volume"]["id"].string)
            #expect(reply.json["volume"]["source_volid"].string == source)
            try await api.waitForStatus(id, "available")
            let v = try #require(try await api.volume(id))
            let s = try #require(try await api.volume(source))
            #expect(v["size"].int == 2)
            #expect(v["source_volid"].string == source)
            #expect(v["snapshot_id"].isNull)
            #expect(v["volume_type"].string == "gold")
            #expect(v["os-vol-host-attr:host"] == s["os-vol-host-attr:host"])
            let file = api.system.volumeFile(id)
            #expect(fileSize(file) == 2 * gib)
            #expect(try readBytes(file, count: data.count, at: 1 << 20) == data)
            // The copy is independent: writing to it leaves the source alone.
            try writeBytes(file, pattern("changed|"), at: 1 << 20)
            #expect(try readBytes(api.system.volumeFile(source), count: data.count, at: 1 << 20) == data)

            expectFault(
                try await api.post("/v3/volumes", ["volume": ["source_volid": .string(source), "size": 1]]),
                .badRequest, "size")
            let bigger = try await api.createVolume(size: 4, extra: ["source_volid": .string(source)])
            try await api.waitForStatus(bigger, "available")
            #expect(fileSize(api.system.volumeFile(bigger)) == 4 * gib)
            #expect(try readBytes(api.system.volumeFile(bigger), count: data.count, at: 1 << 20) == data)
        }
    }

    @Test("A snapshot cannot be deleted while a volume is being made from it; afterwards it can")
    func deleteSnapshotWhileCopying() async throws {
        // Deterministic: the copy is put back into `creating` with os-reset_status, as if the backend were busy.
        try await withSystem { api in
            let source = try await api.createAvailableVolume()
            let data = pattern("kept-by-the-copy|")
            try writeBytes(api.system.volumeFile(source), data)
            let snap = try await api.createAvailableSnapshot(of: source)
            let copy = try await api.createAvailableVolume(extra: ["snapshot_id": .string(snap)])
            _ = try await api.post("/v3/volumes/\(copy)/action", ["os-reset_status": ["status": "creating"]])
            expectFault(try await api.delete("/v3/snapshots/\(snap)"), .badRequest, "being created")
            #expect(try await api.snapshot(snap)?["status"].string == "available")
            // Nor its volume without cascade (it has a snapshot).
            expectFault(try await api.delete("/v3/volumes/\(source)"), .badRequest, "snapshot")

            _ = try await api.post("/v3/volumes/\(copy)/action", ["os-reset_status": ["status": "available"]])
            #expect(try await api.delete("/v3/snapshots/\(snap)").status == .accepted)
            try await api.waitForSnapshotGone(snap)
            #expect(try readBytes(api.system.volumeFile(copy), count: data.count) == data)
        }
    }

    @Test("A volume cannot be deleted while it is being cloned; afterwards it can")
    func deleteSourceWhileCloning() async throws {
        try await withSystem { api in
            let source = try await api.createAvailableVolume()
            let clone = try await api.createAvailableVolume(extra: ["source_volid": .string(source)])
            _ = try await api.post("/v3/volumes/\(clone)/action", ["os-reset_status": ["status": "creating"]])
            expectFault(try await api.delete("/v3/volumes/\(source)"), .badRequest, "cloned")
            #expect(try await api.volume(source)?["status"].string == "available")
            _ = try await api.post("/v3/volumes/\(clone)/action", ["os-reset_status": ["status": "available"]])
            #expect(try await api.delete("/v3/volumes/\(source)").status == .accepted)
            try await api.waitForGone(source)
            #expect(try await api.volume(clone)?["status"].string == "available")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(clone)))
        }
    }
}
