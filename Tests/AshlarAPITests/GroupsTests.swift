import AshlarCore
import AshlarStore
import Foundation
import HTTPTypes
import Testing

extension API {
    /// Creates a group type and returns its id.
    func createGroupType(_ name: String = "gt-\(randomID().prefix(8))", isPublic: Bool = true) async throws -> String {
        let reply = try await post(
            "/v3/group_types", ["group_type": ["name": .string(name), "is_public": .bool(isPublic)]], version: "3.11")
        #expect(reply.status == .accepted, "\(reply)")
        return try #require(reply.json["group_type"]["id"].string)
    }

    /// The id of the default volume type.
    func defaultTypeID() async throws -> String {
        try #require(try await get("/v3/types/default").json["volume_type"]["id"].string)
    }

    /// Creates a group of `types` and waits until it is available.
    func createAvailableGroup(groupType: String, types: [String], name: String = "g") async throws -> String {
        let reply = try await post(
            "/v3/groups",
            ["group": ["name": .string(name), "group_type": .string(groupType), "volume_types": .array(types.map(JSONValue.string))]],
            version: "3.13")
        #expect(reply.status == .accepted, "\(reply)")
        #expect(reply.json["group"].keys == ["id", "name"])
        let id = try #require(reply.json["group"]["id"].string)
        try await waitForGroupStatus(id, "available")
        return id
    }

    func group(_ id: String, version: String = "3.20") async throws -> JSON? {
        try await view("/v3/groups/\(id)", "group", version: version)
    }

