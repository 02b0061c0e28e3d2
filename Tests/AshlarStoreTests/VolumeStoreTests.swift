import AshlarCore
import Foundation
import Testing

@testable import AshlarStore

@Suite("VolumeStore", .timeLimit(.minutes(2)))
struct VolumeStoreTests {
    // MARK: - Round trip

    @Test("insert then get returns every field as stored", arguments: DatabaseKind.allCases)
    func roundTripEveryField(kind: DatabaseKind) async throws {
        try await withDatabase(kind) { db in
            let store = VolumeStore(db: db)
            let full = Volume(
                id: "0b5d7a6e-0000-4000-8000-000000000001", projectID: "proj-a", userID: "user-a", name: "data vol",
                description: "a description with 'quotes' and \"double quotes\"", size: 42, status: .inUse,
                attachStatus: .attached, availabilityZone: "zone-7", volumeTypeID: "type-xyz",
                host: "node1@lvm#pool-a", bootable: true, multiattach: true, encrypted: true,
                snapshotID: "snap-1", sourceVolumeID: "src-1", migrationStatus: "migrating",
                replicationStatus: "enabled", previousStatus: "available", consumesQuota: false,
                metadata: ["k1": "v1", "key with space": "välue ✓", "empty": ""],
                adminMetadata: ["readonly": "True", "attached_mode": "rw"],
                imageMetadata: ["image_id": "img-1", "min_disk": "1"],
                createdAt: Date(timeIntervalSince1970: 1_712_345_678.123456),
                updatedAt: Date(timeIntervalSince1970: 1_712_345_999.654321),
                launchedAt: Date(timeIntervalSince1970: 1_712_345_700.000001))
            try await store.insert(full)
            let got = try #require(try await store.get(full.id))

            #expect(got.id == full.id)
            #expect(got.projectID == "proj-a")
            #expect(got.userID == "user-a")
            #expect(got.name == "data vol")
            #expect(got.description == full.description)
            #expect(got.size == 42)
            #expect(got.status == .inUse)
            #expect(got.attachStatus == .attached)
            #expect(got.availabilityZone == "zone-7")
            #expect(got.volumeTypeID == "type-xyz")
            #expect(got.host == "node1@lvm#pool-a")
            #expect(got.bootable)
            #expect(got.multiattach)
            #expect(got.encrypted)
            #expect(got.snapshotID == "snap-1")
            #expect(got.sourceVolumeID == "src-1")
            #expect(got.migrationStatus == "migrating")
            #expect(got.replicationStatus == "enabled")
            #expect(got.previousStatus == "available")
            #expect(got.consumesQuota == false)
            #expect(got.metadata == full.metadata)
            #expect(got.adminMetadata == full.adminMetadata)
            #expect(got.isReadOnly)
            #expect(got.imageMetadata == full.imageMetadata)
            #expect(closeEnough(got.createdAt, full.createdAt))
            #expect(closeEnough(got.updatedAt, full.updatedAt))
            #expect(closeEnough(got.launchedAt, full.launchedAt))
            // The microseconds survive formatting too.
            #expect(Timestamp.format(got.createdAt) == Timestamp.format(full.createdAt))
            #expect(Timestamp.format(got.createdAt).hasSuffix(".123456"))
        }
    }

