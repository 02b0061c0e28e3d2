import AshlarCore
import Foundation
import SQLKit

/// QoS specs and their associations with volume types. Each change that depends on another row (an association
/// needs the specs to exist and the type to be free; a delete needs no association) is one statement that checks
/// and changes together, so racing requests cannot leave a type pointing at specs that are gone.
public struct QoSSpecsStore: Sendable {
    let db: AshlarDatabase

    public init(db: AshlarDatabase) { self.db = db }

    /// Inserts specs. Throws `.conflict` when the name is taken.
    public func insert(_ q: QoSSpecs) async throws {
        let exists = AshlarError(.conflict, "QoS Specs \(q.name) already exists.")
        if try await get(name: q.name) != nil { throw exists }
        do {
            try await db.write.insert(into: "qos_specs")
                .columns("id", "name", "consumer", "specs", "created_at", "updated_at")
                .values(
                    SQLBind(q.id), SQLBind(q.name), SQLBind(q.consumer.rawValue), SQLBind(encodeMap(q.specs)),
                    SQLBind(q.createdAt.stored), SQLBind(q.updatedAt?.stored)
                )
                .run()
        } catch {
            // A racing insert of the same name loses on the unique index.
            if try await get(name: q.name) != nil { throw exists }
            throw error
        }
    }

    public func get(id: String) async throws -> QoSSpecs? {
        try await db.read.select().column("*").from("qos_specs").where("id", .equal, id).first().map(Self.decode)
    }

    public func get(name: String) async throws -> QoSSpecs? {
        try await db.read.select().column("*").from("qos_specs").where("name", .equal, name).first().map(Self.decode)
    }

    /// All specs, oldest first.
    public func list() async throws -> [QoSSpecs] {
        try await db.read.select().column("*").from("qos_specs").orderBy("created_at").orderBy("id").all()
            .map(Self.decode)
    }

    /// Changes the keys with `change`, retrying when a concurrent change got there first; nil when the specs are
    /// gone.
    public func modifySpecs(
        id: String, _ change: @Sendable ([String: String]) throws -> [String: String]
    ) async throws -> QoSSpecs? {
        for _ in 0..<20 {
            guard let current = try await get(id: id) else { return nil }
            let specs = try change(current.specs)
            let updated = try await db.write.update("qos_specs").set("specs", to: encodeMap(specs))
                .set("updated_at", to: Date().stored).where("id", .equal, id)
                .where("specs", .equal, encodeMap(current.specs)).returning("*").first().map(Self.decode)
            if let updated { return updated }
        }
        throw AshlarError(.conflict, "QoS specs \(id) are being changed concurrently; try again.")
    }

    /// Sets who enforces the specs; false when they are gone.
    @discardableResult
    public func setConsumer(id: String, _ consumer: QoSSpecs.Consumer) async throws -> Bool {
        try await !db.write.update("qos_specs").set("consumer", to: consumer.rawValue)
            .set("updated_at", to: Date().stored).where("id", .equal, id).returning("id").all().isEmpty
    }

    /// Deletes the specs if no volume type points at them; with `force`, takes them off every type first.
    public enum DeleteResult: Sendable { case deleted, notFound, inUse }

    public func delete(id: String, force: Bool) async throws -> DeleteResult {
        for _ in 0..<20 {
            if force { try await disassociateAll(id: id) }
            let deleted = try await db.write.delete(from: "qos_specs").where("id", .equal, id)
                .where(SQLQueryString("NOT EXISTS (SELECT 1 FROM volume_types WHERE qos_specs_id = \(bind: id))"))
                .returning("id").all()
            if !deleted.isEmpty { return .deleted }
            guard try await get(id: id) != nil else { return .notFound }
            // An association came between the two statements of a forced delete: take it off again.
            if !force { return .inUse }
        }
        throw AshlarError(.conflict, "QoS specs \(id) are being associated concurrently; try again.")
    }

    public enum AssociateResult: Sendable { case associated, specsNotFound, typeNotFound, associatedElsewhere(String) }

    /// Points volume type `typeID` at the specs, in one statement that also requires the specs to exist and the
    /// type to be free of other specs.
    public func associate(id: String, typeID: String) async throws -> AssociateResult {
        let changed = try await db.write.update("volume_types").set("qos_specs_id", to: id)
            .set("updated_at", to: Date().stored).where("id", .equal, typeID)
            .where { $0.where("qos_specs_id", .is, SQLLiteral.null).orWhere("qos_specs_id", .equal, id) }
            .where(SQLQueryString("EXISTS (SELECT 1 FROM qos_specs WHERE id = \(bind: id))"))
            .returning("id").all()
        if !changed.isEmpty { return .associated }
        guard try await get(id: id) != nil else { return .specsNotFound }
        guard let type = try await VolumeTypeStore(db: db).get(id: typeID) else { return .typeNotFound }
        return .associatedElsewhere(type.qosSpecsID ?? "")
    }

    /// Takes the specs off volume type `typeID`; false when the type does not exist.
    public func disassociate(id: String, typeID: String) async throws -> Bool {
        try await db.write.update("volume_types").set("qos_specs_id", to: SQLLiteral.null)
            .where("id", .equal, typeID).where("qos_specs_id", .equal, id).run()
        return try await VolumeTypeStore(db: db).get(id: typeID) != nil
    }

    public func disassociateAll(id: String) async throws {
        try await db.write.update("volume_types").set("qos_specs_id", to: SQLLiteral.null)
            .where("qos_specs_id", .equal, id).run()
    }

    /// The volume types that point at the specs, by name.
    public func associations(id: String) async throws -> [(id: String, name: String)] {
        try await db.read.select().column("id").column("name").from("volume_types").where("qos_specs_id", .equal, id)
            .orderBy("name").all()
            .map { (try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self)) }
    }

    static func decode(_ row: any SQLRow) throws -> QoSSpecs {
        let consumer = try row.decode(column: "consumer", as: String.self)
        return QoSSpecs(
            id: try row.decode(column: "id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            consumer: QoSSpecs.Consumer(rawValue: consumer) ?? .backEnd,
            specs: try row.stringMap("specs"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at")
        )
    }
}
