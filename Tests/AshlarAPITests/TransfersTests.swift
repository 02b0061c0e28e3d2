import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// Volume transfers (`/os-volume-transfer`, `/volume-transfers` from 3.55).
@Suite("Volume transfers", .timeLimit(.minutes(2)))
struct TransfersTests {
    static func inUse(_ api: API, _ project: String, _ resource: String) async throws -> Int? {
        try await api.get("/v3/os-quota-sets/\(project)?usage=true").json["quota_set"][resource]["in_use"].int
    }

    @Test("Create, show, list, accept by another project: the volume, its snapshots and their quota move")
    func acceptMovesVolumeSnapshotsAndQuota() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume(size: 2)
            try await api.createAvailableSnapshot(of: volume)
            let created = try await api.post("/v3/os-volume-transfer", ["transfer": ["volume_id": .string(volume), "name": "t"]])
            #expect(created.status == .accepted, "\(created)")
            let transfer = created.json["transfer"]
            #expect(transfer.keys == ["id", "volume_id", "name", "created_at", "links", "auth_key"])
            let id = try #require(transfer["id"].string)
            let key = try #require(transfer["auth_key"].string)
            #expect(key.count == 16)
            #expect(try await api.volume(volume)?["status"].string == "awaiting-transfer")
            #expect(try await api.get("/v3/os-volume-transfer/\(id)").json["transfer"].keys == ["id", "volume_id", "name", "created_at", "links"])
            #expect(try await api.get("/v3/os-volume-transfer").json["transfers"].array.map(\.keys) == [["id", "volume_id", "name", "links"]])
            #expect(
                try await api.get("/v3/volume-transfers/detail", version: "3.57").json["transfers"][0].keys
                    == ["id", "volume_id", "name", "created_at", "links", "no_snapshots", "source_project_id",
                        "destination_project_id", "accepted"])
            #expect(try await Self.inUse(api, "admin", "volumes") == 1)

            expectFault(
                try await api.post("/v3/os-volume-transfer/\(id)/accept", ["accept": ["auth_key": "wrong"]], token: "u2:p2"),
                .badRequest)
            #expect(try await api.volume(volume)?["status"].string == "awaiting-transfer")
            let accepted = try await api.post(
                "/v3/os-volume-transfer/\(id)/accept", ["accept": ["auth_key": .string(key)]], token: "u2:p2")
            #expect(accepted.status == .accepted, "\(accepted)")
            #expect(accepted.json["transfer"].keys == ["id", "volume_id", "name", "links"])
            let moved = try #require(try await api.volume(volume, token: "u2:p2"))
            #expect(moved["status"].string == "available")
            #expect(moved["user_id"].string == "u2")
            #expect(moved["os-vol-tenant-attr:tenant_id"].string == "p2")
            // Usage follows the rows: the donor's goes down, the recipient's up, snapshots included.
            #expect(try await Self.inUse(api, "admin", "volumes") == 0)
            #expect(try await Self.inUse(api, "admin", "snapshots") == 0)
            #expect(try await Self.inUse(api, "p2", "volumes") == 1)
            #expect(try await Self.inUse(api, "p2", "snapshots") == 1)
            #expect(try await Self.inUse(api, "p2", "gigabytes") == 4)
            #expect(try await api.get("/v3/os-volume-transfer").json["transfers"].array.isEmpty)
            expectFault(try await api.get("/v3/os-volume-transfer/\(id)"), .notFound)
            expectFault(
                try await api.post("/v3/os-volume-transfer/\(id)/accept", ["accept": ["auth_key": .string(key)]], token: "u3:p3"),
                .notFound)
        }
    }

    @Test("Delete withdraws it; what cannot be transferred is refused and leaves nothing; over quota is 413")
    func refusals() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume(size: 3)
            let id = try #require(
                try await api.post("/v3/os-volume-transfer", ["transfer": ["volume_id": .string(volume)]]).json["transfer"]["id"].string)
            // Already awaiting a transfer: a second is refused and adds no offer.
            expectFault(try await api.post("/v3/os-volume-transfer", ["transfer": ["volume_id": .string(volume)]]), .badRequest)
            #expect(try await api.get("/v3/os-volume-transfer").json["transfers"].array.count == 1)
            #expect(try await api.delete("/v3/os-volume-transfer/\(id)").status == .accepted)
            #expect(try await api.volume(volume)?["status"].string == "available")
            expectFault(try await api.delete("/v3/os-volume-transfer/\(id)"), .notFound)
            for body: JSONValue in [
                ["transfer": [:]], ["transfer": ["volume_id": "nope"]], ["transfer": ["volume_id": .string(volume), "bogus": 1]],
                ["transfer": ["volume_id": .string(volume), "no_snapshots": true]], ["transfer": "x"],
            ] {
                expectFault(try await api.post("/v3/os-volume-transfer", body), .badRequest)
            }
            expectFault(try await api.post("/v3/os-volume-transfer", ["transfer": ["volume_id": .string(randomID())]]), .notFound)
            #expect(try await api.get("/v3/os-volume-transfer").json["transfers"].array.isEmpty)

            // The recipient's quota admits the volume or the accept is refused, the volume staying on offer.
            #expect(try await api.put("/v3/os-quota-sets/small", ["quota_set": ["gigabytes": 2]]).status == .ok)
            let offer = try await api.post("/v3/os-volume-transfer", ["transfer": ["volume_id": .string(volume)]])
            let offerID = try #require(offer.json["transfer"]["id"].string)
            let key = try #require(offer.json["transfer"]["auth_key"].string)
            expectFault(
                try await api.post("/v3/os-volume-transfer/\(offerID)/accept", ["accept": ["auth_key": .string(key)]], token: "u:small"),
                .contentTooLarge)
            #expect(try await api.volume(volume)?["status"].string == "awaiting-transfer")
            #expect(try await api.volume(volume)?["os-vol-tenant-attr:tenant_id"].string == "admin")
            #expect(try await Self.inUse(api, "small", "gigabytes") == 0)
        }
    }

    @Test("/volume-transfers from 3.55, with no_snapshots: the snapshots stay with the donor")
    func newAPIWithoutSnapshots() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let snapshot = try await api.createAvailableSnapshot(of: volume)
            expectFault(try await api.get("/v3/volume-transfers"), .notFound)
            let created = try await api.post(
                "/v3/volume-transfers", ["transfer": ["volume_id": .string(volume), "no_snapshots": true]], version: "3.55")
            #expect(created.status == .accepted, "\(created)")
            #expect(created.json["transfer"]["no_snapshots"].bool == true)
            let id = try #require(created.json["transfer"]["id"].string)
            let key = try #require(created.json["transfer"]["auth_key"].string)
            let accepted = try await api.post(
                "/v3/volume-transfers/\(id)/accept", ["accept": ["auth_key": .string(key)]], version: "3.55",
                token: "u2:p2")
            #expect(accepted.status == .accepted)
            #expect(try await api.volume(volume, token: "u2:p2")?["os-vol-tenant-attr:tenant_id"].string == "p2")
            #expect(try await api.view("/v3/snapshots/\(snapshot)", "snapshot")?["os-extended-snapshot-attributes:project_id"].string == "admin")
            #expect(try await Self.inUse(api, "admin", "snapshots") == 1)
            #expect(try await Self.inUse(api, "p2", "volumes") == 1)
        }
    }
}
