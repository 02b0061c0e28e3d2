import AshlarCore
import Foundation
import SQLKit
import Testing

@testable import AshlarStore
import AshlarTestSupport

/// A store with cinder's defaults unless told otherwise.
private func quotaStore(
    _ db: AshlarDatabase, _ defaults: QuotaDefaults = QuotaDefaults(), noSnapshotGigabytes: Bool = false
) -> QuotaStore {
    QuotaStore(db: db, defaults: defaults, noSnapshotGigabytes: noSnapshotGigabytes)
}

/// Types `gold` (id `type-1`, the one `makeVolume` uses) and `silver` (id `type-2`).
private func addTypes(_ db: AshlarDatabase) async throws {
    try await VolumeTypeStore(db: db).insert(VolumeType(id: "type-1", name: "gold"))
    try await VolumeTypeStore(db: db).insert(VolumeType(id: "type-2", name: "silver"))
}

private func addVolume(
    _ db: AshlarDatabase, project: String = "p1", size: Int, typeID: String = "type-1", extendTo: Int? = nil,
    consumesQuota: Bool = true
) async throws {
    var volume = makeVolume(project: project, size: size)
    volume.volumeTypeID = typeID
    volume.extendTo = extendTo
    volume.consumesQuota = consumesQuota
    try await VolumeStore(db: db).insert(volume)
}

private func addSnapshot(
    _ db: AshlarDatabase, project: String = "p1", size: Int, typeID: String = "type-1", consumesQuota: Bool = true
) async throws {
    try await db.write.insert(into: "snapshots")
        .columns(
            "id", "project_id", "user_id", "volume_id", "status", "progress", "volume_size", "volume_type_id",
            "consumes_quota", "metadata", "created_at"
        )
        .values(
            SQLBind(UUID().uuidString.lowercased()), SQLBind(project), SQLBind("u1"), SQLBind("some-volume"),
            SQLBind("available"), SQLBind("100%"), SQLBind(size), SQLBind(typeID), SQLBind(consumesQuota),
            SQLBind("{}"), SQLBind(baseTime.stored)
        )
        .run()
}

/// `INSERT INTO volumes (…) SELECT <binds> WHERE <admission>`, as the API creates volumes; true when admitted.
private func admittedInsert(
    _ db: AshlarDatabase, _ store: QuotaStore, project: String, size: Int, typeID: String = "type-1",
    typeName: String? = "gold", limits: [String: Int]
) async throws -> Bool {
    let predicate = store.admission(
        projectID: project, deltas: .volume(size: size, volumeTypeName: typeName), limits: limits)
    let values: [any SQLExpression] = [
        SQLBind(UUID().uuidString.lowercased()), SQLBind(project), SQLBind("u1"), SQLBind(size),
        SQLBind("creating"), SQLBind("detached"), SQLBind("nova"), SQLBind(typeID), SQLBind(false), SQLBind(false),
        SQLBind(false), SQLBind(true), SQLBind("{}"), SQLBind("{}"), SQLBind("{}"), SQLBind(Date().stored),
    ]
    let rows = try await db.write.insert(into: "volumes")
        .columns(
            "id", "project_id", "user_id", "size", "status", "attach_status", "availability_zone", "volume_type_id",
            "bootable", "multiattach", "encrypted", "consumes_quota", "metadata", "admin_metadata", "image_metadata",
            "created_at"
        )
        .select { sub in
            for value in values { sub.column(value) }
            if let predicate { sub.where(predicate) }
            return sub
        }
        .returning("id").all()
    return !rows.isEmpty
}

@Suite("QuotaStore", .timeLimit(.minutes(2)))
struct QuotaStoreTests {
    // MARK: - Limits

