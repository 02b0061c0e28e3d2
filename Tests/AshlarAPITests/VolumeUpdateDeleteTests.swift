import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// `PUT /volumes/{id}` and `DELETE /volumes/{id}`.
@Suite("Volumes: update and delete", .timeLimit(.minutes(2)))
struct VolumeUpdateDeleteTests {
    @Test("Update renames, describes and replaces metadata")
    func update() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(name: "old", extra: ["metadata": ["a": "1"]])
            let reply = try await api.put(
                "/v3/volumes/\(id)",
                ["volume": ["name": "new", "description": "described", "metadata": ["b": "2"]]])
            #expect(reply.status == .ok, "\(reply)")
            let v = reply.json["volume"]
            #expect(v["name"].string == "new")
            #expect(v["description"].string == "described")
            #expect(v["metadata"] == JSON(.object(["b": "2"])))
            #expect(v["status"].string == "available")
            let shown = try #require(try await api.volume(id))
            #expect(shown["name"].string == "new")
            #expect(shown["description"].string == "described")
            #expect(shown["metadata"] == JSON(.object(["b": "2"])))

            // Old names work too; a null description clears it.
            let legacy = try await api.put(
                "/v3/volumes/\(id)", ["volume": ["display_name": "legacy", "description": nil]])
            #expect(legacy.status == .ok)
            #expect(legacy.json["volume"]["name"].string == "legacy")
            #expect(legacy.json["volume"]["description"].isNull)
            #expect(legacy.json["volume"]["metadata"] == JSON(.object(["b": "2"])))
        }
    }

    @Test("An empty update is fine at 3.0 and 400 at 3.53; unknown keys are 400 at 3.53")
    func emptyUpdate() async throws {
        try await withSystem { api in
            let id = try await api.createVolume(name: "keep")
            let old = try await api.put("/v3/volumes/\(id)", ["volume": [:]])
            #expect(old.status == .ok, "\(old)")
            #expect(old.json["volume"]["name"].string == "keep")
            expectFault(try await api.put("/v3/volumes/\(id)", ["volume": [:]], version: "3.53"), .badRequest)
            expectFault(
                try await api.put("/v3/volumes/\(id)", ["volume": ["size": 5]], version: "3.53"), .badRequest, "size")
            #expect(try await api.volume(id)?["name"].string == "keep")
        }
    }

    @Test("Updates with wrong types are 400 and change nothing; unknown volumes are 404")
    func badUpdates() async throws {
        try await withSystem { api in
            let id = try await api.createVolume(name: "keep", extra: ["metadata": ["a": "1"]])
            for body: JSONValue in [
                ["volume": ["name": 5]], ["volume": ["metadata": ["k": 1]]], ["volume": ["metadata": "x"]],
                ["volume": ["description": ["x"]]], ["volume": []], ["volume": nil], [:], [["volume": [:]]],
            ] {
                expectFault(try await api.put("/v3/volumes/\(id)", body), .badRequest)
            }
            expectFault(try await api.put("/v3/volumes/\(id)", raw: "{"), .badRequest)
            let shown = try #require(try await api.volume(id))
            #expect(shown["name"].string == "keep")
            #expect(shown["metadata"] == JSON(.object(["a": "1"])))
            expectFault(try await api.put("/v3/volumes/\(randomID())", ["volume": ["name": "x"]]), .notFound)
        }
    }

    @Test("Delete answers 202, then the volume and its file are gone")
    func delete() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let file = api.system.volumeFile(id)
            #expect(FileManager.default.fileExists(atPath: file))
            let reply = try await api.delete("/v3/volumes/\(id)")
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.text.isEmpty)
            try await api.waitForGone(id)
            #expect(!FileManager.default.fileExists(atPath: file))
            #expect(try await api.volumeIDs().isEmpty)
            expectFault(try await api.delete("/v3/volumes/\(id)"), .notFound)
        }
    }

    @Test("An unknown volume cannot be deleted: 404")
    func deleteUnknown() async throws {
        try await withSystem { api in
            expectFault(try await api.delete("/v3/volumes/\(randomID())"), .notFound)
            expectFault(try await api.delete("/v3/volumes/not-a-uuid"), .notFound)
        }
    }

    @Test("A volume reset to creating cannot be deleted (400); reset to error it can")
    func deleteCreatingRefused() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let reset = try await api.post("/v3/volumes/\(id)/action", ["os-reset_status": ["status": "creating"]])
            #expect(reset.status == .accepted, "\(reset)")
            #expect(try await api.volume(id)?["status"].string == "creating")
            expectFault(try await api.delete("/v3/volumes/\(id)"), .badRequest)
            #expect(try await api.volume(id)?["status"].string == "creating")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(id)))

            let toError = try await api.post("/v3/volumes/\(id)/action", ["os-reset_status": ["status": "error"]])
            #expect(toError.status == .accepted)
            #expect(try await api.delete("/v3/volumes/\(id)").status == .accepted)
            try await api.waitForGone(id)
            #expect(!FileManager.default.fileExists(atPath: api.system.volumeFile(id)))
        }
    }

    @Test("Ten concurrent deletes of one volume: exactly one 202, the rest 400 or 404")
    func concurrentDeletes() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await api.delete("/v3/volumes/\(id)") }
                }
                var all: [Reply] = []
                for try await reply in group { all.append(reply) }
                return all
            }
            #expect(replies.count == 10)
            #expect(replies.filter { $0.status == .accepted }.count == 1, "\(replies)")
            for reply in replies where reply.status != .accepted {
                #expect(reply.status == .badRequest || reply.status == .notFound, "\(reply)")
                expectFaultBody(reply)
            }
            try await api.waitForGone(id)
            #expect(!FileManager.default.fileExists(atPath: api.system.volumeFile(id)))
        }
    }

    @Test("Delete flags: cascade must be a boolean; force needs 3.23")
    func deleteFlags() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            expectFault(try await api.delete("/v3/volumes/\(id)?cascade=maybe"), .badRequest, "cascade")
            expectFault(
                try await api.delete("/v3/volumes/\(id)?force=maybe", version: "3.23"), .badRequest, "force")
            #expect(try await api.volume(id)?["status"].string == "available")
            #expect(try await api.delete("/v3/volumes/\(id)?cascade=false").status == .accepted)
            try await api.waitForGone(id)
        }
    }

    @Test("A volume in maintenance refuses updates, metadata changes and bootable changes with 400")
    func maintenance() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(name: "fixed", extra: ["metadata": ["k": "v"]])
            let reset = try await api.post("/v3/volumes/\(id)/action", ["os-reset_status": ["status": "maintenance"]])
            #expect(reset.status == .accepted, "\(reset)")
            expectFault(
                try await api.put("/v3/volumes/\(id)", ["volume": ["name": "moved"]]), .badRequest, "maintenance")
            expectFault(
                try await api.post("/v3/volumes/\(id)/metadata", ["metadata": ["a": "b"]]), .badRequest, "maintenance")
            expectFault(
                try await api.put("/v3/volumes/\(id)/metadata/k", ["meta": ["k": "w"]]), .badRequest, "maintenance")
            expectFault(try await api.delete("/v3/volumes/\(id)/metadata/k"), .badRequest, "maintenance")
            expectFault(
                try await api.post("/v3/volumes/\(id)/action", ["os-set_bootable": ["bootable": true]]), .badRequest,
                "maintenance")
            expectFault(try await api.delete("/v3/volumes/\(id)"), .badRequest)
            let v = try #require(try await api.volume(id))
            #expect(v["name"].string == "fixed")
            #expect(v["metadata"] == JSON(.object(["k": "v"])))
            #expect(v["bootable"].string == "false")
            #expect(v["status"].string == "maintenance")
        }
    }
}
