import AshlarCore
import AshlarStore
import Foundation
import HTTPTypes
import Testing

/// Moves between backends: `os-migrate_volume`, and `os-retype` with `migration_policy=on-demand`.
@Suite("Migration", .timeLimit(.minutes(2)))
struct MigrationTests {
    static let second = "\(TestSystem.node)@\(TestSystem.secondBackendName)#\(TestSystem.secondBackendName)"

    static func write(_ text: String, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    static func head(_ path: String) throws -> String {
        let handle = try #require(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        let data = try handle.read(upToCount: 16) ?? Data()
        return String(decoding: data.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    static let first = "\(TestSystem.backendHost)#\(TestSystem.backendName)"

    /// Where the scheduler put a new volume (either backend takes it), and the other pool with file paths.
    struct Placement {
        var here: String, there: String, herePath: String, therePath: String
    }

    static func placement(_ api: API, _ volume: String) async throws -> Placement {
        let host = try #require(try await api.volume(volume)?["os-vol-host-attr:host"].string)
        let onFirst = host == first
        return Placement(
            here: host, there: onFirst ? second : first,
            herePath: onFirst ? api.system.volumeFile(volume) : api.system.secondVolumeFile(volume),
            therePath: onFirst ? api.system.secondVolumeFile(volume) : api.system.volumeFile(volume))
    }

    static func migrate(_ api: API, _ volume: String, _ body: [String: JSONValue]) async throws -> Reply {
        try await api.post("/v3/volumes/\(volume)/action", ["os-migrate_volume": .object(body)])
    }

    /// Waits until the volume's migration status is `status`.
    static func waitForMigration(_ api: API, _ volume: String, _ status: String) async throws -> JSON {
        var last = JSON(nil)
        let done = try await poll {
            last = try await api.volume(volume) ?? JSON(nil)
            return last["migration_status"].string == status && last["status"].string != "maintenance"
                && last["status"].string != "retyping"
        }
        #expect(done, "migration of \(volume) never became \(status): \(last)")
        return last
    }

    @Test("os-migrate_volume copies the data to the other backend, moves the volume and removes the source's copy")
    func migrate() async throws {
        try await withSystem(secondBackend: true) { api in
            let volume = try await api.createAvailableVolume(size: 2)
            let place = try await Self.placement(api, volume)
            try Self.write("moved data", to: place.herePath)
            let reply = try await Self.migrate(api, volume, ["host": .string(place.there), "force_host_copy": false])
            #expect(reply.status == .accepted, "\(reply)")
            let after = try await Self.waitForMigration(api, volume, "success")
            #expect(after["status"].string == "available")
            #expect(after["os-vol-host-attr:host"].string == place.there)
            #expect(after["size"].int == 2)
            #expect(try await VolumeStore(db: api.system.database).get(volume)?.adminMetadata.isEmpty == true)
            #expect(try Self.head(place.therePath) == "moved data")
            let size = try FileManager.default.attributesOfItem(atPath: place.therePath)[.size] as? NSNumber
            #expect(size?.int64Value == 2 << 30)
            #expect(try await poll { !FileManager.default.fileExists(atPath: place.herePath) })
            // It is an ordinary volume where it is now: it can be deleted there, and its file goes.
            #expect(try await api.delete("/v3/volumes/\(volume)").status == .accepted)
            try await api.waitForGone(volume)
            #expect(!FileManager.default.fileExists(atPath: place.therePath))
        }
    }

    @Test("Refusals change nothing: same or unknown host, snapshots, a bad body; there is no temporary volume to complete")
    func refusals() async throws {
        try await withSystem(secondBackend: true) { api in
            let volume = try await api.createAvailableVolume()
            let place = try await Self.placement(api, volume)
            expectFault(try await Self.migrate(api, volume, ["host": .string(place.here)]), .badRequest, "different")
            expectFault(try await Self.migrate(api, volume, ["host": "nowhere@x#x"]), .badRequest, "No available service")
            expectFault(try await Self.migrate(api, volume, [:]), .badRequest)
            expectFault(try await Self.migrate(api, volume, ["host": .string(place.there), "bogus": 1]), .badRequest)
            let snapshot = try await api.createAvailableSnapshot(of: volume)
            expectFault(try await Self.migrate(api, volume, ["host": .string(place.there)]), .badRequest, "snapshots")
            #expect(try await api.delete("/v3/snapshots/\(snapshot)").status == .accepted)
            expectFault(
                try await api.post("/v3/volumes/\(volume)/action", ["os-migrate_volume_completion": ["new_volume": .string(randomID())]]),
                .badRequest)
            try await api.waitForSnapshotGone(snapshot)
            let now = try #require(try await api.volume(volume))
            #expect(now["status"].string == "available")
            #expect(now["os-vol-host-attr:host"].string == place.here)
        }
    }

    @Test("A pool that cannot take the volume: it stays where it was, migration_status error, and the user is told")
    func destinationRefuses() async throws {
        try await withSystem(secondBackend: true) { api in
            _ = try #require(
                try await api.post("/v3/types", ["volume_type": ["name": "pinned", "extra_specs": ["volume_backend_name": "file-1"]]])
                    .json["volume_type"]["id"].string)
            let volume = try await api.createAvailableVolume(extra: ["volume_type": "pinned"])
            #expect(try await Self.migrate(api, volume, ["host": .string(Self.second)]).status == .accepted)
            let after = try await Self.waitForMigration(api, volume, "error")
            #expect(after["status"].string == "available")
            #expect(after["os-vol-host-attr:host"].string?.hasPrefix(TestSystem.backendHost) == true)
            let message = try await api.get("/v3/messages?resource_uuid=\(volume)", version: "3.3").json["messages"][0]["user_message"].string
            #expect(message?.contains("CapabilitiesFilter") == true, "\(message ?? "none")")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(volume)))
            #expect(!FileManager.default.fileExists(atPath: api.system.secondVolumeFile(volume)))
        }
    }

    @Test("Retype on demand to a type only the other backend satisfies: the volume moves with its data and takes the type")
    func retypeOnDemand() async throws {
        try await withSystem(secondBackend: true) { api in
            _ = try await api.post("/v3/types", ["volume_type": ["name": "one", "extra_specs": ["volume_backend_name": "file-1"]]])
            _ = try await api.post("/v3/types", ["volume_type": ["name": "two", "extra_specs": ["volume_backend_name": "file-2"]]])
            let volume = try await api.createAvailableVolume(extra: ["volume_type": "one"])
            try Self.write("retyped data", to: api.system.volumeFile(volume))
            let never = try await api.post("/v3/volumes/\(volume)/action", ["os-retype": ["new_type": "two", "migration_policy": "never"]])
            #expect(never.status == .accepted)
            #expect(try await poll {
                try await api.get("/v3/messages?resource_uuid=\(volume)", version: "3.3").json["messages"].array.count == 1
            })
            #expect(try await api.volume(volume)?["volume_type"].string == "one")

            let reply = try await api.post(
                "/v3/volumes/\(volume)/action", ["os-retype": ["new_type": "two", "migration_policy": "on-demand"]])
            #expect(reply.status == .accepted, "\(reply)")
            let after = try await Self.waitForMigration(api, volume, "success")
            #expect(after["volume_type"].string == "two")
            #expect(after["status"].string == "available")
            #expect(after["os-vol-host-attr:host"].string == Self.second)
            #expect(try Self.head(api.system.secondVolumeFile(volume)) == "retyped data")
            #expect(try await poll { !FileManager.default.fileExists(atPath: api.system.volumeFile(volume)) })
            #expect(try await api.get("/v3/os-quota-sets/admin?usage=true").json["quota_set"]["volumes_two"]["in_use"].int == 1)
        }
    }

    @Test("A move left half-done is given up by the source's recovery, and the destination drops its copy")
    func recovery() async throws {
        try await withSystem(secondBackend: true) { api in
            let volume = try await api.createAvailableVolume()
            let place = try await Self.placement(api, volume)
            let store = VolumeStore(db: api.system.database)
            var update = VolumeUpdate()
            update.migrationStatus = .some("migrating")
            update.adminMetadata = ["migration_target": place.there]
            #expect(try await store.apply(.migrationRequested, to: volume, also: update) != nil)
            // The destination had begun copying.
            FileManager.default.createFile(atPath: place.therePath, contents: Data("partial".utf8))
            #expect(try await api.post("/v3/workers/cleanup", [:], version: "3.24").status == .accepted)
            let after = try await Self.waitForMigration(api, volume, "error")
            #expect(after["status"].string == "available")
            #expect(after["os-vol-host-attr:host"].string == place.here)
            #expect(try await poll { !FileManager.default.fileExists(atPath: place.therePath) })
            #expect(FileManager.default.fileExists(atPath: place.herePath))
            // The destination it was headed for is not kept once the move is over.
            #expect(try await store.get(volume)?.adminMetadata[Volume.migrationTargetKey] == nil)
        }
    }
}
