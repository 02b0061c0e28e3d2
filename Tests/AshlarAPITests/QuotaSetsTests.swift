import AshlarCore
import AshlarStore
import Foundation
import HTTPTypes
import SQLKit
import Testing

@testable import AshlarAPI

/// The resources a fresh system has: the global ones and those of its one type, `__DEFAULT__`.
private let freshResources: Set<String> = [
    "volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "per_volume_gigabytes", "groups",
    "volumes___DEFAULT__", "gigabytes___DEFAULT__", "snapshots___DEFAULT__",
]

/// A snapshot row straight in the database: quota counts rows, whoever made them.
private func insertSnapshot(_ api: API, project: String, size: Int) async throws {
    let type = try #require(try await api.system.environment.types.get(name: "__DEFAULT__"))
    try await api.system.database.write.insert(into: "snapshots")
        .columns(
            "id", "project_id", "user_id", "volume_id", "status", "progress", "volume_size", "volume_type_id",
            "consumes_quota", "metadata", "created_at"
        )
        .values(
            SQLBind(randomID()), SQLBind(project), SQLBind("u"), SQLBind(randomID()), SQLBind("available"),
            SQLBind("100%"), SQLBind(size), SQLBind(type.id), SQLBind(true), SQLBind("{}"),
            SQLBind(Date().timeIntervalSince1970)
        )
        .run()
}

/// A resource's value in a quota set shown with `usage=true`.
private func usage(limit: Int, inUse: Int) -> JSON {
    JSON(["limit": .int(Int64(limit)), "in_use": .int(Int64(inUse)), "reserved": 0])
}

/// `/os-quota-sets` and `/os-quota-class-sets`, and `/limits` as quotas change.
@Suite("Quota sets", .timeLimit(.minutes(2)))
struct QuotaSetsTests {
    @Test("show gives every resource's limit and the project id, with and without the project in the path")
    func showShape() async throws {
        try await withSystem(configure: { $0.quotas.volumes = 5 }) { api in
            for path in ["/v3/os-quota-sets/p1", "/v3/p1/os-quota-sets/p1"] {
                let reply = try await api.get(path, token: "u:p1")
                #expect(reply.status == .ok, "\(reply)")
                let set = reply.json["quota_set"]
                #expect(set.keys == freshResources.union(["id"]))
                #expect(set["id"].string == "p1")
                #expect(set["volumes"].int == 5)
                #expect(set["gigabytes"].int == 1000)
                #expect(set["snapshots"].int == 10)
                #expect(set["per_volume_gigabytes"].int == -1)
                #expect(set["groups"].int == 10)
                #expect(set["volumes___DEFAULT__"].int == -1)
            }
            // A new type brings its three resources.
            let created = try await api.post("/v3/types", ["volume_type": ["name": "gold"]])
            #expect(created.status == .ok)
            let keys = try await api.get("/v3/os-quota-sets/p1").json["quota_set"].keys
            #expect(keys.isSuperset(of: ["volumes_gold", "gigabytes_gold", "snapshots_gold"]))
        }
    }

    @Test("usage=true gives limit, in_use and reserved for each resource")
    func showWithUsage() async throws {
        try await withSystem { api in
            try await api.createVolume(size: 1, token: "u:p1")
            try await api.createVolume(size: 3, token: "u:p1")
            try await api.createVolume(size: 9, token: "u:p2")
            try await insertSnapshot(api, project: "p1", size: 3)
            let reply = try await api.get("/v3/os-quota-sets/p1?usage=true", token: "u:p1")
            #expect(reply.status == .ok, "\(reply)")
            let set = reply.json["quota_set"]
            #expect(set.keys == freshResources.union(["id"]))
            #expect(set["id"].string == "p1")
            #expect(set["volumes"] == usage(limit: 10, inUse: 2))
            #expect(set["gigabytes"] == usage(limit: 1000, inUse: 7))
            #expect(set["snapshots"] == usage(limit: 10, inUse: 1))
            #expect(set["volumes___DEFAULT__"] == usage(limit: -1, inUse: 2))
            #expect(set["backups"]["in_use"].int == 0)
            #expect(set["per_volume_gigabytes"]["in_use"].int == 0)

            let plain = try await api.get("/v3/os-quota-sets/p1?usage=false", token: "u:p1")
            #expect(plain.json["quota_set"]["volumes"].int == 10)
            expectFault(try await api.get("/v3/os-quota-sets/p1?usage=maybe"), .badRequest, "is not a boolean")
        }
    }

