import AshlarCore
import Foundation
import SQLKit

extension VolumeTypeStore {
    /// The type's encryption, if it has one.
    public func encryption(ofType typeID: String) async throws -> VolumeTypeEncryption? {
        try await db.read.select().column("*").from("volume_type_encryption").where("volume_type_id", .equal, typeID)
            .first().map(Self.decodeEncryption)
    }

    /// Adds the type's encryption, if in the same statement it has none and no volume uses the type; false
    /// otherwise.
    public func insertEncryption(_ e: VolumeTypeEncryption) async throws -> Bool {
        let rows = try await db.write.insert(into: "volume_type_encryption")
            .columns(
                "volume_type_id", "encryption_id", "provider", "cipher", "key_size", "control_location", "created_at",
                "updated_at"
            )
            .select { select in
                select.columns(
                    SQLBind(e.volumeTypeID), SQLBind(e.encryptionID), SQLBind(e.provider), SQLBind(e.cipher),
                    SQLBind(e.keySize), SQLBind(e.controlLocation.rawValue), SQLBind(e.createdAt.stored),
                    SQLBind(e.updatedAt?.stored)
                )
                .where(Self.typeUnused(e.volumeTypeID))
                .where(SQLQueryString(
                    "NOT EXISTS (SELECT 1 FROM volume_type_encryption WHERE volume_type_id = \(bind: e.volumeTypeID))"))
            }
            .returning("volume_type_id").all()
        return !rows.isEmpty
    }

    /// Changes the given fields while no volume uses the type; the encryption as changed, or nil when there is
    /// none or the type is in use.
    public func updateEncryption(
        ofType typeID: String, provider: String?, cipher: String??, keySize: Int??,
        controlLocation: VolumeTypeEncryption.ControlLocation?
    ) async throws -> VolumeTypeEncryption? {
        let builder = db.write.update("volume_type_encryption").set("updated_at", to: Date().stored)
            .where("volume_type_id", .equal, typeID).where(Self.typeUnused(typeID))
        if let provider { builder.set("provider", to: provider) }
        if let cipher { builder.set("cipher", to: SQLBind(cipher)) }
        if let keySize { builder.set("key_size", to: SQLBind(keySize)) }
        if let controlLocation { builder.set("control_location", to: controlLocation.rawValue) }
        return try await builder.returning("*").first().map(Self.decodeEncryption)
    }

    /// Removes the type's encryption while no volume uses the type; false when none went.
    public func deleteEncryption(ofType typeID: String) async throws -> Bool {
        try await !db.write.delete(from: "volume_type_encryption").where("volume_type_id", .equal, typeID)
            .where(Self.typeUnused(typeID)).returning("volume_type_id").all().isEmpty
    }

    static func typeUnused(_ typeID: String) -> any SQLExpression {
        SQLQueryString("NOT EXISTS (SELECT 1 FROM volumes WHERE volumes.volume_type_id = \(bind: typeID))")
    }

    static func decodeEncryption(_ row: any SQLRow) throws -> VolumeTypeEncryption {
        VolumeTypeEncryption(
            volumeTypeID: try row.decode(column: "volume_type_id", as: String.self),
            encryptionID: try row.decode(column: "encryption_id", as: String.self),
            provider: try row.decode(column: "provider", as: String.self),
            cipher: try row.optional("cipher", String.self),
            keySize: try row.optional("key_size", Int.self),
            controlLocation: VolumeTypeEncryption.ControlLocation(
                rawValue: try row.decode(column: "control_location", as: String.self)) ?? .frontEnd,
            createdAt: try row.date("created_at"),
            updatedAt: try row.optionalDate("updated_at"))
    }
}
