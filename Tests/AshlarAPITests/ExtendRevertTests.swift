import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// The quota set of `project` with usage: resource → {limit, in_use, reserved}.
private func quotaUsage(_ api: API, _ project: String) async throws -> JSON {
    let reply = try await api.get("/v3/os-quota-sets/\(project)?usage=true", token: "u:\(project)")
    #expect(reply.status == .ok, "\(reply)")
    return reply.json["quota_set"]
}

/// Sets quota limits of `project`, checking the 200.
private func setQuota(
    _ api: API, _ project: String, _ limits: [String: JSONValue], sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let reply = try await api.put("/v3/os-quota-sets/\(project)", ["quota_set": .object(limits)])
    #expect(reply.status == .ok, "quota update: \(reply)", sourceLocation: sourceLocation)
}

/// `os-extend`.
@Suite("Volume extend", .timeLimit(.minutes(2)))
struct ExtendTests {
    @Test("os-extend grows the volume and its file: 202, extending, then available with the new size")
    func extend() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(size: 1, token: "u:p1")
            let data = pattern("survives-extend|")
            try writeBytes(api.system.volumeFile(id), data)
            let reply = try await api.post("/v3/volumes/\(id)/action", ["os-extend": ["new_size": 3]], token: "u:p1")
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.text.isEmpty)
            // Right after the 202 the volume is extending, or already done with its new size.
            let now = try #require(try await api.volume(id))
            #expect(
                now["status"].string == "extending" || (now["status"].string == "available" && now["size"].int == 3),
                "\(now)")
            try await api.waitForStatus(id, "available")
            #expect(try await api.volume(id)?["size"].int == 3)
            #expect(fileSize(api.system.volumeFile(id)) == 3 * gib)
            #expect(try readBytes(api.system.volumeFile(id), count: data.count) == data)
            let usage = try await quotaUsage(api, "p1")
            #expect(usage["gigabytes"]["in_use"].int == 3)
            // A string size works too.
            let again = try await api.post("/v3/volumes/\(id)/action", ["os-extend": ["new_size": "4"]])
            #expect(again.status == .accepted, "\(again)")
            try await api.waitForStatus(id, "available")
            #expect(try await api.volume(id)?["size"].int == 4)
            #expect(fileSize(api.system.volumeFile(id)) == 4 * gib)
        }
    }

    @Test("os-extend to a size not larger, without new_size or with bad fields is 400 and changes nothing")
    func badExtends() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(size: 2)
            let path = "/v3/volumes/\(id)/action"
            expectFault(try await api.post(path, ["os-extend": ["new_size": 2]]), .badRequest, "greater")
            expectFault(try await api.post(path, ["os-extend": ["new_size": 1]]), .badRequest, "greater")
            expectFault(try await api.post(path, ["os-extend": [:]]), .badRequest, "new_size")
            expectFault(try await api.post(path, ["os-extend": nil]), .badRequest, "new_size")
            for body: JSONValue in [
                ["os-extend": ["new_size": nil]], ["os-extend": ["new_size": "x"]], ["os-extend": ["new_size": 0]],
                ["os-extend": ["new_size": -3]], ["os-extend": ["new_size": .double(2.5)]], ["os-extend": ["new_size": []]],
                ["os-extend": ["new_size": 2_147_483_648]], ["os-extend": ["new_size": 3, "bogus": 1]],
                ["os-extend": []], ["os-extend": "3"],
            ] {
                expectFault(try await api.post(path, body), .badRequest)
            }
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available")
            #expect(v["size"].int == 2)
            #expect(fileSize(api.system.volumeFile(id)) == 2 * gib)
            expectFault(
                try await api.post("/v3/volumes/\(randomID())/action", ["os-extend": ["new_size": 3]]), .notFound)
        }
    }

    @Test("os-extend of a volume that is not available is 400")
    func extendNotAvailable() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            _ = try await api.post("/v3/volumes/\(id)/action", ["os-reset_status": ["status": "error"]])
            expectFault(
                try await api.post("/v3/volumes/\(id)/action", ["os-extend": ["new_size": 2]]), .badRequest, "error")
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "error")
            #expect(v["size"].int == 1)
        }
    }

    @Test("os-extend over the gigabytes quota is 413 VolumeSizeExceedsAvailableQuota; to the limit it passes")
    func extendOverGigabytes() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(size: 2, token: "u:p1")
            try await setQuota(api, "p1", ["gigabytes": 3])
            let path = "/v3/volumes/\(id)/action"
            let refused = try await api.post(path, ["os-extend": ["new_size": 4]], token: "u:p1")
            expectFault(refused, .contentTooLarge, "VolumeSizeExceedsAvailableQuota")
            #expect(refused.json["overLimit"].exists)
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available")
            #expect(v["size"].int == 2)
            #expect(fileSize(api.system.volumeFile(id)) == 2 * gib)

            let fits = try await api.post(path, ["os-extend": ["new_size": 3]], token: "u:p1")
            #expect(fits.status == .accepted, "\(fits)")
            try await api.waitForStatus(id, "available")
            #expect(try await api.volume(id)?["size"].int == 3)
            #expect(try await quotaUsage(api, "p1")["gigabytes"]["in_use"].int == 3)
        }
    }

    @Test("os-extend past per_volume_gigabytes is 413 VolumeSizeExceedsLimit")
    func extendOverPerVolume() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(size: 2, token: "u:p1")
            try await setQuota(api, "p1", ["per_volume_gigabytes": 3])
            let refused = try await api.post(
                "/v3/volumes/\(id)/action", ["os-extend": ["new_size": 4]], token: "u:p1")
            expectFault(refused, .contentTooLarge, "VolumeSizeExceedsLimit")
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available")
            #expect(v["size"].int == 2)
            // A new volume over the limit is refused the same way.
            let create = try await api.post("/v3/volumes", ["volume": ["size": 4]], token: "u:p1")
            expectFault(create, .contentTooLarge, "VolumeSizeExceedsLimit")
        }
    }
}