    @Test("defaults are the configuration's, under the project's id")
    func defaults() async throws {
        try await withSystem(configure: { $0.quotas.gigabytes = 77 }) { api in
            _ = try await api.put("/v3/os-quota-sets/p1", ["quota_set": ["gigabytes": 5]])
            let reply = try await api.get("/v3/os-quota-sets/p1/defaults", token: "u:p1")
            #expect(reply.status == .ok, "\(reply)")
            let set = reply.json["quota_set"]
            #expect(set.keys == freshResources.union(["id"]))
            #expect(set["id"].string == "p1")
            #expect(set["gigabytes"].int == 77)
            #expect(set["volumes"].int == 10)
        }
    }

    @Test("update sets the given limits and returns the whole quota set")
    func update() async throws {
        try await withSystem { api in
            let reply = try await api.put(
                "/v3/os-quota-sets/p1",
                ["quota_set": ["volumes": 3, "gigabytes": "50", "volumes___DEFAULT__": 2, "id": "ignored"]])
            #expect(reply.status == .ok, "\(reply)")
            let set = reply.json["quota_set"]
            #expect(set.keys == freshResources)
            #expect(set["volumes"].int == 3)
            #expect(set["gigabytes"].int == 50)
            #expect(set["volumes___DEFAULT__"].int == 2)
            #expect(set["snapshots"].int == 10)

            let shown = try await api.get("/v3/os-quota-sets/p1", token: "u:p1").json["quota_set"]
            #expect(shown["volumes"].int == 3)
            #expect(shown["gigabytes"].int == 50)
            // Another project keeps the defaults.
            #expect(try await api.get("/v3/os-quota-sets/p2").json["quota_set"]["volumes"].int == 10)
            // A second update changes only what it names.
            _ = try await api.put("/v3/os-quota-sets/p1", ["quota_set": ["volumes": -1]])
            let again = try await api.get("/v3/os-quota-sets/p1").json["quota_set"]
            #expect(again["volumes"].int == -1)
            #expect(again["gigabytes"].int == 50)
        }
    }

    @Test("update refuses unknown keys, non-integers, values below -1 and malformed bodies")
    func updateValidation() async throws {
        try await withSystem { api in
            let path = "/v3/os-quota-sets/p1"
            expectFault(
                try await api.put(path, ["quota_set": ["volumes": 1, "bogus": 1, "volumes_nosuchtype": 1]]),
                .badRequest, "Bad key(s) in quota set: bogus, volumes_nosuchtype")
            expectFault(
                try await api.put(path, ["quota_set": ["volumes": "many"]]), .badRequest, "volumes must be an integer")
            expectFault(
                try await api.put(path, ["quota_set": ["volumes": .double(1.5)]]), .badRequest, "must be an integer")
            expectFault(try await api.put(path, ["quota_set": ["volumes": true]]), .badRequest, "must be an integer")
            expectFault(
                try await api.put(path, ["quota_set": ["gigabytes": -2]]), .badRequest, "gigabytes must be >= -1")
            expectFault(
                try await api.put(path, ["quota_set": ["gigabytes": 3_000_000_000]]), .badRequest,
                "gigabytes must be <= 2147483647")
            expectFault(try await api.put(path, ["quota_set": [:]]), .badRequest, "does not have enough properties")
            expectFault(try await api.put(path, ["volumes": 1]), .badRequest, "'quota_set' is a required property")
            expectFault(
                try await api.put(path, ["quota_set": ["volumes": 1], "extra": 1]), .badRequest,
                "Additional properties are not allowed")
            // Nothing was changed by the refused requests.
            #expect(try await api.get(path).json["quota_set"]["volumes"].int == 10)
        }
    }