    func waitForGroupStatus(_ id: String, _ status: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        if let last = try await pollStatus("/v3/groups/\(id)", "group", status, version: "3.20", timeout: .seconds(30)) {
            Issue.record("group \(id) did not become \(status) (last: \(last))", sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }

    func waitForGroupSnapshotStatus(_ id: String, _ status: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        if let last = try await pollStatus(
            "/v3/group_snapshots/\(id)", "group_snapshot", status, version: "3.19", timeout: .seconds(30))
        {
            Issue.record("group snapshot \(id) did not become \(status) (last: \(last))", sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }

    func pollStatus(_ path: String, _ key: String, _ status: String, version: String, timeout: Duration) async throws -> String? {
        var last = "?"
        let reached = try await poll(timeout: timeout) {
            last = try await view(path, key, version: version)?["status"].string ?? "(gone)"
            return last == status
        }
        return reached ? nil : last
    }

    /// Polls until the group (or group snapshot) at `path` is gone, asked at a microversion that has it.
    func waitForGroupGone(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let gone = try await poll(timeout: .seconds(30)) { try await get(path, version: "3.20").status == .notFound }
        if !gone {
            Issue.record("\(path) was not deleted", sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }

    /// Creates a volume in a group and waits until it is available.
    func createGroupVolume(group: String, type: String, size: Int = 1) async throws -> String {
        let id = try await createVolume(
            size: size, extra: ["group_id": .string(group), "volume_type": .string(type)], version: "3.13")
        try await waitForStatus(id, "available")
        return id
    }
}

/// Group types and their specs (3.11).
@Suite("Group types", .timeLimit(.minutes(2)))
struct GroupTypesTests {
    @Test("Create, show, list by is_public and sort, update, specs, delete; before 3.11 there are none")
    func lifecycle() async throws {
        try await withSystem { api in
            expectFault(try await api.get("/v3/group_types", version: "3.10"), .notFound)
            let created = try await api.post(
                "/v3/group_types",
                ["group_type": ["name": "b-private", "description": "d", "is_public": false, "group_specs": ["k1": "v1"]]],
                version: "3.11")
            #expect(created.status == .accepted)
            #expect(created.json["group_type"].keys == ["id", "name", "description", "is_public", "group_specs"])
            let privateID = try #require(created.json["group_type"]["id"].string)
            let publicID = try await api.createGroupType("a-public")
            func names(_ query: String) async throws -> [String] {
                try await api.get("/v3/group_types\(query)", version: "3.11").json["group_types"].array.compactMap { $0["name"].string }
            }
            #expect(try await names("") == ["a-public"])
            #expect(try await names("?is_public=None&sort=name:desc") == ["b-private", "a-public"])
            #expect(try await names("?is_public=false") == ["b-private"])
            expectFault(
                try await api.post("/v3/group_types", ["group_type": ["name": "a-public"]], version: "3.11"), .conflict)
            for body: JSONValue in [["group_type": [:]], ["group_type": ["name": " "]], ["group_type": ["name": "x", "bogus": 1]]] {
                expectFault(try await api.post("/v3/group_types", body, version: "3.11"), .badRequest)
            }

            let updated = try await api.put(
                "/v3/group_types/\(privateID)", ["group_type": ["name": "c-renamed", "description": "new"]], version: "3.11")
            #expect(updated.status == .ok)
            #expect(updated.json["group_type"]["name"].string == "c-renamed")
            expectFault(try await api.put("/v3/group_types/\(privateID)", ["group_type": [:]], version: "3.11"), .badRequest)
            expectFault(
                try await api.put("/v3/group_types/\(randomID())", ["group_type": ["name": "z"]], version: "3.11"), .notFound)

            // Specs: merge, show one, update one (body must match the URL), delete one.
            let specs = "/v3/group_types/\(privateID)/group_specs"
            let merged = try await api.post(specs, ["group_specs": ["k2": "v2"]], version: "3.11")
            #expect(merged.status == .accepted)
            #expect(merged.json["group_specs"] == JSON(["k2": "v2"]))
            #expect(try await api.get(specs, version: "3.11").json["group_specs"] == JSON(["k1": "v1", "k2": "v2"]))
            #expect(try await api.get("\(specs)/k1", version: "3.11").json == JSON(["k1": "v1"]))
            #expect(try await api.put("\(specs)/k1", ["k1": "v1b"], version: "3.11").json == JSON(["k1": "v1b"]))
            expectFault(try await api.put("\(specs)/k1", ["k9": "x"], version: "3.11"), .badRequest)
            #expect(try await api.delete("\(specs)/k1", version: "3.11").status == .accepted)
            expectFault(try await api.get("\(specs)/k1", version: "3.11"), .notFound)
            expectFault(try await api.delete("\(specs)/k1", version: "3.11"), .notFound)

            // A type in use by a group stays.
            let group = try await api.createAvailableGroup(groupType: publicID, types: [try await api.defaultTypeID()])
            expectFault(try await api.delete("/v3/group_types/\(publicID)", version: "3.11"), .badRequest, "in use")
            #expect(try await api.post("/v3/groups/\(group)/action", ["delete": ["delete-volumes": false]], version: "3.13").status == .accepted)
            try await api.waitForGroupGone("/v3/groups/\(group)")
            #expect(try await api.delete("/v3/group_types/\(publicID)", version: "3.11").status == .accepted)
            expectFault(try await api.get("/v3/group_types/\(publicID)", version: "3.11"), .notFound)
            expectFault(try await api.get("/v3/group_types/default", version: "3.11"), .notFound)
        }
    }
}

/// Generic volume groups (3.13), group snapshots (3.14) and groups made from them.
@Suite("Groups", .timeLimit(.minutes(3)))
struct GroupsTests {
    @Test("A group takes volumes of its types; the views have upstream's keys at each microversion")
    func createAndViews() async throws {
        try await withSystem { api in
            let groupType = try await api.createGroupType()
            let type = try await api.defaultTypeID()
            let group = try await api.createAvailableGroup(groupType: groupType, types: [type], name: "g1")
            let baseKeys: Set<String> = [
                "id", "status", "availability_zone", "created_at", "name", "description", "group_type", "volume_types",
            ]
            #expect(try await api.group(group, version: "3.13")?.keys == baseKeys)
            #expect(try await api.group(group, version: "3.14")?.keys == baseKeys.union(["group_snapshot_id", "source_group_id"]))
            #expect(try await api.group(group, version: "3.38")?.keys == baseKeys.union(["group_snapshot_id", "source_group_id", "replication_status"]))
            #expect(try await api.get("/v3/groups", version: "3.13").json["groups"].array.map(\.keys) == [["id", "name"]])

            let volume = try await api.createGroupVolume(group: group, type: type)
            #expect(try await api.volume(volume, version: "3.13")?["group_id"].string == group)
            #expect(try await api.volumeIDs(query: "?group_id=\(group)") .contains(volume))
            let listed = try await api.get("/v3/groups/\(group)?list_volume=true", version: "3.25").json["group"]["volumes"]
            #expect(listed == JSON([.string(volume)]))

            // Not one of its types, or no such group: refused, nothing made.
            let other = try #require(
                try await api.post("/v3/types", ["volume_type": ["name": "other"]]).json["volume_type"]["id"].string)
            let before = try await api.volumeIDs()
            expectFault(
                try await api.post(
                    "/v3/volumes", ["volume": ["size": 1, "group_id": .string(group), "volume_type": .string(other)]],
                    version: "3.13"), .badRequest, "supported by group")
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1, "group_id": .string(randomID())]], version: "3.13"),
                .notFound)
            #expect(try await api.volumeIDs() == before)
            for body: JSONValue in [
                ["group": ["group_type": .string(groupType)]], ["group": ["volume_types": .array([.string(type)])]],
                ["group": ["group_type": .string(groupType), "volume_types": []]],
                ["group": ["group_type": .string(groupType), "volume_types": .array([.string(type)]), "bogus": 1]],
            ] {
                expectFault(try await api.post("/v3/groups", body, version: "3.13"), .badRequest)
            }
            expectFault(
                try await api.post(
                    "/v3/groups", ["group": ["group_type": .string(randomID()), "volume_types": .array([.string(type)])]],
                    version: "3.13"), .notFound)
            expectFault(try await api.get("/v3/groups", version: "3.12"), .notFound)
            // The groups quota counts them, and a project at its limit gets a 413.
            #expect(
                try await api.get("/v3/os-quota-sets/admin?usage=true").json["quota_set"]["groups"]["in_use"].int == 1)
            #expect(try await api.put("/v3/os-quota-sets/admin", ["quota_set": ["groups": 1]]).status == .ok)
            expectFault(
                try await api.post(
                    "/v3/groups", ["group": ["group_type": .string(groupType), "volume_types": .array([.string(type)])]],
                    version: "3.13"), .contentTooLarge, "GroupLimitExceeded")
        }
    }

