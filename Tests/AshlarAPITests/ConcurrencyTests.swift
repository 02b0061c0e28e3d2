import AshlarCore
import HTTPTypes
import Testing

/// Racing requests: each must get a clean answer (never a 500) and the end state must be whole.
@Suite("Concurrent requests", .timeLimit(.minutes(2)))
struct ConcurrencyTests {
    /// Sends `count` requests at once.
    func race(_ count: Int = 10, _ send: @escaping @Sendable (Int) async throws -> Reply) async throws -> [Reply] {
        try await withThrowingTaskGroup(of: Reply.self) { group in
            for i in 0..<count { group.addTask { try await send(i) } }
            var all: [Reply] = []
            for try await reply in group { all.append(reply) }
            return all
        }
    }

    func codes(_ replies: [Reply]) -> [Int] { replies.map { Int($0.status.code) }.sorted() }

    /// Creates `count` types named t0, t1, …; returns their ids.
    func createTypes(_ api: API, count: Int) async throws -> [String] {
        var ids: [String] = []
        for i in 0..<count {
            let reply = try await api.post("/v3/types", ["volume_type": ["name": .string("t\(i)")]])
            ids.append(try #require(reply.json["volume_type"]["id"].string))
        }
        return ids
    }

    /// One rename to `same` won (200), the others got 409 faults, and exactly one type has the name.
    func expectOneWinner(_ api: API, _ replies: [Reply]) async throws {
        #expect(codes(replies) == [200] + Array(repeating: 409, count: replies.count - 1), "\(replies)")
        for reply in replies where reply.status != .ok { expectFaultBody(reply) }
        let names = try await api.get("/v3/types").json["volume_types"].array.compactMap { $0["name"].string }
        #expect(names.filter { $0 == "same" }.count == 1)
    }

    @Test("Concurrent metadata merges keep every key")
    func metadataMerges() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let replies = try await race { i in
                try await api.post("/v3/volumes/\(id)/metadata", ["metadata": ["k\(i)": .string("v\(i)")]])
            }
            #expect(replies.allSatisfy { $0.status == .ok }, "\(replies)")
            let metadata = try await api.get("/v3/volumes/\(id)/metadata").json["metadata"]
            #expect(metadata.keys == Set((0..<10).map { "k\($0)" }))
        }
    }

    @Test("Concurrent image metadata changes keep every key")
    func imageMetadata() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let replies = try await race { i in
                try await api.post(
                    "/v3/volumes/\(id)/action",
                    ["os-set_image_metadata": ["metadata": ["k\(i)": .string("v\(i)")]]])
            }
            #expect(replies.allSatisfy { $0.status == .ok }, "\(replies)")
            let shown = try await api.post("/v3/volumes/\(id)/action", ["os-show_image_metadata": [:]])
            #expect(shown.json["metadata"].keys == Set((0..<10).map { "k\($0)" }))
        }
    }

    @Test("Concurrent extra spec merges keep every key")
    func extraSpecMerges() async throws {
        try await withSystem { api in
            let type = try #require(
                try await api.post("/v3/types", ["volume_type": ["name": "racy"]]).json["volume_type"]["id"].string)
            let replies = try await race { i in
                try await api.post("/v3/types/\(type)/extra_specs", ["extra_specs": ["k\(i)": "v"]])
            }
            #expect(replies.allSatisfy { $0.status == .ok }, "\(replies)")
            let specs = try await api.get("/v3/types/\(type)/extra_specs").json["extra_specs"]
            #expect(specs.keys == Set((0..<10).map { "k\($0)" }))
        }
    }

    @Test("Concurrent creates of one type name: one 200, the rest 409")
    func typeCreates() async throws {
        try await withSystem { api in
            let replies = try await race { _ in try await api.post("/v3/types", ["volume_type": ["name": "twin"]]) }
            #expect(codes(replies) == [200] + Array(repeating: 409, count: 9), "\(replies)")
            for reply in replies where reply.status != .ok { expectFaultBody(reply) }
            let names = try await api.get("/v3/types").json["volume_types"].array.compactMap { $0["name"].string }
            #expect(names.filter { $0 == "twin" }.count == 1)
        }
    }

    @Test("Renaming a type to a taken name is 409")
    func renameConflict() async throws {
        try await withSystem { api in
            _ = try await api.post("/v3/types", ["volume_type": ["name": "first"]])
            let second = try #require(
                try await api.post("/v3/types", ["volume_type": ["name": "second"]]).json["volume_type"]["id"].string)
            expectFault(try await api.put("/v3/types/\(second)", ["volume_type": ["name": "first"]]), .conflict)
            #expect(try await api.get("/v3/types/\(second)").json["volume_type"]["name"].string == "second")
        }
    }

    @Test("Concurrent renames of several types to one name: one 200, the rest 409")
    func typeRenames() async throws {
        try await withSystem { api in
            let targets = try await createTypes(api, count: 6)
            let replies = try await race(6) { i in
                try await api.put("/v3/types/\(targets[i])", ["volume_type": ["name": "same"]])
            }
            try await expectOneWinner(api, replies)
        }
    }

    @Test("Concurrent addProjectAccess of one project: one 202, the rest 409")
    func accessAdds() async throws {
        try await withSystem { api in
            let reply = try await api.post(
                "/v3/types", ["volume_type": ["name": "private", "os-volume-type-access:is_public": false]])
            let type = try #require(reply.json["volume_type"]["id"].string)
            let replies = try await race { _ in
                try await api.post("/v3/types/\(type)/action", ["addProjectAccess": ["project": "p9"]])
            }
            #expect(codes(replies) == [202] + Array(repeating: 409, count: 9), "\(replies)")
            for reply in replies where reply.status != .accepted { expectFaultBody(reply) }
            #expect(replies.filter { $0.status == .accepted }.count == 1)
            let access = try await api.get("/v3/types/\(type)/os-volume-type-access").json["volume_type_access"]
            #expect(access.array.filter { $0["project_id"].string == "p9" }.count == 1)
        }
    }

    @Test("Concurrent PUTs of a project's default type all succeed; one wins")
    func defaultTypePuts() async throws {
        try await withSystem { api in
            var ids: [String] = []
            for name in ["a", "b"] {
                let reply = try await api.post("/v3/types", ["volume_type": ["name": .string(name)]])
                ids.append(try #require(reply.json["volume_type"]["id"].string))
            }
            let replies = try await race { i in
                try await api.put(
                    "/v3/default-types/p1", ["default_type": ["volume_type": i % 2 == 0 ? "a" : "b"]], version: "3.62")
            }
            #expect(replies.allSatisfy { $0.status == .ok }, "\(replies)")
            #expect(replies.contains { $0.status == .ok })
            let list = try await api.get("/v3/default-types", version: "3.62").json["default_types"].array
            #expect(list.count == 1)
            #expect(ids.contains(list.first?["volume_type_id"].string ?? ""))
        }
    }
}
