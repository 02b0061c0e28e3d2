import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// `/qos-specs`, as `cinder/api/contrib/qos_specs_manage.py` answers: specs made, changed and deleted, associated
/// with volume types, and front-end limits handed to the attaching host.
@Suite("QoS specs", .timeLimit(.minutes(2)))
struct QoSSpecsTests {
    @discardableResult
    static func create(
        _ api: API, _ name: String, consumer: String? = nil, specs: [String: JSONValue] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        var body = specs
        body["name"] = .string(name)
        if let consumer { body["consumer"] = .string(consumer) }
        let reply = try await api.post("/v3/qos-specs", ["qos_specs": .object(body)])
        #expect(reply.status == .ok, "\(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json["qos_specs"]["id"].string, sourceLocation: sourceLocation)
    }

    static func createType(_ api: API, _ name: String) async throws -> String {
        let reply = try await api.post("/v3/types", ["volume_type": ["name": .string(name)]])
        return try #require(reply.json["volume_type"]["id"].string)
    }

    @Test("Create, show, list, set and unset keys, delete: upstream's view and codes")
    func lifecycle() async throws {
        try await withSystem { api in
            let created = try await api.post(
                "/v3/qos-specs", ["qos_specs": ["name": "fast", "consumer": "front-end", "read_iops_sec": "2000"]])
            #expect(created.status == .ok)
            #expect(created.json.keys == ["qos_specs", "links"])
            let specs = created.json["qos_specs"]
            #expect(specs.keys == ["id", "name", "consumer", "specs"])
            #expect(specs["name"].string == "fast")
            #expect(specs["consumer"].string == "front-end")
            #expect(specs["specs"] == JSON(.object(["read_iops_sec": "2000"])))
            let id = try #require(specs["id"].string)
            #expect(created.json["links"][0]["href"].string?.hasSuffix("/qos-specs/\(id)") == true)

            // The list holds exactly what create answered (tempest compares them whole).
            let listed = try await api.get("/v3/qos-specs")
            #expect(listed.json.keys == ["qos_specs"])
            #expect(listed.json["qos_specs"].array == [specs])
            #expect(try await api.get("/v3/qos-specs/\(id)").json["qos_specs"] == specs)
            // Without a consumer: back-end, as upstream's default.
            let plain = try await Self.create(api, "plain")
            #expect(try await api.get("/v3/qos-specs/\(plain)").json["qos_specs"]["consumer"].string == "back-end")

            // Set answers with its body; show has the merged keys; a consumer in the body changes the consumer.
            let set = try await api.put("/v3/qos-specs/\(id)", ["qos_specs": ["iops_bytes": "500"]])
            #expect(set.status == .ok)
            #expect(set.json == JSON(.object(["qos_specs": ["iops_bytes": "500"]])))
            #expect(
                try await api.get("/v3/qos-specs/\(id)").json["qos_specs"]["specs"]
                    == JSON(.object(["read_iops_sec": "2000", "iops_bytes": "500"])))
            #expect(try await api.put("/v3/qos-specs/\(id)", ["qos_specs": ["consumer": "both"]]).status == .ok)
            #expect(try await api.get("/v3/qos-specs/\(id)").json["qos_specs"]["consumer"].string == "both")

            let unset = try await api.put("/v3/qos-specs/\(id)/delete_keys", ["keys": ["iops_bytes"]])
            #expect(unset.status == .accepted)
            #expect(
                try await api.get("/v3/qos-specs/\(id)").json["qos_specs"]["specs"]
                    == JSON(.object(["read_iops_sec": "2000"])))
            expectFault(try await api.put("/v3/qos-specs/\(id)/delete_keys", ["keys": ["nothing"]]), .notFound)