    @Test("Update adds and removes volumes with upstream's refusals; delete needs delete-volumes and takes the files")
    func updateAndDelete() async throws {
        try await withSystem { api in
            let groupType = try await api.createGroupType()
            let type = try await api.defaultTypeID()
            let group = try await api.createAvailableGroup(groupType: groupType, types: [type])
            let inside = try await api.createGroupVolume(group: group, type: type)
            let outside = try await api.createAvailableVolume()
            let path = "/v3/groups/\(group)"
            expectFault(try await api.put(path, ["group": [:]], version: "3.13"), .badRequest)
            expectFault(try await api.put(path, ["group": ["remove_volumes": .string(outside)]], version: "3.13"), .badRequest, "not in the group")
            expectFault(try await api.put(path, ["group": ["add_volumes": .string(randomID())]], version: "3.13"), .notFound)
            let update = try await api.put(
                path, ["group": ["name": "renamed", "add_volumes": .string(outside), "remove_volumes": .string(inside)]],
                version: "3.13")
            #expect(update.status == .accepted, "\(update)")
            #expect(try await api.group(group)?["name"].string == "renamed")
            #expect(try await api.volume(outside, version: "3.13")?["group_id"].string == group)
            #expect(try await api.volume(inside, version: "3.13")?["group_id"] == JSON(.null))
            expectFault(try await api.put(path, ["group": ["add_volumes": .string(outside)]], version: "3.13"), .badRequest, "already in group")

            let action = "\(path)/action"
            expectFault(try await api.post(action, ["delete": ["delete-volumes": false]], version: "3.13"), .badRequest, "delete-volumes")
            #expect(try await api.volume(outside)?["status"].string == "available")
            #expect(try await api.post(action, ["delete": ["delete-volumes": true]], version: "3.13").status == .accepted)
            try await api.waitForGone(outside)
            try await api.waitForGroupGone(path)
            #expect(!FileManager.default.fileExists(atPath: api.system.volumeFile(outside)))
            // The volume taken out before stays.
            #expect(try await api.volume(inside)?["status"].string == "available")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(inside)))
        }
    }