/// `revert` (3.40).
@Suite("Volume revert to snapshot", .timeLimit(.minutes(2)))
struct RevertTests {
    @Test("revert makes the volume's data the snapshot's again; both end available")
    func revert() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let file = api.system.volumeFile(id)
            let original = pattern("original-data|")
            try writeBytes(file, original)
            try writeBytes(file, original, at: 1 << 24)
            let snap = try await api.createAvailableSnapshot(of: id)
            let changed = pattern("overwritten|")
            try writeBytes(file, changed)
            try writeBytes(file, changed, at: 1 << 24)
            try writeBytes(file, changed, at: 1 << 26)
            #expect(try readBytes(file, count: original.count) == changed)

            let reply = try await api.post(
                "/v3/volumes/\(id)/action", ["revert": ["snapshot_id": .string(snap)]], version: "3.40")
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.text.isEmpty)
            try await api.waitForStatus(id, "available")
            try await api.waitForSnapshotStatus(snap, "available")
            #expect(try readBytes(file, count: original.count) == original)
            #expect(try readBytes(file, count: original.count, at: 1 << 24) == original)
            #expect(try readBytes(file, count: changed.count, at: 1 << 26) == [UInt8](repeating: 0, count: 4096))
            #expect(fileSize(file) == gib)
            // The snapshot keeps its own data for another revert.
            #expect(try readBytes(api.system.snapshotFile(snap), count: original.count) == original)
            #expect(try await api.volume(id)?["size"].int == 1)
        }
    }

    @Test("revert needs 3.40: before that the action is not there (404)")
    func needsMicroversion() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let snap = try await api.createAvailableSnapshot(of: id)
            let body: JSONValue = ["revert": ["snapshot_id": .string(snap)]]
            expectFault(try await api.post("/v3/volumes/\(id)/action", body, version: "3.39"), .notFound)
            expectFault(try await api.post("/v3/volumes/\(id)/action", body), .notFound)
            #expect(try await api.volume(id)?["status"].string == "available")
            #expect(try await api.snapshot(snap)?["status"].string == "available")
        }
    }

    @Test("os-extend_volume_completion (3.71): absent before, and 400 for a volume no compute host is extending")
    func extendVolumeCompletion() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            let body: JSONValue = ["os-extend_volume_completion": ["error": false]]
            expectFault(try await api.post(path, body, version: "3.70"), .notFound)
            expectFault(try await api.post(path, body, version: "3.71"), .badRequest, "is not being extended")
            expectFault(
                try await api.post(path, ["os-extend_volume_completion": ["error": "maybe"]], version: "3.71"),
                .badRequest, "error")
            expectFault(
                try await api.post(path, ["os-extend_volume_completion": ["size": 2]], version: "3.71"), .badRequest,
                "size")
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available" && v["size"].int == 1)
        }
    }

    @Test("revert only to the latest snapshot of this volume (400), of the same size (400); an unknown snapshot is 404")
    func refusals() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let other = try await api.createAvailableVolume()
            let older = try await api.createAvailableSnapshot(of: id)
            let latest = try await api.createAvailableSnapshot(of: id)
            let foreign = try await api.createAvailableSnapshot(of: other)
            let path = "/v3/volumes/\(id)/action"
            func revert(_ snap: String) async throws -> Reply {
                try await api.post(path, ["revert": ["snapshot_id": .string(snap)]], version: "3.40")
            }
            expectFault(try await revert(older), .badRequest, "latest")
            expectFault(try await revert(foreign), .badRequest)
            expectFault(try await revert(randomID()), .notFound)
            for body: JSONValue in [
                ["revert": [:]], ["revert": ["snapshot_id": nil]], ["revert": ["snapshot_id": 5]],
                ["revert": ["snapshot_id": "nope"]], ["revert": ["snapshot_id": .string(latest), "bogus": 1]],
                ["revert": []],
            ] {
                expectFault(try await api.post(path, body, version: "3.40"), .badRequest)
            }
            #expect(try await api.volume(id)?["status"].string == "available")
            for snap in [older, latest, foreign] {
                #expect(try await api.snapshot(snap)?["status"].string == "available")
            }

            // After an extend, the latest snapshot is smaller than the volume.
            let extend = try await api.post(path, ["os-extend": ["new_size": 2]])
            #expect(extend.status == .accepted, "\(extend)")
            try await api.waitForStatus(id, "available")
            expectFault(try await revert(latest), .badRequest, "size")
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available")
            #expect(v["size"].int == 2)
            #expect(try await api.snapshot(latest)?["status"].string == "available")
        }
    }

    @Test("revert of a volume or to a snapshot that is not available is a 409 conflict and changes nothing")
    func conflicts() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let snap = try await api.createAvailableSnapshot(of: id)
            let path = "/v3/volumes/\(id)/action"
            let body: JSONValue = ["revert": ["snapshot_id": .string(snap)]]
            _ = try await api.post(path, ["os-reset_status": ["status": "error"]])
            expectFault(try await api.post(path, body, version: "3.40"), .conflict)
            #expect(try await api.volume(id)?["status"].string == "error")
            #expect(try await api.snapshot(snap)?["status"].string == "available")

            _ = try await api.post(path, ["os-reset_status": ["status": "available"]])
            _ = try await api.post("/v3/snapshots/\(snap)/action", ["os-reset_status": ["status": "error"]])
            expectFault(try await api.post(path, body, version: "3.40"), .conflict)
            // The volume's own compare-and-swap is undone.
            #expect(try await api.volume(id)?["status"].string == "available")
            #expect(try await api.snapshot(snap)?["status"].string == "error")
        }
    }
}

