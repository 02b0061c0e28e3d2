import AshlarCore
import AshlarStore
import Foundation
import HTTPTypes
import Testing

/// `os-retype` on the same backend.
@Suite("Retype", .timeLimit(.minutes(2)))
struct RetypeTests {
    static func makeType(_ api: API, _ name: String, specs: [String: JSONValue] = [:]) async throws -> String {
        try #require(
            try await api.post("/v3/types", ["volume_type": ["name": .string(name), "extra_specs": .object(specs)]])
                .json["volume_type"]["id"].string)
    }

    static func retype(_ api: API, _ volume: String, _ body: [String: JSONValue]) async throws -> Reply {
        try await api.post("/v3/volumes/\(volume)/action", ["os-retype": .object(body)])
    }

    static func inUse(_ api: API, _ resource: String) async throws -> Int? {
        try await api.get("/v3/os-quota-sets/admin?usage=true").json["quota_set"][resource]["in_use"].int
    }

    @Test("To a type its backend satisfies: the type changes, host and data stay, per-type usage moves")
    func sameBackend() async throws {
        try await withSystem { api in
            _ = try await Self.makeType(api, "one")
            _ = try await Self.makeType(api, "two")
            let volume = try await api.createAvailableVolume(size: 2, extra: ["volume_type": "one"])
            let before = try #require(try await api.volume(volume))
            let reply = try await Self.retype(api, volume, ["new_type": "two", "migration_policy": "never"])
            #expect(reply.status == .accepted, "\(reply)")
            #expect(try await poll { try await api.volume(volume)?["volume_type"].string == "two" })
            let after = try #require(try await api.volume(volume))
            #expect(after["status"].string == "available")
            #expect(after["os-vol-host-attr:host"] == before["os-vol-host-attr:host"])
            #expect(after["migration_status"] == JSON(.null))
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(volume)))
            #expect(try await Self.inUse(api, "volumes_one") == 0)
            #expect(try await Self.inUse(api, "volumes_two") == 1)
            #expect(try await Self.inUse(api, "gigabytes_two") == 2)
            #expect(try await Self.inUse(api, "volumes") == 1)
        }
    }

    @Test("Refusals change nothing: same type, unknown type or policy, wrong status, the new type's quota")
    func refusals() async throws {
        try await withSystem { api in
            _ = try await Self.makeType(api, "one")
            _ = try await Self.makeType(api, "two")
            let volume = try await api.createAvailableVolume(extra: ["volume_type": "one"])
            expectFault(try await Self.retype(api, volume, ["new_type": "one"]), .badRequest, "different")
            expectFault(try await Self.retype(api, volume, ["new_type": "nope"]), .notFound)
            expectFault(try await Self.retype(api, volume, [:]), .badRequest)
            expectFault(try await Self.retype(api, volume, ["new_type": "two", "migration_policy": "sometimes"]), .badRequest)
            expectFault(try await Self.retype(api, volume, ["new_type": "two", "bogus": 1]), .badRequest)
            #expect(try await api.put("/v3/os-quota-sets/admin", ["quota_set": ["volumes_two": 0]]).status == .ok)
            expectFault(try await Self.retype(api, volume, ["new_type": "two"]), .contentTooLarge, "volumes_two")
            #expect(
                try await api.post("/v3/volumes/\(volume)/action", ["os-reset_status": ["status": "error"]]).status
                    == .accepted)
            expectFault(try await Self.retype(api, volume, ["new_type": "two"]), .badRequest, "available or in-use")
            let now = try #require(try await api.volume(volume))
            #expect(now["volume_type"].string == "one")
            #expect(now["status"].string == "error")
        }
    }

    @Test("A type the backend does not satisfy: the volume keeps its type and the user is told which filter refused")
    func unsatisfiable() async throws {
        try await withSystem { api in
            _ = try await Self.makeType(api, "one")
            _ = try await Self.makeType(api, "elsewhere", specs: ["volume_backend_name": "nowhere"])
            let volume = try await api.createAvailableVolume(extra: ["volume_type": "one"])
            #expect(try await Self.retype(api, volume, ["new_type": "elsewhere"]).status == .accepted)
            var message = ""
            #expect(try await poll {
                message = try await api.get("/v3/messages?resource_uuid=\(volume)", version: "3.3").json["messages"][0]["user_message"].string ?? ""
                return !message.isEmpty
            })
            #expect(message.contains("retype volume") && message.contains("CapabilitiesFilter"), "\(message)")
            let now = try #require(try await api.volume(volume))
            #expect(now["volume_type"].string == "one")
            #expect(now["status"].string == "available")
        }
    }

    @Test("A volume left retyping (the message lost) is returned to its status by recovery, its type unchanged")
    func recovery() async throws {
        try await withSystem { api in
            let volume = try await api.createAvailableVolume()
            let store = VolumeStore(db: api.system.database)
            #expect(try await store.apply(.retypeRequested, to: volume) != nil)
            #expect(try await api.volume(volume)?["status"].string == "retyping")
            #expect(try await api.post("/v3/workers/cleanup", [:], version: "3.24").status == .accepted)
            try await api.waitForStatus(volume, "available")
            #expect(try await api.volume(volume)?["volume_type"].string == VolumeType.defaultName)
        }
    }
}