    @Test("A group snapshot takes every member; groups made from it and from the group copy the data")
    func groupSnapshotsAndCopies() async throws {
        try await withSystem { api in
            let groupType = try await api.createGroupType()
            let type = try await api.defaultTypeID()
            let group = try await api.createAvailableGroup(groupType: groupType, types: [type])
            let first = try await api.createGroupVolume(group: group, type: type)
            let second = try await api.createGroupVolume(group: group, type: type, size: 2)
            for (volume, text) in [(first, "first"), (second, "second")] {
                let handle = try #require(FileHandle(forWritingAtPath: api.system.volumeFile(volume)))
                try handle.write(contentsOf: Data(text.utf8))
                try handle.close()
            }
            let created = try await api.post(
                "/v3/group_snapshots", ["group_snapshot": ["group_id": .string(group), "name": "gs"]], version: "3.14")
            #expect(created.status == .accepted, "\(created)")
            #expect(created.json["group_snapshot"].keys == ["id", "name", "group_type_id"])
            let groupSnapshot = try #require(created.json["group_snapshot"]["id"].string)
            try await api.waitForGroupSnapshotStatus(groupSnapshot, "available")
            let shown = try #require(try await api.view("/v3/group_snapshots/\(groupSnapshot)", "group_snapshot", version: "3.14"))
            #expect(shown.keys == ["id", "group_id", "group_type_id", "status", "created_at", "name", "description"])
            #expect(try await api.get("/v3/group_snapshots", version: "3.14").json["group_snapshots"].array.map(\.keys) == [["id", "name"]])
            let members = try await api.get("/v3/snapshots/detail", version: "3.14").json["snapshots"].array
                .filter { $0["group_snapshot_id"].string == groupSnapshot }
            #expect(Set(members.compactMap { $0["volume_id"].string }) == [first, second])
            #expect(members.allSatisfy { $0["status"].string == "available" })
            #expect(try await api.get("/v3/os-quota-sets/admin?usage=true").json["quota_set"]["snapshots"]["in_use"].int == 2)
            // Members go with their group and group snapshot, not alone.
            expectFault(try await api.delete("/v3/volumes/\(first)"), .badRequest, "belongs to group")
            expectFault(try await api.delete("/v3/snapshots/\(try #require(members.first?["id"].string))"), .badRequest, "group snapshot")
            // A group with a group snapshot cannot be deleted.
            expectFault(
                try await api.post("/v3/groups/\(group)/action", ["delete": ["delete-volumes": true]], version: "3.13"),
                .badRequest, "snapshots")

            for source: [String: JSONValue] in [["group_snapshot_id": .string(groupSnapshot)], ["source_group_id": .string(group)]] {
                let reply = try await api.post(
                    "/v3/groups/action", ["create-from-src": .object(source.merging(["name": "copy"]) { a, _ in a })], version: "3.14")
                #expect(reply.status == .accepted, "\(reply)")
                let copy = try #require(reply.json["group"]["id"].string)
                try await api.waitForGroupStatus(copy, "available")
                let copied = try await api.get("/v3/volumes/detail?group_id=\(copy)", version: "3.14").json["volumes"].array
                #expect(copied.count == 2)
                var contents: Set<String> = []
                for volume in copied {
                    #expect(volume["status"].string == "available")
                    let id = try #require(volume["id"].string)
                    // The head of the file only: the rest is a sparse GiB of zeros.
                    let handle = try #require(FileHandle(forReadingAtPath: api.system.volumeFile(id)))
                    let head = try handle.read(upToCount: 16) ?? Data()
                    try handle.close()
                    contents.insert(String(decoding: head.prefix(while: { $0 != 0 }), as: UTF8.self))
                }
                #expect(contents == ["first", "second"])
                let view = try #require(try await api.group(copy, version: "3.14"))
                #expect(view["group_snapshot_id"] == JSON(source["group_snapshot_id"] ?? .null))
                #expect(view["source_group_id"] == JSON(source["source_group_id"] ?? .null))
            }
            expectFault(
                try await api.post(
                    "/v3/groups/action",
                    ["create-from-src": ["group_snapshot_id": .string(groupSnapshot), "source_group_id": .string(group)]],
                    version: "3.14"), .badRequest)
            expectFault(try await api.post("/v3/groups/action", ["create-from-src": [:]], version: "3.14"), .badRequest)

            // Reset status (3.19), then delete: the member snapshots and their files go.
            let action = "/v3/group_snapshots/\(groupSnapshot)/action"
            expectFault(try await api.post(action, ["reset_status": ["status": "error"]], version: "3.18"), .badRequest)
            expectFault(try await api.post(action, ["reset_status": ["status": "bogus"]], version: "3.19"), .badRequest)
            #expect(try await api.post(action, ["reset_status": ["status": "error"]], version: "3.19").status == .accepted)
            try await api.waitForGroupSnapshotStatus(groupSnapshot, "error")
            #expect(try await api.delete("/v3/group_snapshots/\(groupSnapshot)", version: "3.14").status == .accepted)
            try await api.waitForGroupGone(
                "/v3/group_snapshots/\(groupSnapshot)")
            for member in members {
                let id = try #require(member["id"].string)
                expectFault(try await api.get("/v3/snapshots/\(id)"), .notFound)
                #expect(!FileManager.default.fileExists(atPath: "\(api.system.volumeDirectory)/snapshot-\(id)"))
            }
            #expect(try await api.get("/v3/os-quota-sets/admin?usage=true").json["quota_set"]["snapshots"]["in_use"].int == 0)
        }
    }

