import AshlarCore
import HTTPTypes
import Testing

/// `/types`, extra specs, type access and `/default-types`.
@Suite("Volume types, extra specs, access, default types", .timeLimit(.minutes(2)))
struct VolumeTypesTests {
    /// Creates a type and checks the 200; returns its id.
    func createType(
        _ api: API, _ name: String, specs: [String: JSONValue] = [:], isPublic: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let reply = try await api.post(
            "/v3/types",
            [
                "volume_type": [
                    "name": .string(name), "extra_specs": .object(specs),
                    "os-volume-type-access:is_public": .bool(isPublic),
                ]
            ])
        #expect(reply.status == .ok, "\(reply)", sourceLocation: sourceLocation)
        return try #require(reply.json["volume_type"]["id"].string, sourceLocation: sourceLocation)
    }

    @Test("Create answers 200 with the type; a duplicate name is 409")
    func create() async throws {
        try await withSystem { api in
            let reply = try await api.post(
                "/v3/types",
                [
                    "volume_type": [
                        "name": "gold", "description": "shiny", "extra_specs": ["volume_backend_name": "file-1"],
                    ]
                ])
            #expect(reply.status == .ok, "\(reply)")
            let t = reply.json["volume_type"]
            #expect(t["name"].string == "gold")
            #expect(t["description"].string == "shiny")
            #expect(t["is_public"].bool == true)
            #expect(t["os-volume-type-access:is_public"].bool == true)
            #expect(t["extra_specs"] == JSON(.object(["volume_backend_name": "file-1"])))
            // The answer to a create has no qos_specs_id (upstream's older view); show has it.
            #expect(!t["qos_specs_id"].exists)
            #expect(t["id"].string != nil)

            let duplicate = try await api.post("/v3/types", ["volume_type": ["name": "gold"]])
            expectFault(duplicate, .conflict, "gold")

            // A volume of the type lands on the backend whose name matches.
            let id = try await api.createAvailableVolume(extra: ["volume_type": "gold"])
            #expect(try await api.volume(id)?["volume_type"].string == "gold")
        }
    }

    @Test("Bad type bodies are 400")
    func badCreate() async throws {
        try await withSystem { api in
            for body: JSONValue in [
                ["volume_type": [:]], ["volume_type": ["name": ""]], ["volume_type": ["name": "   "]],
                ["volume_type": ["name": 5]], ["volume_type": ["name": nil]],
                ["volume_type": ["name": "x", "bogus": 1]],
                ["volume_type": ["name": "x", "extra_specs": ["k": 1]]],
                ["volume_type": ["name": "x", "extra_specs": "k"]],
                ["volume_type": ["name": "x", "os-volume-type-access:is_public": "maybe"]],
                ["volume_type": ["name": .string(String(repeating: "n", count: 256))]], ["volume_type": "x"], [:],
                [
                    "volume_type": [
                        "name": "x", "extra_specs": ["multiattach": "<is> True", "cacheable": "<is> True"],
                    ]
                ],
            ] {
                expectFault(try await api.post("/v3/types", body), .badRequest)
            }
            let names = try await api.get("/v3/types").json["volume_types"].array.compactMap { $0["name"].string }
            #expect(names == ["__DEFAULT__"])
        }
    }

