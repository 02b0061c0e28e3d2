import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// `POST /volumes`.
@Suite("Volumes: create", .timeLimit(.minutes(2)))
struct VolumeCreateTests {
    @Test("Create answers 202 with status creating, then the volume becomes available with its file")
    func createThenAvailable() async throws {
        try await withSystem { api in
            let reply = try await api.post(
                "/v3/volumes",
                ["volume": ["size": 1, "name": "first", "description": "a test", "metadata": ["k": "v"]]])
            #expect(reply.status == .accepted)
            let volume = reply.json["volume"]
            #expect(volume["status"].string == "creating")
            #expect(volume["size"].int == 1)
            #expect(volume["name"].string == "first")
            #expect(volume["description"].string == "a test")
            #expect(volume["metadata"] == JSON(.object(["k": "v"])))
            #expect(volume["volume_type"].string == "__DEFAULT__")
            #expect(volume["availability_zone"].string == "nova")
            #expect(volume["bootable"].string == "false")
            #expect(volume["multiattach"].bool == false)
            #expect(volume["encrypted"].bool == false)
            #expect(volume["attachments"].array.isEmpty)
            // The tenant attribute comes with show and detail, not with the answer to a create.
            #expect(!volume["os-vol-tenant-attr:tenant_id"].exists)
            let id = try #require(volume["id"].string)
            #expect(UUID(uuidString: id) != nil)

            try await api.waitForStatus(id, "available")
            let shown = try #require(try await api.volume(id))
            #expect(shown["os-vol-host-attr:host"].string?.hasPrefix(TestSystem.backendHost + "#") == true)
            let file = api.system.volumeFile(id)
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.size] as? NSNumber)?.int64Value == 1 << 30)
        }
    }

    @Test("A size given as a string of digits is accepted")
    func sizeAsDigitString() async throws {
        try await withSystem { api in
            let reply = try await api.post("/v3/volumes", ["volume": ["size": "2"]])
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.json["volume"]["size"].int == 2)
            let id = try #require(reply.json["volume"]["id"].string)
            try await api.waitForStatus(id, "available")
            #expect(try await api.volume(id)?["size"].int == 2)
        }
    }

    /// Sizes Cinder's schema refuses; `nil` leaves the key out.
    static let badSizes: [JSONValue?] = [
        .int(0), .int(-1), .string("abc"), .double(1.5), .bool(true), .null, nil, .string(""), .string("1.5"),
        .string("-1"), .array([.int(1)]), .object(["size": 1]), .string("١"),
    ]

    @Test("Bad sizes are 400 naming size", arguments: badSizes)
    func badSize(_ size: JSONValue?) async throws {
        try await withSystem { api in
            var fields: [String: JSONValue] = ["name": "bad"]
            if let size { fields["size"] = size }
            let reply = try await api.post("/v3/volumes", ["volume": .object(fields)])
            expectFault(reply, .badRequest, "size")
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("A body that is not JSON is 400")
    func notJSON() async throws {
        try await withSystem { api in
            for raw in ["{not json", "size=1", "{\"volume\": {\"size\": 1}", "\u{FEFF}"] {
                let reply = try await api.post("/v3/volumes", raw: raw)
                expectFault(reply, .badRequest)
            }
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("A body without a volume object is 400")
    func noVolumeKey() async throws {
        try await withSystem { api in
            expectFault(try await api.post("/v3/volumes", ["volumes": ["size": 1]]), .badRequest, "volume")
            expectFault(try await api.post("/v3/volumes", ["volume": [1]]), .badRequest, "volume")
            expectFault(try await api.post("/v3/volumes", ["volume": "1"]), .badRequest, "volume")
            expectFault(try await api.post("/v3/volumes", ["volume": nil]), .badRequest, "volume")
            expectFault(try await api.post("/v3/volumes", [["volume": ["size": 1]]]), .badRequest)
            expectFault(try await api.post("/v3/volumes"), .badRequest)
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("Unknown keys are accepted at 3.0 and refused at 3.53")
    func unknownKeysByVersion() async throws {
        try await withSystem { api in
            let old = try await api.post("/v3/volumes", ["volume": ["size": 1, "flavor": "mint"]])
            #expect(old.status == .accepted, "\(old)")
            let strict = try await api.post(
                "/v3/volumes", ["volume": ["size": 1, "flavor": "mint"]], version: "3.53")
            expectFault(strict, .badRequest, "flavor")
            let strictOK = try await api.post("/v3/volumes", ["volume": ["size": 1, "name": "ok"]], version: "3.53")
            #expect(strictOK.status == .accepted, "\(strictOK)")
            #expect(try await api.volumeIDs().count == 2)
        }
    }

    @Test("A body over osapi_max_request_body_size is 413 overLimit")
    func bodyTooLarge() async throws {
        try await withSystem { api in
            #expect(api.system.config.osapiMaxRequestBodySize == 114_688)
            let filler = String(repeating: "x", count: 114_688)
            let reply = try await api.post(
                "/v3/volumes", raw: "{\"volume\": {\"size\": 1, \"description\": \"\(filler)\"}}")
            expectFault(reply, .contentTooLarge)
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("An unknown volume type is 404")
    func unknownType() async throws {
        try await withSystem { api in
            let reply = try await api.post("/v3/volumes", ["volume": ["size": 1, "volume_type": "no-such-type"]])
            expectFault(reply, .notFound, "no-such-type")
            let byID = try await api.post("/v3/volumes", ["volume": ["size": 1, "volume_type": .string(randomID())]])
            expectFault(byID, .notFound)
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("An invalid availability zone is 400; the backend's zone works")
    func availabilityZone() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let bad = try await api.post("/v3/volumes", ["volume": ["size": 1, "availability_zone": "mars"]])
            expectFault(bad, .badRequest, "mars")
            #expect(try await api.volumeIDs().isEmpty)
            let good = try await api.createAvailableVolume(extra: ["availability_zone": "nova"])
            #expect(try await api.volume(good)?["availability_zone"].string == "nova")
        }
    }

    @Test("multiattach in the body is 400", arguments: [JSONValue.bool(true), .bool(false)])
    func multiattachRefused(_ value: JSONValue) async throws {
        try await withSystem { api in
            let reply = try await api.post("/v3/volumes", ["volume": ["size": 1, "multiattach": value]])
            expectFault(reply, .badRequest, "multiattach")
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test(
        "Bad metadata is 400",
        arguments: [
            JSONValue.object(["k": 1]), .object(["k": .bool(true)]), .object(["k": .null]), .object(["k": ["x"]]),
            .string("k=v"), .array(["k"]), .object(["": "v"]),
            .object(["k": .string(String(repeating: "v", count: 256))]),
            .object([String(repeating: "k", count: 256): "v"]),
        ])
    func badMetadata(_ metadata: JSONValue) async throws {
        try await withSystem { api in
            let reply = try await api.post("/v3/volumes", ["volume": ["size": 1, "metadata": metadata]])
            expectFault(reply, .badRequest, "metadata")
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("Names and descriptions must be strings of at most 255 characters")
    func badNames() async throws {
        try await withSystem { api in
            for (key, value): (String, JSONValue) in [
                ("name", 5), ("name", ["a"]), ("name", .string(String(repeating: "n", count: 256))),
                ("description", .bool(false)), ("display_name", .double(1.5)),
                ("name", .string(String(repeating: "💾", count: 256))),
            ] {
                let reply = try await api.post("/v3/volumes", ["volume": ["size": 1, key: value]])
                expectFault(reply, .badRequest, key)
            }
            #expect(try await api.volumeIDs().isEmpty)
            // 255 characters of unicode is fine.
            let long = String(repeating: "ü", count: 255)
            let id = try await api.createVolume(name: long)
            #expect(try await api.volume(id)?["name"].string == long)
        }
    }

    @Test("Cloning, snapshots, images and backups are refused without creating anything")
    func sourcesNotAvailable() async throws {
        try await withSystem { api in
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1, "snapshot_id": .string(randomID())]]),
                .notFound)
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1, "source_volid": .string(randomID())]]),
                .notFound)
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1, "snapshot_id": "not-a-uuid"]]), .badRequest)
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1, "imageRef": .string(randomID())]]),
                .badRequest, "image")
            #expect(try await api.volumeIDs().isEmpty)
        }
    }

    @Test("A size over per_volume_gigabytes is 413 overLimit")
    func perVolumeLimit() async throws {
        try await withSystem(configure: { $0.quotas.perVolumeSizeLimit = 5 }) { api in
            let reply = try await api.post("/v3/volumes", ["volume": ["size": 6]])
            expectFault(reply, .contentTooLarge, "6")
            #expect(try await api.volumeIDs().isEmpty)
            _ = try await api.createVolume(size: 5)
        }
    }

    @Test("Ten concurrent creates all become available, each with its own file")
    func concurrentCreates() async throws {
        try await withSystem { api in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<10 {
                    group.addTask { try await api.createVolume(name: "c\(i)") }
                }
                var all: [String] = []
                for try await id in group { all.append(id) }
                return all
            }
            #expect(Set(ids).count == 10)
            for id in ids {
                try await api.waitForStatus(id, "available")
                #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(id)))
            }
            #expect(try await api.volumeIDs() == Set(ids))
        }
    }

    @Test("Types are found by id or name; a private type is usable by an admin")
    func typeByIDOrName() async throws {
        try await withSystem { api in
            let reply = try await api.post(
                "/v3/types", ["volume_type": ["name": "hidden", "os-volume-type-access:is_public": false]])
            let typeID = try #require(reply.json["volume_type"]["id"].string)
            let byName = try await api.createAvailableVolume(extra: ["volume_type": "hidden"])
            let byID = try await api.createAvailableVolume(extra: ["volume_type": .string(typeID)])
            #expect(try await api.volume(byName)?["volume_type"].string == "hidden")
            #expect(try await api.volume(byID, version: "3.63")?["volume_type_id"].string == typeID)
        }
    }
}
