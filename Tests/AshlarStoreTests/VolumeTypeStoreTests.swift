import AshlarCore
import Foundation
import Testing

@testable import AshlarStore

@Suite("VolumeTypeStore", .timeLimit(.minutes(1)))
struct VolumeTypeStoreTests {
    @Test("insert and get by id, by name, and find by either")
    func insertAndFind() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            let t = VolumeType(
                name: "gold", description: "fast", isPublic: false,
                extraSpecs: ["volume_backend_name": "lvm", "multiattach": "<is> True"], qosSpecsID: "qos-1",
                createdAt: Date(timeIntervalSince1970: 1_700_000_001.25), updatedAt: nil)
            try await store.insert(t)
            let byID = try #require(try await store.get(id: t.id))
            #expect(byID.name == "gold")
            #expect(byID.description == "fast")
            #expect(byID.isPublic == false)
            #expect(byID.extraSpecs == t.extraSpecs)
            #expect(byID.isMultiattach)
            #expect(byID.qosSpecsID == "qos-1")
            #expect(closeEnough(byID.createdAt, t.createdAt))
            #expect(byID.updatedAt == nil)
            #expect(try await store.get(name: "gold")?.id == t.id)
            #expect(try await store.find(t.id)?.name == "gold")
            #expect(try await store.find("gold")?.id == t.id)
            #expect(try await store.find("silver") == nil)
            #expect(try await store.get(id: "missing") == nil)
            #expect(try await store.get(name: "missing") == nil)
        }
    }

    @Test("find prefers an id over a name")
    func findPrefersID() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            let first = VolumeType(name: "first")
            // A type whose *name* is the other type's id.
            let tricky = VolumeType(name: first.id)
            try await store.insert(first)
            try await store.insert(tricky)
            #expect(try await store.find(first.id)?.id == first.id)
        }
    }

    @Test("a duplicate name is .conflict", arguments: DatabaseKind.allCases)
    func duplicateName(kind: DatabaseKind) async throws {
        try await withDatabase(kind) { db in
            let store = VolumeTypeStore(db: db)
            try await store.insert(VolumeType(name: "gold"))
            let error = await ashlarError { try await store.insert(VolumeType(name: "gold")) }
            #expect(error?.code == .conflict)
            #expect(try await store.list().count == 1)
        }
    }

    @Test("concurrent inserts of one name: one succeeds, the rest are .conflict")
    func concurrentDuplicateNames() async throws {
        try await withFileDatabase { db, _ async throws in
            let store = VolumeTypeStore(db: db)
            let results = await withTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            try await store.insert(VolumeType(name: "race"))
                            return "ok"
                        } catch let error as AshlarError {
                            return error.code.name
                        } catch {
                            return "other: \(error)"
                        }
                    }
                }
                var all: [String] = []
                for await r in group { all.append(r) }
                return all
            }
            #expect(results.filter { $0 == "ok" }.count == 1)
            #expect(results.filter { $0 == AshlarError.Code.conflict.name }.count == 7)
            #expect(try await store.list().count == 1)
        }
    }

    @Test("list orders by name and filters by visibility")
    func list() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            try await store.insert(VolumeType(name: "c", isPublic: true))
            try await store.insert(VolumeType(name: "a", isPublic: false))
            try await store.insert(VolumeType(name: "b", isPublic: true))
            #expect(try await store.list().map(\.name) == ["a", "b", "c"])
            #expect(try await store.list(isPublic: true).map(\.name) == ["b", "c"])
            #expect(try await store.list(isPublic: false).map(\.name) == ["a"])
        }
    }

    @Test("update changes the given fields only")
    func update() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            let t = VolumeType(name: "gold", description: "d", extraSpecs: ["k": "v"])
            try await store.insert(t)
            try await store.insert(VolumeType(name: "silver"))

            let renamed = try #require(try await store.update(id: t.id, name: "platinum"))
            #expect(renamed.name == "platinum")
            #expect(renamed.description == "d")
            #expect(renamed.extraSpecs == ["k": "v"])
            #expect(renamed.updatedAt != nil)

            let cleared = try #require(try await store.update(id: t.id, description: .some(nil), isPublic: false))
            #expect(cleared.description == nil)
            #expect(cleared.isPublic == false)
            #expect(cleared.name == "platinum")

            let specs = try #require(try await store.update(id: t.id, extraSpecs: ["x": "y"]))
            #expect(specs.extraSpecs == ["x": "y"])

            // Renaming onto another type's name is a conflict; onto its own name is fine.
            let conflict = await ashlarError { try await store.update(id: t.id, name: "silver") }
            #expect(conflict?.code == .conflict)
            #expect(try await store.get(id: t.id)?.name == "platinum")
            #expect(try await store.update(id: t.id, name: "platinum")?.name == "platinum")

            // A stale expectation of the specs does not apply.
            #expect(try await store.update(id: t.id, extraSpecs: ["z": "1"], expectedSpecs: ["k": "v"]) == nil)
            #expect(try await store.get(id: t.id)?.extraSpecs == ["x": "y"])

            // A missing type gives nil.
            #expect(try await store.update(id: "missing", description: .some("x")) == nil)
        }
    }

    @Test("modifySpecs applies the change; concurrent changes are all kept")
    func modifySpecs() async throws {
        try await withFileDatabase { db, _ in
            let store = VolumeTypeStore(db: db)
            let t = VolumeType(name: "gold", extraSpecs: ["base": "1"])
            try await store.insert(t)
            let one = try await store.modifySpecs(id: t.id) { specs in
                var s = specs
                s["added"] = "yes"
                return s
            }
            #expect(one.extraSpecs == ["base": "1", "added": "yes"])

            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<6 {
                    group.addTask {
                        _ = try await store.modifySpecs(id: t.id) { specs in
                            var s = specs
                            s["k\(i)"] = "\(i)"
                            return s
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try #require(try await store.get(id: t.id))
            #expect(final.extraSpecs.count == 8)
            for i in 0..<6 { #expect(final.extraSpecs["k\(i)"] == "\(i)") }

            let missing = await ashlarError { _ = try await store.modifySpecs(id: "missing") { $0 } }
            #expect(missing?.code == .notFound)

            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                _ = try await store.modifySpecs(id: t.id) { _ in throw Refused() }
            }
            #expect(try await store.get(id: t.id)?.extraSpecs.count == 8)
        }
    }

    @Test("project access: add, add again, list, remove")
    func access() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            let t = VolumeType(name: "private", isPublic: false)
            try await store.insert(t)
            #expect(try await store.projects(typeID: t.id).isEmpty)
            #expect(try await store.addAccess(typeID: t.id, projectID: "p2"))
            #expect(try await store.addAccess(typeID: t.id, projectID: "p1"))
            #expect(try await store.addAccess(typeID: t.id, projectID: "p1") == false)
            #expect(try await store.projects(typeID: t.id) == ["p1", "p2"])
            #expect(try await store.removeAccess(typeID: t.id, projectID: "p1"))
            #expect(try await store.removeAccess(typeID: t.id, projectID: "p1") == false)
            #expect(try await store.projects(typeID: t.id) == ["p2"])
        }
    }

    @Test("default types: set, replace, get, list, unset")
    func defaults() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            let gold = VolumeType(name: "gold")
            let silver = VolumeType(name: "silver")
            try await store.insert(gold)
            try await store.insert(silver)
            #expect(try await store.defaultTypeID(projectID: "p1") == nil)
            #expect(try await store.isDefaultForAnyProject(typeID: gold.id) == false)

            try await store.setDefault(projectID: "p1", typeID: gold.id)
            try await store.setDefault(projectID: "p0", typeID: silver.id)
            #expect(try await store.defaultTypeID(projectID: "p1") == gold.id)
            #expect(try await store.isDefaultForAnyProject(typeID: gold.id))

            try await store.setDefault(projectID: "p1", typeID: silver.id)
            #expect(try await store.defaultTypeID(projectID: "p1") == silver.id)
            #expect(try await store.isDefaultForAnyProject(typeID: gold.id) == false)
            let all = try await store.defaults()
            #expect(all.map(\.projectID) == ["p0", "p1"])
            #expect(all.map(\.typeID) == [silver.id, silver.id])

            #expect(try await store.unsetDefault(projectID: "p1"))
            #expect(try await store.unsetDefault(projectID: "p1") == false)
            #expect(try await store.defaultTypeID(projectID: "p1") == nil)
            #expect(try await store.defaults().count == 1)
        }
    }

    @Test("delete removes the type once")
    func delete() async throws {
        try await withMemoryDatabase { db in
            let store = VolumeTypeStore(db: db)
            let t = VolumeType(name: "gone")
            try await store.insert(t)
            #expect(try await store.delete(id: t.id))
            #expect(try await store.get(id: t.id) == nil)
            #expect(try await store.delete(id: t.id) == false)
            // The name is free again.
            try await store.insert(VolumeType(name: "gone"))
            #expect(try await store.get(name: "gone") != nil)
        }
    }

    /// Adds access to a type, deletes the type, and returns the access rows left behind.
    private func accessLeftAfterDelete(_ db: AshlarDatabase) async throws -> [String] {
        let store = VolumeTypeStore(db: db)
        let t = VolumeType(name: "private", isPublic: false)
        try await store.insert(t)
        #expect(try await store.addAccess(typeID: t.id, projectID: "p1"))
        #expect(try await store.delete(id: t.id))
        return try await store.projects(typeID: t.id)
    }

    @Test("deleting a type removes its project access rows (file database)")
    func deleteCascadesAccessFile() async throws {
        let left = try await withFileDatabase { db, _ in try await accessLeftAfterDelete(db) }
        #expect(left.isEmpty)
    }

    @Test("deleting a type removes its project access rows (in-memory database)")
    func deleteCascadesAccessMemory() async throws {
        let left = try await withMemoryDatabase { db in try await accessLeftAfterDelete(db) }
        #expect(left.isEmpty)
    }

    @Test("a type that is some project's default cannot be deleted from a file database")
    func deleteDefaultTypeRefused() async throws {
        try await withFileDatabase { db, _ in
            let store = VolumeTypeStore(db: db)
            let t = VolumeType(name: "dflt")
            try await store.insert(t)
            try await store.setDefault(projectID: "p1", typeID: t.id)
            await #expect(throws: (any Error).self) { _ = try await store.delete(id: t.id) }
            #expect(try await store.get(id: t.id) != nil)
        }
    }
}
