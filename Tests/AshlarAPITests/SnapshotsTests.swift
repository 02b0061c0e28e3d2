import AshlarCore
import Foundation
import HTTPTypes
import AshlarStore
import SQLKit
import Testing

// MARK: - Snapshot helpers (shared with the volume-copy, extend and revert tests)

extension TestSystem {
    /// The file of a snapshot on the file backend, beside the volumes.
    func snapshotFile(_ id: String) -> String { "\(volumeDirectory)/snapshot-\(id)" }
}

extension API {
    /// Creates a snapshot of `volumeID` and checks the 202; returns its id.
    @discardableResult
    func createSnapshot(
        of volumeID: String, name: String? = nil, extra: [String: JSONValue] = [:], version: String? = nil,
        token: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        var fields: [String: JSONValue] = ["volume_id": .string(volumeID)]
        if let name { fields["name"] = .string(name) }
        fields.merge(extra) { _, new in new }
        let reply = try await post("/v3/snapshots", ["snapshot": .object(fields)], version: version, token: token)
        #expect(reply.status == .accepted, "snapshot create: \(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json["snapshot"]["id"].string, sourceLocation: sourceLocation)
    }

    /// Creates a snapshot and waits until it is `available`.
    @discardableResult
    func createAvailableSnapshot(
        of volumeID: String, name: String? = nil, extra: [String: JSONValue] = [:], token: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let id = try await createSnapshot(
            of: volumeID, name: name, extra: extra, token: token, sourceLocation: sourceLocation)
        try await waitForSnapshotStatus(id, "available", token: token, sourceLocation: sourceLocation)
        return id
    }

    /// The snapshot's view (`GET /snapshots/{id}`), or nil on 404.
    func snapshot(_ id: String, version: String? = nil, token: String? = nil) async throws -> JSON? {
        try await view("/v3/snapshots/\(id)", "snapshot", version: version, token: token)
    }

    /// Polls until the snapshot has `status`; fails after `timeout`.
    func waitForSnapshotStatus(
        _ id: String, _ status: String, token: String? = nil, timeout: Duration = .seconds(60),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        if let last = try await pollStatus("/v3/snapshots/\(id)", "snapshot", status, token: token, timeout: timeout) {
            Issue.record("snapshot \(id) did not become \(status) (last: \(last))", sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }

    /// Polls until the snapshot is gone (404); fails after `timeout`.
    func waitForSnapshotGone(
        _ id: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await waitUntilGone(
            "/v3/snapshots/\(id)", "snapshot \(id)", timeout: timeout, sourceLocation: sourceLocation)
    }

    /// Ids of the caller's snapshots (`GET /snapshots<query>`), in order.
    func snapshotIDs(_ query: String = "", version: String? = nil, token: String? = nil) async throws -> [String] {
        let reply = try await get("/v3/snapshots\(query)", version: version, token: token)
        #expect(reply.status == .ok, "\(query): \(reply)")
        return reply.json["snapshots"].array.compactMap { $0["id"].string }
    }

    /// Sets a volume's status straight in the database, for states the API cannot reach yet (`in-use` without
    /// an attachment).
    func forceVolumeStatus(_ id: String, _ status: String) async throws {
        try await system.database.write.update("volumes").set("status", to: status).where("id", .equal, id).run()
    }
}

/// Bytes that are easy to tell apart: `tag` repeated to `count` bytes.
func pattern(_ tag: String, count: Int = 4096) -> [UInt8] {
    let unit = Array(tag.utf8)
    return (0..<count).map { unit[$0 % unit.count] }
}

/// Writes `bytes` into the file at `offset` (the file must exist) and syncs it.
func writeBytes(_ path: String, _ bytes: [UInt8], at offset: UInt64 = 0) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path), "cannot open \(path)")
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: Data(bytes))
    try handle.synchronize()
}

/// Reads `count` bytes of the file at `offset`.
func readBytes(_ path: String, count: Int, at offset: UInt64 = 0) throws -> [UInt8] {
    let handle = try #require(FileHandle(forReadingAtPath: path), "cannot open \(path)")
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    return [UInt8](try handle.read(upToCount: count) ?? Data())
}

/// The apparent size of a file in bytes, nil when it does not exist.
func fileSize(_ path: String) -> Int64? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
    return (attributes[.size] as? NSNumber)?.int64Value
}

let gib: Int64 = 1 << 30