    @Test("reset_status (3.20) sets any status but from deleting; a group left creating or deleting is finished by recovery")
    func resetAndRecovery() async throws {
        try await withSystem { api in
            let groupType = try await api.createGroupType()
            let type = try await api.defaultTypeID()
            let group = try await api.createAvailableGroup(groupType: groupType, types: [type])
            let action = "/v3/groups/\(group)/action"
            expectFault(try await api.post(action, ["reset_status": ["status": "error"]], version: "3.19"), .badRequest)
            for status in ["creating", "available", "error"] {
                #expect(try await api.post(action, ["reset_status": ["status": .string(status)]], version: "3.20").status == .accepted)
                #expect(try await api.group(group)?["status"].string == status)
            }
            expectFault(try await api.post(action, ["reset_status": ["status": "nope"]], version: "3.20"), .badRequest)

            // Left creating on its backend (the cast lost): the volume service's sweep makes it available; left
            // deleting with a member: the sweep deletes the member and the group.
            let stores = (groups: GroupStore(db: api.system.database), volumes: VolumeStore(db: api.system.database))
            #expect(try await api.post(action, ["reset_status": ["status": "creating"]], version: "3.20").status == .accepted)
            let member = try await api.createVolume(extra: ["volume_type": .string(type)])
            try await api.waitForStatus(member, "available")
            let backendGroup = try #require(try await stores.groups.get(group))
            #expect(try await stores.volumes.join(member, group: backendGroup, statusIn: [.available]))
            #expect(try await api.post("/v3/workers/cleanup", [:], version: "3.24").status == .accepted)
            try await api.waitForGroupStatus(group, "available")
            #expect(try await stores.groups.apply(.deleteRequested, to: group) != nil)
            #expect(try await api.post("/v3/workers/cleanup", [:], version: "3.24").status == .accepted)
            try await api.waitForGone(member)
            try await api.waitForGroupGone("/v3/groups/\(group)")
        }
    }
}