    @Test("optional fields stored as NULL come back nil, empty maps come back empty")
    func roundTripOptionalsNil() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = Volume(projectID: "p", userID: "u", size: 1, availabilityZone: "nova", volumeTypeID: "t")
            try await store.insert(v)
            let got = try #require(try await store.get(v.id))
            #expect(got.name == nil)
            #expect(got.description == nil)
            #expect(got.host == nil)
            #expect(got.snapshotID == nil)
            #expect(got.sourceVolumeID == nil)
            #expect(got.migrationStatus == nil)
            #expect(got.replicationStatus == nil)
            #expect(got.previousStatus == nil)
            #expect(got.updatedAt == nil)
            #expect(got.launchedAt == nil)
            #expect(got.metadata.isEmpty)
            #expect(got.adminMetadata.isEmpty)
            #expect(got.imageMetadata.isEmpty)
            #expect(got.status == .creating)
            #expect(got.attachStatus == .detached)
            #expect(got.consumesQuota)
            #expect(!got.bootable && !got.multiattach && !got.encrypted)
            #expect(try await store.get("does-not-exist") == nil)
        }
    }

    @Test("inserting the same id twice fails")
    func duplicateIDFails() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume()
            try await store.insert(v)
            await #expect(throws: (any Error).self) { try await store.insert(v) }
            #expect(try await store.list(ListQuery(projectID: nil)).count == 1)
        }
    }

    @Test("get(_:projectID:) hides volumes of other projects")
    func getHidesOtherProjects() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume(project: "p1")
            try await store.insert(v)
            #expect(try await store.get(v.id, projectID: "p1")?.id == v.id)
            #expect(try await store.get(v.id, projectID: "p2") == nil)
            #expect(try await store.get(v.id, projectID: nil)?.id == v.id)
            #expect(try await store.get("missing", projectID: nil) == nil)
        }
    }

    // MARK: - Filters

    /// Inserts a small, varied data set and returns it.
    private func seedFilterSet(_ store: VolumeStore) async throws -> [Volume] {
        let vols = [
            makeVolume(id: "f-1", project: "p1", name: "50%off", size: 1, status: .available, host: "n@b#p", offset: 1),
            makeVolume(id: "f-2", project: "p1", name: "50Xoff", size: 2, status: .error, host: nil, offset: 2),
            makeVolume(id: "f-3", project: "p1", name: "a_b", size: 3, status: .available, offset: 3, bootable: true),
            makeVolume(id: "f-4", project: "p1", name: "axb", size: 4, status: .creating, offset: 4),
            makeVolume(id: "f-5", project: "p1", name: "back\\slash", size: 5, status: .inUse, offset: 5),
            makeVolume(id: "f-6", project: "p2", name: "other project", size: 6, status: .available, offset: 6),
            makeVolume(id: "f-7", project: "p1", name: nil, size: 7, status: .available, offset: 7, bootable: true),
        ]
        for v in vols { try await store.insert(v) }
        return vols
    }

    private func ids(_ store: VolumeStore, _ query: ListQuery) async throws -> Set<String> {
        Set(try await store.list(query).map(\.id))
    }

    @Test("filters: eq and neq")
    func filterEqNeq() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            _ = try await seedFilterSet(store)
            #expect(
                try await ids(store, ListQuery(projectID: "p1", conditions: [.init("status", .eq, .string("available"))]))
                    == ["f-1", "f-3", "f-7"])
            #expect(
                try await ids(store, ListQuery(projectID: "p1", conditions: [.init("status", .neq, .string("available"))]))
                    == ["f-2", "f-4", "f-5"])
            #expect(
                try await ids(store, ListQuery(projectID: "p1", conditions: [.init("bootable", .eq, .bool(true))]))
                    == ["f-3", "f-7"])
            #expect(try await ids(store, ListQuery(projectID: nil, conditions: [.init("size", .eq, .int(6))])) == ["f-6"])
            // Aliases map to the same column.
            #expect(
                try await ids(store, ListQuery(projectID: "p1", conditions: [.init("display_name", .eq, .string("axb"))]))
                    == ["f-4"])
        }
    }

    @Test("filters: gt, gte, lt, lte on integers and dates")
    func filterOrdering() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            _ = try await seedFilterSet(store)
            func q(_ op: ListQuery.Operator, _ value: ListQuery.Value, field: String = "size") -> ListQuery {
                ListQuery(projectID: "p1", conditions: [.init(field, op, value)])
            }
            #expect(try await ids(store, q(.gt, .int(4))) == ["f-5", "f-7"])
            #expect(try await ids(store, q(.gte, .int(4))) == ["f-4", "f-5", "f-7"])
            #expect(try await ids(store, q(.lt, .int(2))) == ["f-1"])
            #expect(try await ids(store, q(.lte, .int(2))) == ["f-1", "f-2"])
            let cut = baseTime.addingTimeInterval(4)
            #expect(try await ids(store, q(.gt, .date(cut), field: "created_at")) == ["f-5", "f-7"])
            #expect(try await ids(store, q(.gte, .date(cut), field: "created_at")) == ["f-4", "f-5", "f-7"])
            #expect(try await ids(store, q(.lt, .date(cut), field: "created_at")) == ["f-1", "f-2", "f-3"])
            #expect(try await ids(store, q(.lte, .date(cut), field: "created_at")) == ["f-1", "f-2", "f-3", "f-4"])
            // Several conditions combine with AND.
            let both = ListQuery(
                projectID: "p1", conditions: [.init("size", .gte, .int(2)), .init("status", .eq, .string("available"))])
            #expect(try await ids(store, both) == ["f-3", "f-7"])
        }
    }

    @Test("filters: null values use IS NULL / IS NOT NULL")
    func filterNull() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            _ = try await seedFilterSet(store)
            #expect(try await ids(store, ListQuery(projectID: "p1", conditions: [.init("host", .neq, .null)])) == ["f-1"])
            #expect(try await ids(store, ListQuery(projectID: "p1", conditions: [.init("name", .eq, .null)])) == ["f-7"])
        }
    }

    @Test("filters: like matches substrings, with % and _ taken literally")
    func filterLike() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            _ = try await seedFilterSet(store)
            func like(_ s: String) -> ListQuery { ListQuery(projectID: "p1", conditions: [.init("name", .like, .string(s))]) }
            #expect(try await ids(store, like("off")) == ["f-1", "f-2"])
            #expect(try await ids(store, like("50%")) == ["f-1"])
            #expect(try await ids(store, like("%")) == ["f-1"])
            #expect(try await ids(store, like("a_b")) == ["f-3"])
            #expect(try await ids(store, like("_")) == ["f-3"])
            #expect(try await ids(store, like("k\\s")) == ["f-5"])
            #expect(try await ids(store, like("nothing-like-this")).isEmpty)
            // like needs text.
            let error = await ashlarError {
                _ = try await store.list(ListQuery(projectID: "p1", conditions: [.init("name", .like, .int(1))]))
            }
            #expect(error?.code == .invalidInput)
        }
    }

    @Test("filters: unknown filter and sort keys are invalid input")
    func unknownKeys() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            _ = try await seedFilterSet(store)
            let badFilter = await ashlarError {
                _ = try await store.list(ListQuery(projectID: nil, conditions: [.init("metadata", .eq, .string("x"))]))
            }
            #expect(badFilter?.code == .invalidInput)
            let badCount = await ashlarError {
                _ = try await store.count(ListQuery(projectID: nil, conditions: [.init("nope", .eq, .string("x"))]))
            }
            #expect(badCount?.code == .invalidInput)
            let badSort = await ashlarError {
                _ = try await store.list(ListQuery(projectID: nil, sort: [.init("nope", ascending: true)]))
            }
            #expect(badSort?.code == .invalidInput)
        }
    }

    @Test("filters: metadata pairs must all be present", arguments: DatabaseKind.allCases)
    func filterMetadata(kind: DatabaseKind) async throws {
        try await withDatabase(kind) { db in
            let store = VolumeStore(db: db)
            try await store.insert(makeVolume(id: "m-1", metadata: ["tier": "gold", "env": "prod"]))
            try await store.insert(makeVolume(id: "m-2", metadata: ["tier": "gold"]))
            try await store.insert(makeVolume(id: "m-3", metadata: ["tier": "silver", "env": "prod"]))
            try await store.insert(makeVolume(id: "m-4", metadata: ["a.b": "dotted", "quo\"te": "q"]))
            try await store.insert(makeVolume(id: "m-5", project: "p2", metadata: ["tier": "gold"]))
            #expect(try await ids(store, ListQuery(projectID: "p1", metadata: ["tier": "gold"])) == ["m-1", "m-2"])
            #expect(try await ids(store, ListQuery(projectID: nil, metadata: ["tier": "gold"])) == ["m-1", "m-2", "m-5"])
            #expect(try await ids(store, ListQuery(projectID: "p1", metadata: ["tier": "gold", "env": "prod"])) == ["m-1"])
            #expect(try await ids(store, ListQuery(projectID: "p1", metadata: ["env": "prod"])) == ["m-1", "m-3"])
            #expect(try await ids(store, ListQuery(projectID: "p1", metadata: ["tier": "bronze"])).isEmpty)
            #expect(try await ids(store, ListQuery(projectID: "p1", metadata: ["a.b": "dotted"])) == ["m-4"])
            #expect(try await store.count(ListQuery(projectID: "p1", metadata: ["tier": "gold"])) == 2)
        }
    }

    @Test("filters: project scoping and all projects")
    func filterProjects() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            _ = try await seedFilterSet(store)
            #expect(try await ids(store, ListQuery(projectID: "p2")) == ["f-6"])
            #expect(try await ids(store, ListQuery(projectID: "p1")).count == 6)
            #expect(try await ids(store, ListQuery(projectID: nil)).count == 7)
            #expect(try await ids(store, ListQuery(projectID: "nobody")).isEmpty)
            // project_id as an explicit condition works for admins listing all projects.
            #expect(
                try await ids(store, ListQuery(projectID: nil, conditions: [.init("project_id", .eq, .string("p2"))]))
                    == ["f-6"])
        }
    }

    // MARK: - Sorting and pagination

    /// A data set with NULL names, duplicate names, sizes and creation times.
    private func seedPagingSet(_ store: VolumeStore) async throws -> [Volume] {
        let names: [String?] = ["alpha", nil, "beta", "alpha", nil, "gamma", "beta", nil, "delta", "alpha", "zeta", nil]
        let sizes = [1, 2, 2, 3, 1, 5, 2, 3, 1, 2, 4, 1]
        let offsets: [Double] = [0, 1, 1, 2, 3, 3, 3, 4, 5, 6, 6, 7]
        let statuses: [VolumeStatus] = [.available, .error, .creating]
        var vols: [Volume] = []
        for i in 0..<names.count {
            vols.append(
                makeVolume(
                    project: "p1", name: names[i], size: sizes[i], status: statuses[i % 3], offset: offsets[i],
                    bootable: i % 2 == 0,
                    updatedAt: i % 3 == 0 ? nil : baseTime.addingTimeInterval(Double(100 + (i % 4)))))
        }
        // Other projects' rows must never leak into p1's pages.
        vols.append(makeVolume(project: "p2", name: "alpha", size: 2, offset: 1))
        vols.append(makeVolume(project: "p2", name: nil, size: 9, offset: 3))
        for v in vols { try await store.insert(v) }
        return vols
    }

    /// A sortable value: NULL sorts first ascending, as SQLite orders it.
    private enum Key: Comparable {
        case null
        case int(Int)
        case double(Double)
        case text(String)

        static func < (a: Key, b: Key) -> Bool {
            switch (a, b) {
            case (.null, .null): false
            case (.null, _): true
            case (_, .null): false
            case (.int(let x), .int(let y)): x < y
            case (.double(let x), .double(let y)): x < y
            case (.text(let x), .text(let y)): Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
            default: false
            }
        }
    }

    private static func key(_ v: Volume, _ field: String) -> Key {
        switch field {
        case "name", "display_name": v.name.map(Key.text) ?? .null
        case "size": .int(v.size)
        case "status": .text(v.status.rawValue)
        case "created_at": .double(v.createdAt.timeIntervalSince1970)
        case "updated_at": v.updatedAt.map { .double($0.timeIntervalSince1970) } ?? .null
        case "id": .text(v.id)
        case "bootable": .int(v.bootable ? 1 : 0)
        default: fatalError("no test key for \(field)")
        }
    }

    /// The order the store promises: the sort keys, then created_at and id in the last key's direction.
    private static func expectedOrder(_ vols: [Volume], sort: [ListQuery.SortKey]) -> [Volume] {
        var keys = sort
        for tie in ["created_at", "id"] where !keys.contains(where: { VolumeStore.columns[$0.field] == tie }) {
            keys.append(.init(tie, ascending: keys.last?.ascending ?? false))
        }
        return vols.sorted { a, b in
            for k in keys {
                let ka = key(a, k.field)
                let kb = key(b, k.field)
                if ka == kb { continue }
                return k.ascending ? ka < kb : kb < ka
            }
            return false
        }
    }

    static let sortOrders: [[ListQuery.SortKey]] = [
        [.init("created_at", ascending: false)],
        [.init("created_at", ascending: true)],
        [.init("name", ascending: true)],
        [.init("name", ascending: false)],
        [.init("display_name", ascending: true), .init("size", ascending: false)],
        [.init("size", ascending: true), .init("name", ascending: false)],
        [.init("status", ascending: true), .init("size", ascending: false)],
        [.init("bootable", ascending: false)],
        [.init("updated_at", ascending: true)],
        [.init("updated_at", ascending: false)],
        [.init("id", ascending: true)],
        [.init("size", ascending: false), .init("created_at", ascending: true)],
    ]

    @Test("sorting by one or several keys, ascending and descending", arguments: sortOrders)
    func sorting(sort: [ListQuery.SortKey]) async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let vols = try await seedPagingSet(store).filter { $0.projectID == "p1" }
            let got = try await store.list(ListQuery(projectID: "p1", sort: sort))
            let expected = Self.expectedOrder(vols, sort: sort)
            #expect(got.map(\.id) == expected.map(\.id))
        }
    }

    @Test("keyset pagination with a marker visits every row exactly once", arguments: sortOrders)
    func markerPagination(sort: [ListQuery.SortKey]) async throws {
        try await withFileDatabase { db, _ in
            let store = VolumeStore(db: db)
            let vols = try await seedPagingSet(store).filter { $0.projectID == "p1" }
            let expected = Self.expectedOrder(vols, sort: sort).map(\.id)
            for pageSize in [1, 3, 5] {
                var seen: [String] = []
                var marker: String? = nil
                var pages = 0
                while pages <= vols.count + 1 {
                    pages += 1
                    let page = try await store.list(ListQuery(projectID: "p1", sort: sort, limit: pageSize, marker: marker))
                    #expect(page.count <= pageSize)
                    seen += page.map(\.id)
                    guard page.count == pageSize, let last = page.last else { break }
                    marker = last.id
                }
                #expect(seen == expected, "page size \(pageSize)")
                #expect(Set(seen).count == seen.count, "no row twice with page size \(pageSize)")
            }
        }
    }

    @Test("pagination across all projects includes every project's rows once")
    func markerPaginationAllProjects() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let vols = try await seedPagingSet(store)
            var seen: [String] = []
            var marker: String? = nil
            for _ in 0...vols.count {
                let page = try await store.list(ListQuery(projectID: nil, limit: 4, marker: marker))
                seen += page.map(\.id)
                guard page.count == 4 else { break }
                marker = page.last?.id
            }
            #expect(seen.count == vols.count)
            #expect(Set(seen) == Set(vols.map(\.id)))
        }
    }

    @Test("pagination by name is consistent when NULL and empty names are mixed")
    func markerPaginationNullAndEmptyNames() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            // NULL and "" both fold to "" in the keyset predicate, but ORDER BY name keeps NULLs apart from "".
            let vols = [
                makeVolume(id: "e-1", name: nil, offset: 1),
                makeVolume(id: "e-2", name: "", offset: 2),
                makeVolume(id: "e-3", name: nil, offset: 3),
                makeVolume(id: "e-4", name: "x", offset: 4),
            ]
            for v in vols { try await store.insert(v) }
            let sort = [ListQuery.SortKey("name", ascending: true)]
            let all = try await store.list(ListQuery(projectID: "p1", sort: sort)).map(\.id)
            var seen: [String] = []
            var marker: String? = nil
            for _ in 0...vols.count {
                let page = try await store.list(ListQuery(projectID: "p1", sort: sort, limit: 1, marker: marker))
                seen += page.map(\.id)
                guard let last = page.last else { break }
                marker = last.id
            }
            #expect(all.count == 4)
            #expect(seen == all)
        }
    }

    @Test("an unknown marker, or one from another project, is .notFound")
    func unknownMarker() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let vols = try await seedPagingSet(store)
            let missing = await ashlarError { _ = try await store.list(ListQuery(projectID: "p1", marker: "no-such-id")) }
            #expect(missing?.code == .notFound)
            let foreign = try #require(vols.first { $0.projectID == "p2" })
            let hidden = await ashlarError { _ = try await store.list(ListQuery(projectID: "p1", marker: foreign.id)) }
            #expect(hidden?.code == .notFound)
            // The same marker is fine when listing all projects.
            _ = try await store.list(ListQuery(projectID: nil, marker: foreign.id))
        }
    }

    @Test("limit and offset")
    func limitAndOffset() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let vols = try await seedPagingSet(store).filter { $0.projectID == "p1" }
            let sort = [ListQuery.SortKey("size", ascending: true)]
            let expected = Self.expectedOrder(vols, sort: sort).map(\.id)
            #expect(try await store.list(ListQuery(projectID: "p1", sort: sort, limit: 4)).map(\.id) == Array(expected[0..<4]))
            #expect(
                try await store.list(ListQuery(projectID: "p1", sort: sort, limit: 3, offset: 2)).map(\.id)
                    == Array(expected[2..<5]))
            #expect(
                try await store.list(ListQuery(projectID: "p1", sort: sort, offset: 9)).map(\.id) == Array(expected[9...]))
            #expect(try await store.list(ListQuery(projectID: "p1", sort: sort, offset: 100)).isEmpty)
            #expect(try await store.list(ListQuery(projectID: "p1", sort: sort, limit: 0)).isEmpty)
            #expect(try await store.list(ListQuery(projectID: "p1", sort: sort, offset: 0)).count == expected.count)
            // Offset counts from the marker.
            let afterMarker = try await store.list(
                ListQuery(projectID: "p1", sort: sort, limit: 2, marker: expected[1], offset: 1))
            #expect(afterMarker.map(\.id) == Array(expected[3..<5]))
        }
    }

    // MARK: - Aggregates

    @Test("count ignores pagination; totals sum sizes")
    func countAndTotals() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let vols = try await seedPagingSet(store)
            let p1 = vols.filter { $0.projectID == "p1" }
            #expect(try await store.count(ListQuery(projectID: "p1", limit: 2, offset: 3)) == p1.count)
            #expect(try await store.count(ListQuery(projectID: nil)) == vols.count)
            #expect(
                try await store.count(ListQuery(projectID: "p1", conditions: [.init("size", .gte, .int(3))]))
                    == p1.filter { $0.size >= 3 }.count)
            let t1 = try await store.totals(projectID: "p1")
            #expect(t1.count == p1.count)
            #expect(t1.gigabytes == p1.reduce(0) { $0 + $1.size })
            let all = try await store.totals(projectID: nil)
            #expect(all.count == vols.count)
            #expect(all.gigabytes == vols.reduce(0) { $0 + $1.size })
            let none = try await store.totals(projectID: "empty-project")
            #expect(none.count == 0)
            #expect(none.gigabytes == 0)
            let filtered = try await store.totals(
                projectID: "p1", query: ListQuery(projectID: "p1", conditions: [.init("status", .eq, .string("error"))]))
            let errors = p1.filter { $0.status == .error }
            #expect(filtered.count == errors.count)
            #expect(filtered.gigabytes == errors.reduce(0) { $0 + $1.size })
        }
    }

    @Test("countsByStatus groups every row")
    func countsByStatus() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            #expect(try await store.countsByStatus().isEmpty)
            let vols = try await seedPagingSet(store)
            var expected: [String: Int] = [:]
            for v in vols { expected[v.status.rawValue, default: 0] += 1 }
            #expect(try await store.countsByStatus() == expected)
        }
    }

    @Test("onBackend matches host@backend#pool for any pool, nothing else")
    func onBackend() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            try await store.insert(makeVolume(id: "b-1", host: "node@lvm#pool1"))
            try await store.insert(makeVolume(id: "b-2", project: "p2", host: "node@lvm#pool2"))
            try await store.insert(makeVolume(id: "b-3", host: "node@lvm2#pool1"))
            try await store.insert(makeVolume(id: "b-4", host: "node@lv#pool1"))
            try await store.insert(makeVolume(id: "b-5", host: "other@lvm#pool1"))
            try await store.insert(makeVolume(id: "b-6", host: nil))
            try await store.insert(makeVolume(id: "b-7", host: "xnode@lvm#pool1"))
            #expect(Set(try await store.onBackend("node@lvm").map(\.id)) == ["b-1", "b-2"])
            #expect(Set(try await store.onBackend("node@lvm2").map(\.id)) == ["b-3"])
            #expect(try await store.onBackend("node@none").isEmpty)
        }
    }

    @Test("onBackend takes _ in a backend name literally")
    func onBackendUnderscore() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            try await store.insert(makeVolume(id: "u-1", host: "node@lvm_1#pool"))
            try await store.insert(makeVolume(id: "u-2", host: "node@lvmX1#pool"))
            let found = Set(try await store.onBackend("node@lvm_1").map(\.id))
            #expect(found.contains("u-1"))
            #expect(found == ["u-1"])
        }
    }

    // MARK: - Compare-and-swap

    @Test("update applies when the condition matches and sets updated_at")
    func casMatches() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume(status: .available, host: "n@b#p")
            try await store.insert(v)
            let before = Date()
            let updated = try #require(
                try await store.apply(.deleteRequested, to: v.id, where: .init(statusIn: [.available, .error])))
            #expect(updated.status == .deleting)
            #expect(updated.host == "n@b#p")
            let updatedAt = try #require(updated.updatedAt)
            #expect(updatedAt.timeIntervalSince1970 >= before.timeIntervalSince1970 - 1)
            #expect(try await store.get(v.id)?.status == .deleting)
        }
    }

    @Test("update returns nil and leaves the row unchanged when the condition does not match")
    func casMisses() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume(status: .creating, metadata: ["a": "1"])
            try await store.insert(v)
            let result = try await store.apply(
                .deleteRequested, to: v.id, where: .init(statusIn: [.available]), also: .init(name: .some("renamed")))
            #expect(result == nil)
            let after = try #require(try await store.get(v.id))
            #expect(after.status == .creating)
            #expect(after.name == nil)
            #expect(after.updatedAt == nil)
            #expect(after.metadata == ["a": "1"])
            // statusNotIn and attachStatusNot.
            #expect(try await store.update(v.id, where: .init(statusNotIn: [.creating]), set: .init(size: 9)) == nil)
            #expect(try await store.update(v.id, where: .init(attachStatusNot: .detached), set: .init(size: 9)) == nil)
            #expect(try await store.get(v.id)?.size == v.size)
            #expect(try await store.update(v.id, where: .init(statusNotIn: [.available]), set: .init(size: 9))?.size == 9)
            #expect(try await store.update(v.id, where: .init(attachStatusNot: .attached), set: .init(size: 10))?.size == 10)
            // A missing row is a miss too.
            #expect(try await store.update("missing", set: .init(size: 3)) == nil)
            #expect(try await store.apply(.reset, to: "missing", choosing: .error) == nil)
        }
    }

    @Test("VolumeUpdate sets each column; double optionals clear nullable columns")
    func updateColumns() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume(name: "n", host: "a@b#c", description: "d")
            try await store.insert(v)
            let launched = Date(timeIntervalSince1970: 1_750_000_000.5)
            let u = try #require(
                try await store.apply(
                    .reset, to: v.id, choosing: .inUse,
                    also: .init(
                        attachStatus: .attached, host: .some("x@y#z"), name: .some("new name"),
                        description: .some(nil), size: 20, bootable: true, availabilityZone: "az2",
                        migrationStatus: .some("success"), previousStatus: .some("available"), metadata: ["m": "1"],
                        adminMetadata: ["readonly": "True"], imageMetadata: ["i": "2"], launchedAt: launched)))
            #expect(u.status == .inUse)
            #expect(u.attachStatus == .attached)
            #expect(u.host == "x@y#z")
            #expect(u.name == "new name")
            #expect(u.description == nil)
            #expect(u.size == 20)
            #expect(u.bootable)
            #expect(u.availabilityZone == "az2")
            #expect(u.migrationStatus == "success")
            #expect(u.previousStatus == "available")
            #expect(u.metadata == ["m": "1"])
            #expect(u.adminMetadata == ["readonly": "True"])
            #expect(u.imageMetadata == ["i": "2"])
            #expect(closeEnough(u.launchedAt, launched))
            // Untouched columns stay.
            #expect(u.projectID == v.projectID)
            #expect(u.volumeTypeID == v.volumeTypeID)
            #expect(closeEnough(u.createdAt, v.createdAt))
            // Clearing with .some(nil); plain nil leaves alone.
            let cleared = try #require(try await store.update(v.id, set: .init(host: .some(nil), name: .some(nil))))
            #expect(cleared.host == nil)
            #expect(cleared.name == nil)
            #expect(cleared.status == .inUse)
            #expect(cleared.migrationStatus == "success")
            #expect(try await store.get(v.id) == cleared)
        }
    }

    @Test("metadataEquals makes read-modify-write of metadata safe")
    func metadataCAS() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume(metadata: ["a": "1", "b": "2"])
            try await store.insert(v)
            // Key order does not matter: the stored form is canonical.
            let first = try await store.update(
                v.id, where: .init(metadataEquals: ["b": "2", "a": "1"]), set: .init(metadata: ["a": "1", "b": "3"]))
            #expect(first?.metadata == ["a": "1", "b": "3"])
            // A writer that read the old map loses.
            let stale = try await store.update(
                v.id, where: .init(metadataEquals: ["a": "1", "b": "2"]), set: .init(metadata: ["a": "x"]))
            #expect(stale == nil)
            #expect(try await store.get(v.id)?.metadata == ["a": "1", "b": "3"])
            // Image and admin metadata conditions.
            #expect(
                try await store.update(v.id, where: .init(imageMetadataEquals: ["x": "y"]), set: .init(imageMetadata: [:]))
                    == nil)
            #expect(
                try await store.update(v.id, where: .init(imageMetadataEquals: [:]), set: .init(imageMetadata: ["x": "y"]))?
                    .imageMetadata == ["x": "y"])
            #expect(
                try await store.update(
                    v.id, where: .init(adminMetadataEquals: ["readonly": "True"]), set: .init(adminMetadata: [:])) == nil)
            #expect(
                try await store.update(
                    v.id, where: .init(adminMetadataEquals: [:]), set: .init(adminMetadata: ["readonly": "True"]))?
                    .adminMetadata == ["readonly": "True"])
        }
    }

    @Test("of 20 concurrent available → deleting swaps exactly one wins")
    func concurrentCAS() async throws {
        try await withFileDatabase { db, _ in
            let store = VolumeStore(db: db)
            let v = makeVolume(status: .available)
            try await store.insert(v)
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.apply(.deleteRequested, to: v.id, where: .init(statusIn: [.available]))
                            != nil
                    }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(winners == 1)
            #expect(try await store.get(v.id)?.status == .deleting)
        }
    }

    @Test("concurrent swaps through two handles on the same file: exactly one wins")
    func concurrentCASTwoHandles() async throws {
        try await withFileDatabase { db, dir in
            let other = try await AshlarDatabase.open(
                connection: "sqlite:///" + dir.appendingPathComponent("ashlar.sqlite").path, logger: quietLogger)
            do {
                try await Self.raceThroughTwoHandles(db, other)
                await other.close()
            } catch {
                await other.close()
                throw error
            }
        }
    }

    private static func raceThroughTwoHandles(_ db: AshlarDatabase, _ other: AshlarDatabase) async throws {
        do {
            let stores = [VolumeStore(db: db), VolumeStore(db: other)]
            let v = makeVolume(status: .available)
            try await stores[0].insert(v)
            #expect(try await stores[1].get(v.id)?.id == v.id)
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<20 {
                    let store = stores[i % 2]
                    group.addTask {
                        try await store.apply(.deleteRequested, to: v.id, where: .init(statusIn: [.available]))
                            != nil
                    }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(winners == 1)
            #expect(try await stores[1].get(v.id)?.status == .deleting)
        }
    }

    // MARK: - Delete

    @Test("delete with expected statuses removes only matching rows")
    func deleteExpected() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            let v = makeVolume(status: .available)
            try await store.insert(v)
            #expect(try await store.delete(v.id, expected: [.deleting, .errorDeleting]) == false)
            #expect(try await store.get(v.id) != nil)
            #expect(try await store.delete(v.id, expected: [.available]))
            #expect(try await store.get(v.id) == nil)
            #expect(try await store.delete(v.id) == false)
            let w = makeVolume(status: .error)
            try await store.insert(w)
            #expect(try await store.delete(w.id))
            #expect(try await store.get(w.id) == nil)
        }
    }

    @Test("anyUses finds volumes of a type")
    func anyUses() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeStore(db: db)
            #expect(try await store.anyUses(typeID: "type-1") == false)
            try await store.insert(makeVolume())
            #expect(try await store.anyUses(typeID: "type-1"))
            #expect(try await store.anyUses(typeID: "type-2") == false)
        }
    }
}