    @Test("a limit may not go below what is in use, except -1 and per_volume_gigabytes")
    func updateBelowUsage() async throws {
        try await withSystem { api in
            try await api.createVolume(size: 4, token: "u:p1")
            try await api.createVolume(size: 4, token: "u:p1")
            let path = "/v3/os-quota-sets/p1"
            expectFault(
                try await api.put(path, ["quota_set": ["volumes": 1]]), .badRequest,
                "Quota volumes limit must be equal or greater than existing resources. Current usage is 2 and the requested limit is 1."
            )
            expectFault(
                try await api.put(path, ["quota_set": ["gigabytes": 7]]), .badRequest, "Current usage is 8")
            expectFault(
                try await api.put(path, ["quota_set": ["gigabytes___DEFAULT__": 5]]), .badRequest,
                "Quota gigabytes___DEFAULT__ limit")
            #expect(try await api.put(path, ["quota_set": ["volumes": 2, "gigabytes": 8]]).status == .ok)
            #expect(try await api.put(path, ["quota_set": ["per_volume_gigabytes": 1]]).status == .ok)
            #expect(try await api.put(path, ["quota_set": ["volumes___DEFAULT__": -1]]).status == .ok)
            // Another project's usage does not count.
            #expect(try await api.put("/v3/os-quota-sets/p2", ["quota_set": ["volumes": 0]]).status == .ok)
        }
    }

    @Test("delete returns the project to the defaults")
    func deleteResets() async throws {
        try await withSystem { api in
            _ = try await api.put("/v3/os-quota-sets/p1", ["quota_set": ["volumes": 3, "snapshots": 2]])
            #expect(try await api.get("/v3/os-quota-sets/p1").json["quota_set"]["volumes"].int == 3)
            let reply = try await api.delete("/v3/os-quota-sets/p1")
            #expect(reply.status == .ok, "\(reply)")
            #expect(reply.text.isEmpty)
            let set = try await api.get("/v3/os-quota-sets/p1").json["quota_set"]
            #expect(set["volumes"].int == 10)
            #expect(set["snapshots"].int == 10)
        }
    }

    @Test("quota class sets: show and update; the default class is every project's default")
    func classSets() async throws {
        try await withSystem { api in
            let shown = try await api.get("/v3/os-quota-class-sets/default")
            #expect(shown.status == .ok, "\(shown)")
            let set = shown.json["quota_class_set"]
            #expect(set.keys == freshResources.union(["id"]))
            #expect(set["id"].string == "default")
            #expect(set["volumes"].int == 10)

            let updated = try await api.put(
                "/v3/os-quota-class-sets/default", ["quota_class_set": ["volumes": 7, "gigabytes___DEFAULT__": "40"]])
            #expect(updated.status == .ok, "\(updated)")
            #expect(updated.json["quota_class_set"]["volumes"].int == 7)
            #expect(updated.json["quota_class_set"]["gigabytes___DEFAULT__"].int == 40)
            #expect(try await api.get("/v3/os-quota-sets/p9/defaults").json["quota_set"]["volumes"].int == 7)
            #expect(try await api.get("/v3/os-quota-sets/p9").json["quota_set"]["gigabytes___DEFAULT__"].int == 40)
            // A project's own limit still wins.
            _ = try await api.put("/v3/os-quota-sets/p9", ["quota_set": ["volumes": 2]])
            #expect(try await api.get("/v3/os-quota-sets/p9").json["quota_set"]["volumes"].int == 2)

            // Another class starts from the defaults.
            _ = try await api.put("/v3/os-quota-class-sets/gold", ["quota_class_set": ["snapshots": 99]])
            let gold = try await api.get("/v3/os-quota-class-sets/gold").json["quota_class_set"]
            #expect(gold["id"].string == "gold")
            #expect(gold["snapshots"].int == 99)
            #expect(gold["volumes"].int == 7)

            expectFault(
                try await api.put("/v3/os-quota-class-sets/default", ["quota_class_set": ["bogus": 1]]), .badRequest,
                "Bad key(s) in quota class set: bogus")
            expectFault(
                try await api.put("/v3/os-quota-class-sets/default", ["quota_class_set": ["volumes": "-1"]]),
                .badRequest)
            expectFault(
                try await api.put("/v3/os-quota-class-sets/default", ["quota_class_set": ["volumes": -2]]),
                .badRequest, "less than the minimum of -1")
            expectFault(try await api.put("/v3/os-quota-class-sets/default", ["volumes": 1]), .badRequest)
            #expect(try await api.get("/v3/os-quota-class-sets/default").json["quota_class_set"]["volumes"].int == 7)
        }
    }