// MARK: - Tests

/// `/snapshots`: create, list, show, update, delete, actions and metadata.
@Suite("Snapshots", .timeLimit(.minutes(2)))
struct SnapshotsTests {
    @Test("Create: 202 creating with 0%, then available with 100%, the volume's size and a file beside the volume")
    func create() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume(size: 2, token: "alice:p1")
            let reply = try await api.post(
                "/v3/snapshots",
                [
                    "snapshot": [
                        "volume_id": .string(volume), "name": "snap", "description": "first",
                        "metadata": ["k": "v"],
                    ]
                ], token: "alice:p1")
            #expect(reply.status == .accepted, "\(reply)")
            let accepted = reply.json["snapshot"]
            let id = try #require(accepted["id"].string)
            #expect(accepted["status"].string == "creating")
            // The progress comes with show and detail, not with the answer to a create.
            #expect(!accepted["os-extended-snapshot-attributes:progress"].exists)
            #expect(accepted["volume_id"].string == volume)
            #expect(accepted["size"].int == 2)

            try await api.waitForSnapshotStatus(id, "available", token: "alice:p1")
            let s = try #require(try await api.snapshot(id, token: "alice:p1"))
            #expect(
                s.keys == [
                    "id", "created_at", "updated_at", "name", "description", "volume_id", "status", "size", "metadata",
                    "os-extended-snapshot-attributes:progress", "os-extended-snapshot-attributes:project_id",
                ])
            #expect(s["name"].string == "snap")
            #expect(s["description"].string == "first")
            #expect(s["size"].int == 2)
            #expect(s["metadata"] == JSON(.object(["k": "v"])))
            #expect(s["os-extended-snapshot-attributes:progress"].string == "100%")
            #expect(s["os-extended-snapshot-attributes:project_id"].string == "p1")
            #expect(FileManager.default.fileExists(atPath: api.system.snapshotFile(id)))
            #expect(fileSize(api.system.snapshotFile(id)) == 2 * gib)

            // Microversioned fields.
            let v341 = try #require(try await api.snapshot(id, version: "3.41", token: "alice:p1"))
            #expect(v341["user_id"].string == "alice")
            #expect(v341["group_snapshot_id"].isNull)
            #expect(!v341["consumes_quota"].exists)
            let v365 = try #require(try await api.snapshot(id, version: "3.65", token: "alice:p1"))
            #expect(v365["consumes_quota"].bool == true)
            #expect(v365["user_id"].string == "alice")

            // Old names are read too; another project does not see the snapshot in its list.
            let legacy = try await api.createSnapshot(
                of: volume, extra: ["display_name": "old", "display_description": "older"], token: "alice:p1")
            let shown = try #require(try await api.snapshot(legacy, token: "alice:p1"))
            #expect(shown["name"].string == "old")
            #expect(shown["description"].string == "older")
            #expect(try await api.snapshotIDs(token: "bob:p2").isEmpty)
            #expect(Set(try await api.snapshotIDs(token: "alice:p1")) == [id, legacy])
        }
    }

    @Test("Create: a missing or malformed volume_id is 400, an unknown or null one 404, bad fields 400; nothing is made")
    func createValidation() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let v: JSONValue = .string(volume)
            for body: JSONValue in [
                ["snapshot": [:]], ["snapshot": ["name": "x"]],
                ["snapshot": ["volume_id": "not-a-uuid"]], ["snapshot": ["volume_id": 5]],
                ["snapshot": ["volume_id": []]], ["snapshot": ["volume_id": v, "name": 5]],
                ["snapshot": ["volume_id": v, "description": ["x"]]], ["snapshot": ["volume_id": v, "metadata": "x"]],
                ["snapshot": ["volume_id": v, "metadata": ["k": 1]]], ["snapshot": nil], ["snapshot": []], [:],
                ["volume": ["volume_id": v]],
            ] {
                expectFault(try await api.post("/v3/snapshots", body), .badRequest)
            }
            expectFault(
                try await api.post("/v3/snapshots", ["snapshot": ["volume_id": "x"]]), .badRequest, "volume_id")
            expectFault(try await api.post("/v3/snapshots", ["snapshot": [:]]), .badRequest, "volume_id")
            // Unknown keys are refused at every microversion, as upstream's schema refuses them.
            for version in ["3.0", "3.53"] {
                expectFault(
                    try await api.post("/v3/snapshots", ["snapshot": ["volume_id": v, "bogus": 1]], version: version),
                    .badRequest, "bogus")
            }
            // A null id is looked up, as upstream looks it up: no such volume.
            expectFault(try await api.post("/v3/snapshots", ["snapshot": ["volume_id": nil]]), .notFound)
            expectFault(try await api.post("/v3/snapshots", raw: "{"), .badRequest)
            expectFault(
                try await api.post("/v3/snapshots", ["snapshot": ["volume_id": .string(randomID())]]), .notFound)
            #expect(try await api.snapshotIDs().isEmpty)
            #expect(try await api.volume(volume)?["status"].string == "available")
        }
    }

    @Test("Create: a volume that is not available is 400, whatever force says, and nothing is made")
    func createVolumeNotAvailable() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let reset = try await api.post("/v3/volumes/\(volume)/action", ["os-reset_status": ["status": "error"]])
            #expect(reset.status == .accepted)
            let body: JSONValue = ["snapshot": ["volume_id": .string(volume)]]
            let plain = try await api.post("/v3/snapshots", body)
            expectFault(plain, .badRequest, "error")
            #expect(plain.json["badRequest"]["message"].string?.contains("available") == true, "\(plain)")
            // With force (or from 3.66) in-use is allowed too, and the message says so.
            expectFault(
                try await api.post("/v3/snapshots", ["snapshot": ["volume_id": .string(volume), "force": true]]),
                .badRequest, "available or in-use")
            expectFault(try await api.post("/v3/snapshots", body, version: "3.66"), .badRequest, "available or in-use")
            #expect(try await api.snapshotIDs().isEmpty)
            #expect(try await api.volume(volume)?["status"].string == "error")
        }
    }

    @Test("Create of an in-use volume: needs force before 3.66, refuses force=false from 3.66; force must be a boolean")
    func createInUse() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            try await api.forceVolumeStatus(volume, "in-use")
            let v: JSONValue = .string(volume)
            expectFault(try await api.post("/v3/snapshots", ["snapshot": ["volume_id": v]]), .badRequest, "force")
            expectFault(
                try await api.post("/v3/snapshots", ["snapshot": ["volume_id": v, "force": false]]), .badRequest,
                "in-use")
            for force: JSONValue in ["maybe", 5, [], ["x": 1]] {
                expectFault(
                    try await api.post("/v3/snapshots", ["snapshot": ["volume_id": v, "force": force]]), .badRequest,
                    "force")
            }
            expectFault(
                try await api.post("/v3/snapshots", ["snapshot": ["volume_id": v, "force": false]], version: "3.66"),
                .badRequest, "force")
            expectFault(
                try await api.post("/v3/snapshots", ["snapshot": ["volume_id": v, "force": "no"]], version: "3.66"),
                .badRequest, "force")
            #expect(try await api.snapshotIDs().isEmpty)

            // Allowed: force=true (also as a string) before 3.66; from 3.66 without force, or with force=true.
            let forced = try await api.createSnapshot(of: volume, extra: ["force": true])
            let forcedString = try await api.createSnapshot(of: volume, extra: ["force": "True"])
            let modern = try await api.createSnapshot(of: volume, version: "3.66")
            let modernForced = try await api.createSnapshot(of: volume, extra: ["force": true], version: "3.66")
            for id in [forced, forcedString, modern, modernForced] {
                try await api.waitForSnapshotStatus(id, "available")
            }
            #expect(Set(try await api.snapshotIDs()) == [forced, forcedString, modern, modernForced])
            #expect(try await api.volume(volume)?["status"].string == "in-use")
        }
    }

    @Test("List and detail: the summary has no extended attributes; show equals the detail entry")
    func listAndShow() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let a = try await api.createAvailableSnapshot(of: volume, name: "a")
            let b = try await api.createAvailableSnapshot(of: volume, name: "b")
            let list = try await api.get("/v3/snapshots")
            #expect(list.status == .ok)
            let items = list.json["snapshots"].array
            #expect(items.compactMap { $0["id"].string } == [b, a], "newest first")
            for item in items {
                #expect(!item["os-extended-snapshot-attributes:progress"].exists)
                #expect(!item["os-extended-snapshot-attributes:project_id"].exists)
                #expect(item["volume_id"].string == volume)
                #expect(item["status"].string == "available")
            }
            #expect(!list.json["snapshots_links"].exists)
            let detail = try await api.get("/v3/snapshots/detail")
            #expect(detail.status == .ok)
            let detailItems = detail.json["snapshots"].array
            #expect(detailItems.compactMap { $0["id"].string } == [b, a])
            #expect(detailItems.first?["os-extended-snapshot-attributes:progress"].string == "100%")
            #expect(try await api.snapshot(b) == detailItems.first)
            expectFault(try await api.get("/v3/snapshots/\(randomID())"), .notFound)
            expectFault(try await api.get("/v3/snapshots/nope"), .notFound)
        }
    }

    @Test("Filters: name, status, volume_id, metadata; an unknown key gives an admin nothing")
    func filters() async throws {
        try await withSystem { api in
            let v1 = try await api.createAvailableVolume()
            let v2 = try await api.createAvailableVolume()
            let a = try await api.createAvailableSnapshot(of: v1, name: "alpha", extra: ["metadata": ["k": "v"]])
            let b = try await api.createAvailableSnapshot(of: v1, name: "beta", extra: ["metadata": ["k": "w"]])
            let c = try await api.createAvailableSnapshot(of: v2, name: "gamma")
            _ = try await api.post("/v3/snapshots/\(c)/action", ["os-reset_status": ["status": "error"]])

            #expect(try await api.snapshotIDs("?name=alpha") == [a])
            #expect(try await api.snapshotIDs("?display_name=beta") == [b])
            #expect(try await api.snapshotIDs("?name=alp") == [])
            #expect(Set(try await api.snapshotIDs("?status=available")) == [a, b])
            #expect(try await api.snapshotIDs("?status=error") == [c])
            #expect(Set(try await api.snapshotIDs("?volume_id=\(v1)")) == [a, b])
            #expect(try await api.snapshotIDs("?volume_id=\(v2)") == [c])
            #expect(try await api.snapshotIDs("?volume_id=\(v1)&name=beta") == [b])
            #expect(try await api.snapshotIDs("?metadata=%7B%27k%27:%27v%27%7D") == [a])
            #expect(try await api.snapshotIDs("?metadata=%7B%22k%22:%20%22w%22%7D") == [b])
            #expect(try await api.snapshotIDs("?metadata=%7B%27k%27:%27x%27%7D") == [])
            #expect(Set(try await api.snapshotIDs("?name~=a", version: "3.34")) == [a, b, c])
            #expect(try await api.snapshotIDs("?bogus=1") == [])
            expectFault(try await api.get("/v3/snapshots?metadata=k=v"), .badRequest, "metadata")
            expectFault(try await api.get("/v3/snapshots?consumes_quota=maybe"), .badRequest)
            let detail = try await api.get("/v3/snapshots/detail?name=gamma")
            #expect(detail.json["snapshots"].array.compactMap { $0["id"].string } == [c])
        }
    }

    @Test("Sort, limit and marker with snapshots_links; with_count from 3.45")
    func sortAndPaginate() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            var byName: [String: String] = [:]
            for name in ["c", "a", "e", "b", "d"] {
                byName[name] = try await api.createSnapshot(of: volume, name: name)
            }
            let sortedIDs = ["a", "b", "c", "d", "e"].compactMap { byName[$0] }
            #expect(try await api.snapshotIDs("?sort=name:asc") == sortedIDs)
            #expect(try await api.snapshotIDs("?sort=name:desc") == sortedIDs.reversed())
            #expect(try await api.snapshotIDs("?sort_key=name&sort_dir=asc") == sortedIDs)
            expectFault(try await api.get("/v3/snapshots?sort=name:sideways"), .badRequest)
            expectFault(try await api.get("/v3/snapshots?sort_key=bogus"), .badRequest)

            // Walk the pages through the next links.
            var seen: [String] = []
            var path: String? = "/v3/snapshots/detail?limit=2&sort=name:asc"
            var pages = 0
            while let next = path, pages < 10 {
                let reply = try await api.get(next)
                #expect(reply.status == .ok, "\(next): \(reply)")
                pages += 1
                seen += reply.json["snapshots"].array.compactMap { $0["id"].string }
                let href = reply.json["snapshots_links"].array.first { $0["rel"].string == "next" }?["href"].string
                if let href {
                    #expect(href.contains("marker="), "\(href)")
                    #expect(href.contains("/snapshots/detail?"), "\(href)")
                    #expect(href.hasPrefix("http://localhost/v3/"), "\(href)")
                    path = String(href.dropFirst("http://localhost".count))
                } else {
                    path = nil
                }
            }
            #expect(seen == sortedIDs)
            #expect(pages == 3)
            let marked = try await api.snapshotIDs("?sort=name:asc&limit=2&marker=\(sortedIDs[1])")
            #expect(marked == Array(sortedIDs[2...3]))
            expectFault(try await api.get("/v3/snapshots?marker=\(randomID())"), .notFound)
            expectFault(try await api.get("/v3/snapshots?limit=abc"), .badRequest)

            let counted = try await api.get("/v3/snapshots?with_count=true&limit=1", version: "3.45")
            #expect(counted.json["count"].int == 5)
            #expect(counted.json["snapshots"].array.count == 1)
            let filtered = try await api.get("/v3/snapshots/detail?with_count=true&name=a", version: "3.45")
            #expect(filtered.json["count"].int == 1)
            let old = try await api.get("/v3/snapshots?with_count=true", version: "3.44")
            #expect(!old.json["count"].exists)
            expectFault(try await api.get("/v3/snapshots?with_count=maybe", version: "3.45"), .badRequest)
        }
    }

    @Test("Update renames and describes (200); an empty or malformed body is 400; unknown is 404")
    func update() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume, name: "old")
            let path = "/v3/snapshots/\(id)"
            let reply = try await api.put(path, ["snapshot": ["name": "new", "description": "described"]])
            #expect(reply.status == .ok, "\(reply)")
            #expect(reply.json["snapshot"]["name"].string == "new")
            #expect(reply.json["snapshot"]["description"].string == "described")
            #expect(reply.json["snapshot"]["status"].string == "available")
            let shown = try #require(try await api.snapshot(id))
            #expect(shown["name"].string == "new")
            #expect(shown["description"].string == "described")

            let legacy = try await api.put(path, ["snapshot": ["display_name": "legacy"]])
            #expect(legacy.status == .ok, "\(legacy)")
            #expect(legacy.json["snapshot"]["name"].string == "legacy")
            #expect(legacy.json["snapshot"]["description"].string == "described")

            for body: JSONValue in [
                ["snapshot": [:]], ["snapshot": ["name": 5]], ["snapshot": ["description": []]], ["snapshot": nil],
                ["snapshot": "x"], [:], ["volume": ["name": "x"]],
            ] {
                expectFault(try await api.put(path, body), .badRequest)
            }
            expectFault(try await api.put(path, ["snapshot": [:]]), .badRequest, "enough properties")
            expectFault(try await api.put(path, ["snapshot": ["size": 9]], version: "3.53"), .badRequest, "size")
            expectFault(try await api.put("/v3/snapshots/\(randomID())", ["snapshot": ["name": "x"]]), .notFound)
            #expect(try await api.snapshot(id)?["name"].string == "legacy")
        }
    }

    @Test("Delete answers 202, then the snapshot and its file are gone; again is 404")
    func delete() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume)
            let file = api.system.snapshotFile(id)
            #expect(FileManager.default.fileExists(atPath: file))
            let reply = try await api.delete("/v3/snapshots/\(id)")
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.text.isEmpty)
            try await api.waitForSnapshotGone(id)
            #expect(!FileManager.default.fileExists(atPath: file))
            #expect(try await api.snapshotIDs().isEmpty)
            expectFault(try await api.delete("/v3/snapshots/\(id)"), .notFound)
            // The volume is untouched and can now be deleted without cascade.
            #expect(try await api.volume(volume)?["status"].string == "available")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(volume)))
            #expect(try await api.delete("/v3/volumes/\(volume)").status == .accepted)
            try await api.waitForGone(volume)
        }
    }

    @Test("A snapshot reset to creating cannot be deleted (400) but can be force-deleted; in error it can be")
    func deleteNotDeletable() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume)
            let path = "/v3/snapshots/\(id)/action"
            #expect(try await api.post(path, ["os-reset_status": ["status": "creating"]]).status == .accepted)
            #expect(try await api.snapshot(id)?["status"].string == "creating")
            expectFault(try await api.delete("/v3/snapshots/\(id)"), .badRequest, "creating")
            #expect(try await api.snapshot(id)?["status"].string == "creating")
            #expect(FileManager.default.fileExists(atPath: api.system.snapshotFile(id)))

            let forced = try await api.post(path, ["os-force_delete": [:]])
            #expect(forced.status == .accepted, "\(forced)")
            try await api.waitForSnapshotGone(id)
            #expect(!FileManager.default.fileExists(atPath: api.system.snapshotFile(id)))

            let other = try await api.createAvailableSnapshot(of: volume)
            #expect(
                try await api.post("/v3/snapshots/\(other)/action", ["os-reset_status": ["status": "error"]]).status
                    == .accepted)
            #expect(try await api.delete("/v3/snapshots/\(other)").status == .accepted)
            try await api.waitForSnapshotGone(other)
        }
    }

    @Test("os-reset_status sets any status; bad bodies are 400 and change nothing")
    func resetStatus() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume)
            let path = "/v3/snapshots/\(id)/action"
            let reply = try await api.post(path, ["os-reset_status": ["status": "error"]])
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.text.isEmpty)
            #expect(try await api.snapshot(id)?["status"].string == "error")
            for body: JSONValue in [
                ["os-reset_status": ["status": "bogus"]],
                ["os-reset_status": ["status": 5]], ["os-reset_status": ["status": nil]], ["os-reset_status": [:]],
                ["os-reset_status": nil], ["os-reset_status": "available"], ["os-reset_status": []],
                ["os-reset_status": ["status": "available", "bogus": 1]],
            ] {
                expectFault(try await api.post(path, body), .badRequest)
            }
            #expect(try await api.snapshot(id)?["status"].string == "error")
            #expect(try await api.post(path, ["os-reset_status": ["status": "AVAILABLE"]]).status == .accepted)
            #expect(try await api.snapshot(id)?["status"].string == "available")
        }
    }


    @Test("os-reset_status to deleting, then os-force_delete: the snapshot is deleted (upstream's sequence)")
    func resetToDeletingThenForceDelete() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume)
            let path = "/v3/snapshots/\(id)/action"
            #expect(try await api.post(path, ["os-reset_status": ["status": "deleting"]]).status == .accepted)
            #expect(try await api.snapshot(id)?["status"].string == "deleting")
            // No reset away from deleting: that is the volume service's to finish.
            #expect(try await api.post(path, ["os-reset_status": ["status": "available"]]).status.code >= 400)
            #expect(try await api.post(path, ["os-force_delete": [:]]).status == .accepted)
            #expect(try await poll { try await api.snapshot(id) == nil })
        }
    }
    @Test("os-update_snapshot_status: creating → available (with progress) is allowed, available → error is 400")
    func updateSnapshotStatus() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume)
            let path = "/v3/snapshots/\(id)/action"
            expectFault(
                try await api.post(path, ["os-update_snapshot_status": ["status": "error"]]), .badRequest, "not allowed")
            expectFault(
                try await api.post(path, ["os-update_snapshot_status": ["status": "error_deleting"]]), .badRequest)
            #expect(try await api.snapshot(id)?["status"].string == "available")

            _ = try await api.post(path, ["os-reset_status": ["status": "creating"]])
            for body: JSONValue in [
                ["os-update_snapshot_status": [:]], ["os-update_snapshot_status": ["status": "bogus"]],
                ["os-update_snapshot_status": ["status": "available", "bogus": 1]],
                ["os-update_snapshot_status": ["status": "available", "progress": 50]],
                ["os-update_snapshot_status": ["status": "deleting"]],
            ] {
                expectFault(try await api.post(path, body), .badRequest)
            }
            #expect(try await api.snapshot(id)?["status"].string == "creating")
            let reply = try await api.post(
                path, ["os-update_snapshot_status": ["status": "available", "progress": "90%"]])
            #expect(reply.status == .accepted, "\(reply)")
            let s = try #require(try await api.snapshot(id))
            #expect(s["status"].string == "available")
            #expect(s["os-extended-snapshot-attributes:progress"].string == "90%")
        }
    }

    @Test("Unknown, malformed and not-yet actions; actions on an unknown snapshot are 404")
    func otherActions() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume)
            let path = "/v3/snapshots/\(id)/action"
            expectFault(try await api.post(path, ["os-fly": [:]]), .badRequest, "There is no such action")
            expectFault(
                try await api.post(path, ["os-reset_status": ["status": "error"], "os-force_delete": [:]]),
                .badRequest)
            expectFault(try await api.post(path, [:]), .badRequest)
            expectFault(try await api.post(path), .badRequest)
            expectFault(try await api.post(path, ["os-force_delete": "now"]), .badRequest)
            expectFault(try await api.post(path, ["os-unmanage": [:]]), .notImplemented)
            expectFault(
                try await api.post("/v3/snapshots/\(randomID())/action", ["os-reset_status": ["status": "error"]]),
                .notFound)
            #expect(try await api.snapshot(id)?["status"].string == "available")
        }
    }

    @Test("Snapshot metadata: all six routes, ETag from 3.15 and If-Match 412")
    func metadata() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let id = try await api.createAvailableSnapshot(of: volume, extra: ["metadata": ["a": "1"]])
            let base = "/v3/snapshots/\(id)/metadata"

            // No ETag before 3.15.
            #expect(try await api.get(base).header("ETag") == nil)
            try await api.checkMetadataRoutes(base) { try await api.snapshot(id) }
            expectFault(try await api.put("\(base)/c", ["meta": ["d": "4"]]), .badRequest, "mismatch")
            expectFault(try await api.post(base, ["metadata": ["k": 1]]), .badRequest)

            let deleted = try await api.delete("\(base)/c")
            #expect(deleted.status == .ok)
            #expect(try await api.get(base).json == JSON(.object(["metadata": [:]])))
            expectFault(try await api.delete("\(base)/c"), .notFound)

            // ETag and If-Match.
            _ = try await api.put(base, ["metadata": ["k": "v"]])
            let etag = try #require(try await api.get(base, version: "3.15").header("ETag"))
            let stale = try await api.put(
                base, ["metadata": ["x": "y"]], version: "3.15", headers: [.ifMatch: "stale-etag"])
            expectFault(stale, .preconditionFailed)
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["k": "v"]])))
            let fresh = try await api.put(base, ["metadata": ["x": "y"]], version: "3.15", headers: [.ifMatch: etag])
            #expect(fresh.status == .ok, "\(fresh)")
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["x": "y"]])))
            let newTag = try #require(try await api.get(base, version: "3.15").header("ETag"))
            #expect(newTag != etag)

            // The volume's metadata is not the snapshot's.
            #expect(try await api.get("/v3/volumes/\(volume)/metadata").json == JSON(.object(["metadata": [:]])))
            let missing = "/v3/snapshots/\(randomID())/metadata"
            expectFault(try await api.get(missing), .notFound)
            expectFault(try await api.post(missing, ["metadata": ["a": "b"]]), .notFound)
            expectFault(try await api.put("\(missing)/a", ["meta": ["a": "b"]]), .notFound)
            expectFault(try await api.delete("\(missing)/a"), .notFound)
        }
    }

    @Test("The snapshots quota: the second snapshot over a limit of 1 is 413 SnapshotLimitExceeded; gigabytes count")
    func quota() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume(size: 2, token: "u:p1")
            let set = try await api.put("/v3/os-quota-sets/p1", ["quota_set": ["snapshots": 1]])
            #expect(set.status == .ok, "\(set)")
            let first = try await api.createAvailableSnapshot(of: volume, token: "u:p1")
            let second = try await api.post(
                "/v3/snapshots", ["snapshot": ["volume_id": .string(volume)]], token: "u:p1")
            expectFault(second, .contentTooLarge, "SnapshotLimitExceeded")
            #expect(try await api.snapshotIDs(token: "u:p1") == [first])

            // The snapshot's size counts against gigabytes: 2 (volume) + 2 (snapshot) + 2 > 5.
            _ = try await api.put("/v3/os-quota-sets/p1", ["quota_set": ["snapshots": 10, "gigabytes": 5]])
            let tooBig = try await api.post(
                "/v3/snapshots", ["snapshot": ["volume_id": .string(volume)]], token: "u:p1")
            expectFault(tooBig, .contentTooLarge, "VolumeSizeExceedsAvailableQuota")
            let usage = try await api.get("/v3/os-quota-sets/p1?usage=true", token: "u:p1").json["quota_set"]
            #expect(usage["snapshots"]["in_use"].int == 1)
            #expect(usage["gigabytes"]["in_use"].int == 4)

            // Deleting the snapshot frees its share.
            _ = try await api.delete("/v3/snapshots/\(first)", token: "u:p1")
            try await api.waitForSnapshotGone(first)
            try await api.createAvailableSnapshot(of: volume, token: "u:p1")
        }
    }
}
