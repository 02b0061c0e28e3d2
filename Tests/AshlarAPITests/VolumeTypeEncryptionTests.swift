import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// `/types/{id}/encryption` and `/volumes/{id}/encryption`.
@Suite("Volume type encryption", .timeLimit(.minutes(2)))
struct VolumeTypeEncryptionTests {
    @Test("Create, show, show one key, update, delete; an encrypted type takes no volume without a key manager")
    func lifecycle() async throws {
        try await withSystem { api in
            let type = try #require(
                try await api.post("/v3/types", ["volume_type": ["name": "secret"]]).json["volume_type"]["id"].string)
            let path = "/v3/types/\(type)/encryption"
            #expect(try await api.get(path).json == JSON([:]))
            for body: JSONValue in [
                ["encryption": ["cipher": "aes-xts-plain64"]], ["encryption": ["provider": "p", "control_location": "middle"]],
                ["encryption": ["provider": "p", "key_size": -1]], ["encryption": ["provider": "p", "bogus": 1]],
            ] {
                expectFault(try await api.post(path, body), .badRequest)
            }
            let created = try await api.post(
                path,
                ["encryption": ["provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256, "control_location": "front-end"]])
            #expect(created.status == .ok, "\(created)")
            let encryption = created.json["encryption"]
            #expect(encryption.keys == ["provider", "cipher", "key_size", "control_location", "volume_type_id", "encryption_id"])
            let encryptionID = try #require(encryption["encryption_id"].string)
            expectFault(try await api.post(path, ["encryption": ["provider": "luks"]]), .badRequest, "already exists")
            let shown = try await api.get(path).json
            #expect(shown.keys == [
                "volume_type_id", "encryption_id", "provider", "cipher", "key_size", "control_location", "deleted",
                "created_at", "updated_at", "deleted_at",
            ])
            #expect(shown["key_size"].int == 256)
            #expect(try await api.get("\(path)/cipher").json == JSON(["cipher": "aes-xts-plain64"]))
            expectFault(try await api.get("\(path)/nothing"), .notFound)

            let updated = try await api.put(
                "\(path)/\(encryptionID)", ["encryption": ["provider": "other", "key_size": 128, "control_location": "back-end"]])
            #expect(updated.status == .ok, "\(updated)")
            #expect(updated.json["encryption"].keys == ["provider", "key_size", "control_location"])
            let after = try await api.get(path).json
            #expect(after["provider"].string == "other")
            #expect(after["control_location"].string == "back-end")
            #expect(after["cipher"].string == "aes-xts-plain64")

            // No key manager: a volume of the type is refused and nothing is made.
            let before = try await api.volumeIDs()
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 1, "volume_type": .string(type)]]), .badRequest,
                "key manager")
            #expect(try await api.volumeIDs() == before)

            // A plain volume's encryption metadata: no key, no type encryption.
            let plain = try await api.createAvailableVolume()
            #expect(try await api.get("/v3/volumes/\(plain)/encryption").json == JSON(["encryption_key_id": .null]))
            expectFault(try await api.get("/v3/volumes/\(plain)/encryption/cipher"), .notFound)
            expectFault(try await api.get("/v3/volumes/\(randomID())/encryption"), .notFound)

            #expect(try await api.delete("\(path)/\(encryptionID)").status == .accepted)
            #expect(try await api.get(path).json == JSON([:]))
            expectFault(try await api.delete("\(path)/\(encryptionID)"), .notFound)
            expectFault(try await api.put("\(path)/\(encryptionID)", ["encryption": ["provider": "x"]]), .notFound)
            expectFault(try await api.get("/v3/types/\(randomID())/encryption"), .notFound)
        }
    }

    @Test("A type in use by a volume keeps its encryption as it is")
    func inUse() async throws {
        try await withSystem { api in
            let type = try #require(
                try await api.post("/v3/types", ["volume_type": ["name": "used"]]).json["volume_type"]["id"].string)
            try await api.createAvailableVolume(extra: ["volume_type": .string(type)])
            let path = "/v3/types/\(type)/encryption"
            expectFault(try await api.post(path, ["encryption": ["provider": "luks"]]), .badRequest, "in use")
            #expect(try await api.get(path).json == JSON([:]))
        }
    }
}