    @Test("/limits reports the quotas in force and usage counted from volumes and snapshots")
    func limitsFollowQuotas() async throws {
        try await withSystem { api in
            _ = try await api.put(
                "/v3/os-quota-sets/p1", ["quota_set": ["volumes": 4, "gigabytes": 20, "snapshots": 3]])
            try await api.createVolume(size: 2, token: "u:p1")
            try await insertSnapshot(api, project: "p1", size: 2)
            let absolute = try await api.get("/v3/limits", token: "u:p1").json["limits"]["absolute"]
            #expect(absolute["maxTotalVolumes"].int == 4)
            #expect(absolute["maxTotalVolumeGigabytes"].int == 20)
            #expect(absolute["maxTotalSnapshots"].int == 3)
            #expect(absolute["maxTotalBackups"].int == 10)
            #expect(absolute["totalVolumesUsed"].int == 1)
            #expect(absolute["totalGigabytesUsed"].int == 4)
            #expect(absolute["totalSnapshotsUsed"].int == 1)
            #expect(absolute["totalBackupsUsed"].int == 0)
            let other = try await api.get("/v3/limits", token: "u:p2").json["limits"]["absolute"]
            #expect(other["maxTotalVolumes"].int == 10)
            #expect(other["totalSnapshotsUsed"].int == 0)
        }
    }

    @Test("no_snapshot_gb_quota leaves snapshots out of the gigabytes in use")
    func noSnapshotGigabytes() async throws {
        try await withSystem(configure: { $0.quotas.noSnapshotGigabytes = true }) { api in
            try await api.createVolume(size: 2, token: "u:p1")
            try await insertSnapshot(api, project: "p1", size: 2)
            let set = try await api.get("/v3/os-quota-sets/p1?usage=1").json["quota_set"]
            #expect(set["gigabytes"]["in_use"].int == 2)
            #expect(set["snapshots"]["in_use"].int == 1)
        }
    }

    @Test("only admins change quotas; others may only see their own project's")
    func policy() throws {
        let member = CallerContext(requestID: "r", userID: "u", projectID: "p1", isAdmin: false)
        let admin = CallerContext(requestID: "r", userID: "a", projectID: "admin", isAdmin: true)
        #expect(throws: Never.self) { try QuotaSetsController.authorize(.show, member, project: "p1") }
        #expect(throws: Never.self) { try QuotaSetsController.authorize(.show, admin, project: "p1") }
        #expect(throws: Never.self) { try QuotaSetsController.authorize(.update, admin, project: "p1") }
        for (policy, project) in [(QuotaSetsController.Policy.show, "p2"), (.update, "p1"), (.delete, "p1")] {
            do {
                try QuotaSetsController.authorize(policy, member, project: project)
                Issue.record("\(policy) of \(project) was allowed")
            } catch {
                #expect(error.code == .forbidden)
                #expect(error.message == "Policy doesn't allow \(policy.rawValue) to be performed.")
            }
        }
    }
}