/// Quota admission of creates, and the quota a failed create gives back.
@Suite("Quota admission", .timeLimit(.minutes(2)))
struct QuotaAdmissionTests {
    @Test("With volumes = 2, the third volume is 413 VolumeLimitExceeded")
    func volumesLimit() async throws {
        try await withSystem { api in
            try await setQuota(api, "p1", ["volumes": 2])
            let a = try await api.createVolume(token: "u:p1")
            let b = try await api.createVolume(token: "u:p1")
            let third = try await api.post("/v3/volumes", ["volume": ["size": 1]], token: "u:p1")
            expectFault(third, .contentTooLarge, "VolumeLimitExceeded")
            #expect(try await api.volumeIDs(token: "u:p1") == [a, b])
            // Another project is not affected.
            try await api.createVolume(token: "u:p2")
            // A copy counts like any volume.
            try await api.waitForStatus(a, "available")
            let clone = try await api.post("/v3/volumes", ["volume": ["source_volid": .string(a)]], token: "u:p1")
            expectFault(clone, .contentTooLarge, "VolumeLimitExceeded")
            #expect(try await quotaUsage(api, "p1")["volumes"]["in_use"].int == 2)
        }
    }

    @Test("A create larger than the gigabytes quota is 413 VolumeSizeExceedsAvailableQuota")
    func gigabytesLimit() async throws {
        try await withSystem { api in
            try await setQuota(api, "p1", ["gigabytes": 5])
            try await api.createVolume(size: 3, token: "u:p1")
            let refused = try await api.post("/v3/volumes", ["volume": ["size": 3]], token: "u:p1")
            expectFault(refused, .contentTooLarge, "VolumeSizeExceedsAvailableQuota")
            try await api.createVolume(size: 2, token: "u:p1")
            #expect(try await quotaUsage(api, "p1")["gigabytes"]["in_use"].int == 5)
        }
    }

    @Test("A create that fails in the scheduler ends in error, consumes_quota false, and frees its quota")
    func failedCreateFreesQuota() async throws {
        try await withSystem { api in
            let type = try await api.post(
                "/v3/types", ["volume_type": ["name": "nowhere", "extra_specs": ["volume_backend_name": "nope"]]])
            #expect(type.status == .ok, "\(type)")
            try await setQuota(api, "p1", ["volumes": 2])
            let real = try await api.createAvailableVolume(size: 2, token: "u:p1")
            let failed = try await api.createVolume(size: 5, extra: ["volume_type": "nowhere"], token: "u:p1")
            try await api.waitForStatus(failed, "error")
            let v = try #require(try await api.volume(failed, version: "3.65"))
            #expect(v["consumes_quota"].bool == false)
            #expect(v["os-vol-host-attr:host"].isNull)
            #expect(try await api.volume(real, version: "3.65")?["consumes_quota"].bool == true)
            #expect(!FileManager.default.fileExists(atPath: api.system.volumeFile(failed)))

            let usage = try await quotaUsage(api, "p1")
            #expect(usage["volumes"]["in_use"].int == 1)
            #expect(usage["gigabytes"]["in_use"].int == 2)
            #expect(usage["volumes_nowhere"]["in_use"].int == 0)
            #expect(usage["gigabytes_nowhere"]["in_use"].int == 0)
            // Its place is free: one more volume fits, the next does not.
            let another = try await api.createVolume(token: "u:p1")
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1]], token: "u:p1"), .contentTooLarge,
                "VolumeLimitExceeded")
            #expect(try await api.volumeIDs(token: "u:p1") == [real, failed, another])
            // The failed volume still shows in the consumes_quota filter.
            #expect(try await api.volumeIDs(token: "u:p1", query: "?consumes_quota=false") == [failed])
        }
    }
}