    @Test("List and show, with the default alias")
    func listAndShow() async throws {
        try await withSystem { api in
            _ = try await createType(api, "gold")
            let list = try await api.get("/v3/types")
            #expect(list.status == .ok)
            let names = Set(list.json["volume_types"].array.compactMap { $0["name"].string })
            #expect(names == ["__DEFAULT__", "gold"])

            let goldID = try #require(
                list.json["volume_types"].array.first { $0["name"].string == "gold" }?["id"].string)
            let show = try await api.get("/v3/types/\(goldID)")
            #expect(show.status == .ok)
            #expect(show.json["volume_type"]["name"].string == "gold")

            let byDefault = try await api.get("/v3/types/default")
            #expect(byDefault.status == .ok)
            #expect(byDefault.json["volume_type"]["name"].string == "__DEFAULT__")

            expectFault(try await api.get("/v3/types/\(randomID())"), .notFound)
        }
    }

    @Test("Update renames and describes; an empty update is 400")
    func update() async throws {
        try await withSystem { api in
            let id = try await createType(api, "silver")
            let reply = try await api.put(
                "/v3/types/\(id)", ["volume_type": ["name": "platinum", "description": "better"]])
            #expect(reply.status == .ok, "\(reply)")
            #expect(reply.json["volume_type"]["name"].string == "platinum")
            #expect(reply.json["volume_type"]["description"].string == "better")
            #expect(try await api.get("/v3/types/\(id)").json["volume_type"]["name"].string == "platinum")

            expectFault(try await api.put("/v3/types/\(id)", ["volume_type": [:]]), .badRequest)
            expectFault(try await api.put("/v3/types/\(id)", ["volume_type": ["name": ""]]), .badRequest)
            expectFault(try await api.put("/v3/types/\(id)", ["volume_type": ["bogus": 1]]), .badRequest)
            expectFault(try await api.put("/v3/types/\(randomID())", ["volume_type": ["name": "x"]]), .notFound)
        }
    }

    @Test("Delete: in use is 400, the default type is 400, an unused type is 202")
    func delete() async throws {
        try await withSystem { api in
            let id = try await createType(api, "bronze")
            let volume = try await api.createVolume(extra: ["volume_type": "bronze"])
            expectFault(try await api.delete("/v3/types/\(id)"), .badRequest, "in use")

            let defaultID = try #require(
                try await api.get("/v3/types/default").json["volume_type"]["id"].string)
            expectFault(try await api.delete("/v3/types/\(defaultID)"), .badRequest, "Default")

            _ = try await api.post("/v3/volumes/\(volume)/action", ["os-reset_status": ["status": "error"]])
            #expect(try await api.delete("/v3/volumes/\(volume)").status == .accepted)
            try await api.waitForGone(volume)
            let reply = try await api.delete("/v3/types/\(id)")
            #expect(reply.status == .accepted, "\(reply)")
            expectFault(try await api.get("/v3/types/\(id)"), .notFound)
            expectFault(try await api.delete("/v3/types/\(id)"), .notFound)
        }
    }

    @Test("Extra specs: list, merge, show key, update key, delete key")
    func extraSpecs() async throws {
        try await withSystem { api in
            let id = try await createType(api, "specs", specs: ["a": "1"])
            let base = "/v3/types/\(id)/extra_specs"
            #expect(try await api.get(base).json == JSON(.object(["extra_specs": ["a": "1"]])))

            let merged = try await api.post(base, ["extra_specs": ["b": "2"]])
            #expect(merged.status == .ok, "\(merged)")
            #expect(merged.json == JSON(.object(["extra_specs": ["b": "2"]])), "echoes the body")
            #expect(try await api.get(base).json == JSON(.object(["extra_specs": ["a": "1", "b": "2"]])))

            let key = try await api.get("\(base)/b")
            #expect(key.status == .ok)
            #expect(key.json == JSON(.object(["b": "2"])))
            expectFault(try await api.get("\(base)/missing"), .notFound)

            let put = try await api.put("\(base)/b", ["b": "3"])
            #expect(put.status == .ok, "\(put)")
            #expect(put.json == JSON(.object(["b": "3"])))
            expectFault(try await api.put("\(base)/b", ["c": "3"]), .badRequest, "mismatch")
            expectFault(try await api.put("\(base)/b", ["b": "3", "c": "4"]), .badRequest)
            expectFault(try await api.put("\(base)/b", ["b": 3]), .badRequest)

            let deleted = try await api.delete("\(base)/a")
            #expect(deleted.status == .accepted, "\(deleted)")
            expectFault(try await api.delete("\(base)/a"), .notFound)
            #expect(try await api.get(base).json == JSON(.object(["extra_specs": ["b": "3"]])))

            expectFault(try await api.post(base, ["extra_specs": ["k": 1]]), .badRequest)
            expectFault(try await api.post(base, ["specs": ["k": "v"]]), .badRequest)
            expectFault(try await api.get("/v3/types/\(randomID())/extra_specs"), .notFound)
        }
    }

    @Test("Extra specs of a type in use cannot change: 400")
    func specsInUse() async throws {
        try await withSystem { api in
            let id = try await createType(api, "used", specs: ["a": "1"])
            _ = try await api.createVolume(extra: ["volume_type": .string(id)])
            let base = "/v3/types/\(id)/extra_specs"
            expectFault(try await api.post(base, ["extra_specs": ["b": "2"]]), .badRequest, "in use")
            expectFault(try await api.put("\(base)/a", ["a": "2"]), .badRequest, "in use")
            expectFault(try await api.delete("\(base)/a"), .badRequest, "in use")
            #expect(try await api.get(base).json == JSON(.object(["extra_specs": ["a": "1"]])))
        }
    }

    @Test("Private type access: list, add (409 twice), remove (404 when absent); public types have no list")
    func typeAccess() async throws {
        try await withSystem { api in
            let id = try await createType(api, "private", isPublic: false)
            let show = try await api.get("/v3/types/\(id)")
            #expect(show.json["volume_type"]["is_public"].bool == false)
            #expect(show.json["volume_type"]["os-volume-type-access:is_public"].bool == false)

            let accessPath = "/v3/types/\(id)/os-volume-type-access"
            func projects() async throws -> Set<String> {
                let reply = try await api.get(accessPath)
                #expect(reply.status == .ok, "\(reply)")
                for entry in reply.json["volume_type_access"].array {
                    #expect(entry["volume_type_id"].string == id)
                }
                return Set(reply.json["volume_type_access"].array.compactMap { $0["project_id"].string })
            }
            let creators = try await projects()
            #expect(!creators.contains("p9"))

            let action = "/v3/types/\(id)/action"
            let add = try await api.post(action, ["addProjectAccess": ["project": "p9"]])
            #expect(add.status == .accepted, "\(add)")
            #expect(try await projects() == creators.union(["p9"]))
            expectFault(try await api.post(action, ["addProjectAccess": ["project": "p9"]]), .conflict)

            let remove = try await api.post(action, ["removeProjectAccess": ["project": "p9"]])
            #expect(remove.status == .accepted, "\(remove)")
            #expect(try await projects() == creators)
            expectFault(try await api.post(action, ["removeProjectAccess": ["project": "p9"]]), .notFound)

            expectFault(try await api.post(action, ["addProjectAccess": ["project": 5]]), .badRequest)
            expectFault(try await api.post(action, ["addProjectAccess": [:]]), .badRequest)
            expectFault(try await api.post(action, ["grant": ["project": "p9"]]), .badRequest, "no such action")

            // Public types: no access list, no access changes.
            let publicID = try #require(try await api.get("/v3/types/default").json["volume_type"]["id"].string)
            expectFault(try await api.get("/v3/types/\(publicID)/os-volume-type-access"), .notFound)
            expectFault(
                try await api.post("/v3/types/\(publicID)/action", ["addProjectAccess": ["project": "p9"]]),
                .badRequest)

            // Private types are listed with is_public=false or None.
            let privateNames = try await api.get("/v3/types?is_public=false").json["volume_types"].array
                .compactMap { $0["name"].string }
            #expect(privateNames == ["private"])
            let allNames = try await api.get("/v3/types?is_public=None").json["volume_types"].array
                .compactMap { $0["name"].string }
            #expect(Set(allNames) == ["private", "__DEFAULT__"])
        }
    }

    @Test("Default types at 3.62: PUT, GET, list, DELETE 204; 404 at 3.61")
    func defaultTypes() async throws {
        try await withSystem { api in
            let id = try await createType(api, "gold")
            for (method, path) in [
                (HTTPRequest.Method.get, "/v3/default-types"), (.get, "/v3/default-types/p1"),
                (.delete, "/v3/default-types/p1"),
            ] {
                expectFault(try await api.request(method, path, version: "3.61"), .notFound)
            }
            expectFault(
                try await api.put(
                    "/v3/default-types/p1", ["default_type": ["volume_type": "gold"]], version: "3.61"), .notFound)

            let set = try await api.put(
                "/v3/default-types/p1", ["default_type": ["volume_type": "gold"]], version: "3.62")
            #expect(set.status == .ok, "\(set)")
            #expect(set.json == JSON(.object(["default_type": ["project_id": "p1", "volume_type_id": .string(id)]])))

            let show = try await api.get("/v3/default-types/p1", version: "3.62")
            #expect(show.status == .ok)
            #expect(show.json["default_type"]["volume_type_id"].string == id)
            let list = try await api.get("/v3/default-types", version: "3.62")
            #expect(list.status == .ok)
            #expect(list.json["default_types"].array.map { $0["project_id"].string } == ["p1"])

            // The default alias follows the project's default.
            let alias = try await api.get("/v3/types/default", token: "u:p1")
            #expect(alias.json["volume_type"]["name"].string == "gold")
            #expect(
                try await api.get("/v3/types/default", token: "u:p2").json["volume_type"]["name"].string
                    == "__DEFAULT__")

            // A create without a type uses the project's default; other projects keep __DEFAULT__.
            let volume = try await api.createVolume(token: "u:p1")
            #expect(try await api.volume(volume, token: "u:p1")?["volume_type"].string == "gold")
            let other = try await api.createVolume(token: "u:p2")
            #expect(try await api.volume(other, token: "u:p2")?["volume_type"].string == "__DEFAULT__")
            try await api.waitForStatus(volume, "available")

            // A project default cannot be deleted.
            expectFault(try await api.delete("/v3/types/\(id)"), .badRequest)

            let unset = try await api.delete("/v3/default-types/p1", version: "3.62")
            #expect(unset.status == .noContent, "\(unset)")
            expectFault(try await api.get("/v3/default-types/p1", version: "3.62"), .notFound)
            expectFault(try await api.delete("/v3/default-types/p1", version: "3.62"), .notFound)
            #expect(try await api.get("/v3/default-types", version: "3.62").json["default_types"].array.isEmpty)

            expectFault(
                try await api.put(
                    "/v3/default-types/p1", ["default_type": ["volume_type": "nope"]], version: "3.62"), .notFound)
            expectFault(
                try await api.put("/v3/default-types/p1", ["default_type": ["volume_type": 5]], version: "3.62"),
                .badRequest)
            expectFault(try await api.put("/v3/default-types/p1", ["default_type": [:]], version: "3.62"), .badRequest)
        }
    }

    @Test("The type list pages with volume_type_links and filters by extra_specs from 3.52")
    func listPagingAndSpecFilter() async throws {
        try await withSystem { api in
            for (name, tier) in [("t1", "gold"), ("t2", "silver"), ("t3", "gold")] {
                _ = try await createType(api, name, specs: ["tier": .string(tier)])
            }
            let all = try await api.get("/v3/types?sort=name:asc").json["volume_types"].array.compactMap {
                $0["name"].string
            }
            #expect(all == ["__DEFAULT__", "t1", "t2", "t3"])
            var seen: [String] = []
            var path: String? = "/v3/types?sort=name:asc&limit=1"
            var pages = 0
            while let next = path, pages < 10 {
                let reply = try await api.get(next)
                #expect(reply.status == .ok, "\(reply)")
                pages += 1
                seen += reply.json["volume_types"].array.compactMap { $0["name"].string }
                let href = reply.json["volume_type_links"].array.first { $0["rel"].string == "next" }?["href"].string
                if let href {
                    #expect(href.contains("marker="))
                    path = String(href.dropFirst("http://localhost".count))
                } else {
                    path = nil
                }
            }
            #expect(seen == all)

            let gold = try await api.get("/v3/types?extra_specs=%7B%27tier%27:%27gold%27%7D", version: "3.52")
            #expect(Set(gold.json["volume_types"].array.compactMap { $0["name"].string }) == ["t1", "t3"])
            let ignored = try await api.get("/v3/types?extra_specs=%7B%27tier%27:%27gold%27%7D", version: "3.51")
            #expect(ignored.json["volume_types"].array.count == 4)
        }
    }
}