    @Test("a project's own limit wins over the default class, which wins over the configuration")
    func limitsPrecedence() async throws {
        try await withMemoryDatabase { db in
            try await addTypes(db)
            let store = quotaStore(db, QuotaDefaults(volumes: 4, perVolumeSizeLimit: 20))
            var limits = try await store.limits(projectID: "p1")
            #expect(Set(limits.keys) == Set(QuotaResource.all(typeNames: ["gold", "silver"])))
            #expect(limits["volumes"] == 4)
            #expect(limits["gigabytes"] == 1000)
            #expect(limits["per_volume_gigabytes"] == 20)
            #expect(limits["volumes_gold"] == -1)
            #expect(limits["snapshots_silver"] == -1)

            try await store.setClassLimits("default", ["volumes": 6, "gigabytes_gold": 50])
            try await store.setClassLimits("premium", ["gigabytes": 5000])
            try await store.setLimits(projectID: "p1", ["volumes": 8])
            limits = try await store.limits(projectID: "p1")
            #expect(limits["volumes"] == 8)
            #expect(limits["gigabytes_gold"] == 50)
            #expect(limits["gigabytes"] == 1000)
            #expect(try await store.limits(projectID: "p2")["volumes"] == 6)

            let defaults = try await store.defaults()
            #expect(defaults["volumes"] == 6)
            #expect(defaults["gigabytes_gold"] == 50)
            #expect(defaults["snapshots"] == 10)
            let premium = try await store.classLimits("premium")
            #expect(premium["gigabytes"] == 5000)
            #expect(premium["volumes"] == 6)

            // Upserts: a second set changes the row, the others stay.
            try await store.setLimits(projectID: "p1", ["volumes": 9, "snapshots": 1])
            limits = try await store.limits(projectID: "p1")
            #expect(limits["volumes"] == 9)
            #expect(limits["snapshots"] == 1)
            try await store.deleteLimits(projectID: "p1")
            #expect(try await store.limits(projectID: "p1") == defaults)
        }
    }

    @Test("rows of a deleted volume type are not reported")
    func deletedTypeRowsIgnored() async throws {
        try await withMemoryDatabase { db in
            try await addTypes(db)
            let store = quotaStore(db)
            try await store.setLimits(projectID: "p1", ["volumes_silver": 3])
            #expect(try await store.limits(projectID: "p1")["volumes_silver"] == 3)
            _ = try await VolumeTypeStore(db: db).delete(id: "type-2")
            let limits = try await store.limits(projectID: "p1")
            #expect(limits["volumes_silver"] == nil)
            #expect(limits["volumes_gold"] == -1)
        }
    }

    // MARK: - Usage

    @Test(
        "usage counts rows that consume quota, extends at their target size, snapshots, and per type",
        arguments: DatabaseKind.allCases)
    func usageFormulas(kind: DatabaseKind) async throws {
        try await withDatabase(kind) { db in
            try await addTypes(db)
            let store = quotaStore(db)
            try await addVolume(db, size: 10)
            try await addVolume(db, size: 5, extendTo: 8)  // an extend under way counts at 8
            try await addVolume(db, size: 7, typeID: "type-2")
            try await addVolume(db, size: 100, consumesQuota: false)  // a failed create: released
            try await addVolume(db, project: "p2", size: 50)
            try await addSnapshot(db, size: 10)
            try await addSnapshot(db, size: 7, typeID: "type-2")
            try await addSnapshot(db, size: 40, consumesQuota: false)
            try await addSnapshot(db, project: "p2", size: 3)

            let usage = try await store.usage(projectID: "p1")
            #expect(usage["volumes"] == 3)
            #expect(usage["gigabytes"] == 10 + 8 + 7 + 10 + 7)
            #expect(usage["snapshots"] == 2)
            #expect(usage["volumes_gold"] == 2)
            #expect(usage["gigabytes_gold"] == 10 + 8 + 10)
            #expect(usage["snapshots_gold"] == 1)
            #expect(usage["volumes_silver"] == 1)
            #expect(usage["gigabytes_silver"] == 14)
            #expect(usage["snapshots_silver"] == 1)
            for uncounted in ["backups", "backup_gigabytes", "groups", "per_volume_gigabytes"] {
                #expect(usage[uncounted] == 0, "\(uncounted)")
            }
            let other = try await store.usage(projectID: "p2")
            #expect(other["volumes"] == 1)
            #expect(other["gigabytes"] == 53)
            let empty = try await store.usage(projectID: "nobody")
            #expect(empty["gigabytes"] == 0)
            #expect(empty["volumes_gold"] == 0)
        }
    }