            #expect(try await api.delete("/v3/qos-specs/\(id)").status == .accepted)
            expectFault(try await api.get("/v3/qos-specs/\(id)"), .notFound)
            expectFault(try await api.delete("/v3/qos-specs/\(id)"), .notFound)
            #expect(try await api.get("/v3/qos-specs").json["qos_specs"].array.compactMap { $0["id"].string } == [plain])
        }
    }

    @Test("Bad bodies are 400 and make nothing; a taken name is 409")
    func validation() async throws {
        try await withSystem { api in
            try await Self.create(api, "taken")
            expectFault(try await api.post("/v3/qos-specs", ["qos_specs": ["name": "taken"]]), .conflict)
            for body: JSONValue in [
                ["qos_specs": [:]], ["qos_specs": ["name": "  "]], ["qos_specs": ["name": 5]],
                ["qos_specs": ["name": "x", "consumer": "sideways"]], ["qos_specs": ["name": "x", "read_iops_sec": 5]],
                ["qos_specs": "x"], ["specs": ["name": "x"]],
            ] {
                expectFault(try await api.post("/v3/qos-specs", body), .badRequest)
            }
            #expect(try await api.get("/v3/qos-specs").json["qos_specs"].array.count == 1)
            let id = try #require(try await api.get("/v3/qos-specs").json["qos_specs"][0]["id"].string)
            expectFault(try await api.put("/v3/qos-specs/\(id)", ["qos_specs": ["consumer": "nobody"]]), .badRequest)
            expectFault(try await api.put("/v3/qos-specs/\(id)/delete_keys", ["keys": "x"]), .badRequest)
            expectFault(try await api.put("/v3/qos-specs/\(randomID())", ["qos_specs": ["k": "v"]]), .notFound)
            expectFault(try await api.delete("/v3/qos-specs/\(id)?force=maybe"), .badRequest)
        }
    }

    @Test("Associate with types, list the associations, refuse a second specs and a delete in use, force it")
    func associations() async throws {
        try await withSystem { api in
            let specs = try await Self.create(api, "gold", consumer: "back-end", specs: ["total_iops_sec": "900"])
            let other = try await Self.create(api, "silver")
            let first = try await Self.createType(api, "t1")
            let second = try await Self.createType(api, "t2")
            for type in [first, second] {
                let reply = try await api.get("/v3/qos-specs/\(specs)/associate?vol_type_id=\(type)")
                #expect(reply.status == .accepted, "\(reply)")
            }
            // Again is fine; another specs on an associated type is refused.
            #expect(try await api.get("/v3/qos-specs/\(specs)/associate?vol_type_id=\(first)").status == .accepted)
            expectFault(try await api.get("/v3/qos-specs/\(other)/associate?vol_type_id=\(first)"), .badRequest)
            expectFault(try await api.get("/v3/qos-specs/\(specs)/associate?vol_type_id=\(randomID())"), .notFound)
            expectFault(try await api.get("/v3/qos-specs/\(specs)/associate"), .badRequest)
            expectFault(try await api.get("/v3/qos-specs/\(randomID())/associate?vol_type_id=\(first)"), .notFound)

            let associations = try await api.get("/v3/qos-specs/\(specs)/associations")
            #expect(associations.status == .ok)
            #expect(
                associations.json["qos_associations"].array.map { $0.keys }
                    == [["association_type", "name", "id"], ["association_type", "name", "id"]])
            #expect(Set(associations.json["qos_associations"].array.compactMap { $0["id"].string }) == [first, second])
            #expect(try await api.get("/v3/types/\(first)").json["volume_type"]["qos_specs_id"].string == specs)

            expectFault(try await api.delete("/v3/qos-specs/\(specs)"), .badRequest)
            #expect(try await api.get("/v3/qos-specs/\(specs)/disassociate?vol_type_id=\(first)").status == .accepted)
            #expect(try await api.get("/v3/types/\(first)").json["volume_type"]["qos_specs_id"].isNull)
            #expect(try await api.get("/v3/qos-specs/\(specs)/associations").json["qos_associations"].array.count == 1)
            #expect(try await api.get("/v3/qos-specs/\(specs)/disassociate_all").status == .accepted)
            #expect(try await api.get("/v3/qos-specs/\(specs)/associations").json["qos_associations"].array.isEmpty)

            // A forced delete takes the specs off the types it is on.
            #expect(try await api.get("/v3/qos-specs/\(specs)/associate?vol_type_id=\(second)").status == .accepted)
            #expect(try await api.delete("/v3/qos-specs/\(specs)?force=true").status == .accepted)
            #expect(try await api.get("/v3/types/\(second)").json["volume_type"]["qos_specs_id"].isNull)
        }
    }

    @Test("Front-end specs reach the attaching host, per-GiB limits worked out for the volume's size")
    func frontEndInConnectionInfo() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let specs = try await Self.create(
                api, "per-gb", consumer: "front-end",
                specs: [
                    "read_iops_sec_per_gb": "100", "read_iops_sec_per_gb_min": "500", "write_iops_sec_per_gb": "100",
                    "write_iops_sec_max": "150", "total_bytes_sec": "1000",
                ])
            let type = try await Self.createType(api, "limited")
            #expect(try await api.get("/v3/qos-specs/\(specs)/associate?vol_type_id=\(type)").status == .accepted)
            let volume = try await api.createAvailableVolume(size: 2, extra: ["volume_type": "limited"])
            let attachment = try await api.createAttachment(volume, instance: nil, connector: testConnector)
            // 2 GiB × 100 = 200, raised to the 500 minimum; 200 capped at 150; the fixed limit as it is.
            #expect(
                attachment["connection_info"]["qos_specs"]
                    == JSON(.object(["read_iops_sec": 500, "write_iops_sec": 150, "total_bytes_sec": "1000"])))

            // Back-end specs stay with the backend: the host gets null.
            let backEnd = try await Self.create(api, "backend-only", consumer: "back-end", specs: ["k": "v"])
            let plainType = try await Self.createType(api, "backend-limited")
            #expect(try await api.get("/v3/qos-specs/\(backEnd)/associate?vol_type_id=\(plainType)").status == .accepted)
            let other = try await api.createAvailableVolume(extra: ["volume_type": "backend-limited"])
            let plain = try await api.createAttachment(other, instance: nil, connector: testConnector)
            #expect(plain["connection_info"]["qos_specs"].isNull)
        }
    }
}