    @Test("no_snapshot_gb_quota leaves snapshots out of the gigabytes, in usage and in admission")
    func noSnapshotGigabytes() async throws {
        try await withMemoryDatabase { db in
            try await addTypes(db)
            let store = quotaStore(db, noSnapshotGigabytes: true)
            try await addVolume(db, size: 10)
            try await addSnapshot(db, size: 10)
            let usage = try await store.usage(projectID: "p1")
            #expect(usage["gigabytes"] == 10)
            #expect(usage["gigabytes_gold"] == 10)
            #expect(usage["snapshots"] == 1)
            let limits = ["gigabytes": 15, "gigabytes_gold": 15]
            #expect(
                try await store.fits(projectID: "p1", deltas: .volume(size: 5, volumeTypeName: "gold"), limits: limits))
            // Counting snapshots, the same volume would not fit.
            let counting = quotaStore(db)
            #expect(
                !(try await counting.fits(
                    projectID: "p1", deltas: .volume(size: 5, volumeTypeName: "gold"), limits: limits)))
            #expect(store.snapshotDeltas(size: 4, volumeTypeName: nil).gigabytes == 0)
            #expect(counting.snapshotDeltas(size: 4, volumeTypeName: nil).gigabytes == 4)
        }
    }

    // MARK: - Admission

    @Test("admission holds up to the limit and not one past it", arguments: DatabaseKind.allCases)
    func admissionBoundary(kind: DatabaseKind) async throws {
        try await withDatabase(kind) { db in
            try await addTypes(db)
            let store = quotaStore(db)
            try await addVolume(db, size: 6, extendTo: 8)
            try await addSnapshot(db, size: 2)
            // Used: 1 volume, 8 + 2 = 10 GB, 1 snapshot.
            let limits = ["volumes": 2, "gigabytes": 15, "snapshots": 1, "volumes_gold": -1]
            #expect(
                try await store.fits(projectID: "p1", deltas: .volume(size: 5, volumeTypeName: "gold"), limits: limits))
            #expect(
                !(try await store.fits(
                    projectID: "p1", deltas: .volume(size: 6, volumeTypeName: "gold"), limits: limits)))
            #expect(!(try await store.fits(projectID: "p1", deltas: .init(volumes: 2), limits: limits)))
            #expect(
                !(try await store.fits(projectID: "p1", deltas: .snapshot(size: 1, volumeTypeName: nil), limits: limits))
            )
            // Per type: the gold type's own limit.
            let typed = ["volumes_gold": 1]
            #expect(
                !(try await store.fits(projectID: "p1", deltas: .volume(size: 1, volumeTypeName: "gold"), limits: typed))
            )
            #expect(
                try await store.fits(projectID: "p1", deltas: .volume(size: 1, volumeTypeName: "silver"), limits: typed)
            )
            // Another project's usage is its own.
            #expect(
                try await store.fits(projectID: "p2", deltas: .volume(size: 15, volumeTypeName: "gold"), limits: limits)
            )
        }
    }

    @Test("no predicate when nothing the deltas grow is limited")
    func admissionNilWhenUnlimited() async throws {
        try await withMemoryDatabase { db in
            let store = quotaStore(db)
            let unlimited = ["volumes": -1, "gigabytes": -1]
            #expect(
                store.admission(projectID: "p1", deltas: .volume(size: 5, volumeTypeName: nil), limits: unlimited)
                    == nil)
            #expect(
                store.admission(
                    projectID: "p1", deltas: QuotaDeltas(volumes: -1, gigabytes: -5), limits: ["volumes": 0]) == nil)
            #expect(
                store.admission(projectID: "p1", deltas: .volume(size: 5, volumeTypeName: nil), limits: ["volumes": 0])
                    != nil)
            let fits = try await store.fits(
                projectID: "p1", deltas: .volume(size: 5, volumeTypeName: nil), limits: unlimited)
            #expect(fits)
        }
    }

    @Test("the predicate admits an extend in the UPDATE that records it")
    func admissionInUpdate() async throws {
        try await withMemoryDatabase { db in
            try await addTypes(db)
            let store = quotaStore(db)
            var volume = makeVolume(project: "p1", size: 10)
            volume.volumeTypeID = "type-1"
            try await VolumeStore(db: db).insert(volume)
            let limits = ["gigabytes": 20, "gigabytes_gold": 18]
            func extend(to size: Int) async throws -> Bool {
                let predicate = try #require(
                    store.admission(
                        projectID: "p1", deltas: .extend(by: size - 10, volumeTypeName: "gold"), limits: limits))
                return try await !db.write.update("volumes").set("extend_to", to: size)
                    .where("id", .equal, volume.id).where(predicate).returning("id").all().isEmpty
            }
            #expect(!(try await extend(to: 19)))  // gigabytes_gold: 10 + 9 > 18
            #expect(try await extend(to: 18))
            #expect(try await store.usage(projectID: "p1")["gigabytes"] == 18)
        }
    }

    @Test("200 concurrent admitted inserts against a limit of 7 admit exactly 7", arguments: DatabaseKind.allCases)
    func concurrentInsertsNeverOvershoot(kind: DatabaseKind) async throws {
        try await withDatabase(kind) { db in
            try await addTypes(db)
            let store = quotaStore(db)
            try await store.setLimits(projectID: "p1", ["volumes": 7])
            let limits = try await store.limits(projectID: "p1")
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<200 {
                    group.addTask { try await admittedInsert(db, store, project: "p1", size: 1, limits: limits) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(admitted == 7)
            #expect(try await store.usage(projectID: "p1")["volumes"] == 7)
            // Another project is not held back by p1's usage.
            #expect(try await admittedInsert(db, store, project: "p2", size: 1, limits: limits))
        }
    }

    @Test(
        "two pools on one PostgreSQL database, as two API processes, never admit past the limit",
        .enabled(if: TestPostgres.isAvailable || TestPostgres.isRequired, "PostgreSQL is not installed"))
    func twoProcessesNeverOvershoot() async throws {
        let url = try await TestPostgres.newDatabase()
        let first = try await AshlarDatabase.open(connection: url, logger: quietLogger)
        let second = try await AshlarDatabase.open(connection: url, logger: quietLogger)
        do {
            try await addTypes(first)
            let stores = [quotaStore(first), quotaStore(second)]
            // Many small rounds: an overshoot needs two checks at the same moment near the limit.
            for round in 0..<25 {
                let project = "p\(round)"
                try await stores[0].setLimits(projectID: project, ["volumes": 3, "gigabytes": 1000])
                let limits = try await stores[1].limits(projectID: project)
                let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for i in 0..<24 {
                        let db = i.isMultiple(of: 2) ? first : second
                        group.addTask {
                            try await admittedInsert(db, stores[i % 2], project: project, size: 2, limits: limits)
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(admitted == 3, "round \(round)")
                #expect(try await stores[round % 2].usage(projectID: project)["gigabytes"] == 6)
            }
        } catch {
            await first.close()
            await second.close()
            throw error
        }
        await first.close()
        await second.close()
    }

    @Test("gigabytes are admitted concurrently without overshoot, per type too")
    func concurrentGigabytes() async throws {
        try await withMemoryDatabase { db in
            try await addTypes(db)
            let store = quotaStore(db)
            let limits = ["gigabytes": 100, "gigabytes_gold": 30]
            let sizes = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<60 {
                    let gold = i.isMultiple(of: 2)
                    group.addTask {
                        let ok = try await admittedInsert(
                            db, store, project: "p1", size: 3, typeID: gold ? "type-1" : "type-2",
                            typeName: gold ? "gold" : "silver", limits: limits)
                        return ok ? 3 : 0
                    }
                }
                return try await group.reduce(0, +)
            }
            let usage = try await store.usage(projectID: "p1")
            #expect(sizes == usage["gigabytes"])
            #expect(usage["gigabytes"]! <= 100)
            #expect(usage["gigabytes"]! > 97)
            #expect(usage["gigabytes_gold"] == 30)
        }
    }

    // MARK: - Refusal

    @Test("a refusal names the first resource over its limit, with live numbers")
    func refusalMessages() async throws {
        try await withMemoryDatabase { db in
            try await addTypes(db)
            let store = quotaStore(db)
            try await addVolume(db, size: 10)
            try await addVolume(db, size: 4)
            try await addSnapshot(db, size: 4)
            let deltas = QuotaDeltas.volume(size: 5, volumeTypeName: "gold")

            var error = try await store.refusal(
                projectID: "p1", deltas: deltas, limits: ["volumes": 2, "gigabytes": 1])
            #expect(error.code == .overLimit)
            #expect(
                error.message
                    == "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota 'volumes'.")

            error = try await store.refusal(projectID: "p1", deltas: deltas, limits: ["gigabytes": 20])
            #expect(
                error.message
                    == "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5G, quota is 20G and 18G has been consumed."
            )

            error = try await store.refusal(projectID: "p1", deltas: deltas, limits: ["gigabytes_gold": 20])
            #expect(error.message.contains("allowed gigabytes_gold quota"))

            error = try await store.refusal(
                projectID: "p1", deltas: .snapshot(size: 1, volumeTypeName: nil), limits: ["snapshots": 1])
            #expect(error.message == "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded")

            // Fits now (freed since): still a 413, naming the limited resources.
            error = try await store.refusal(projectID: "p1", deltas: deltas, limits: ["volumes": 10])
            #expect(error.code == .overLimit)
            #expect(error.message.contains("'volumes'"))
        }
    }
}
