import AshlarCore
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/types/{id}/encryption` (administrators) and `/volumes/{id}/encryption`: how volumes of a type are
/// encrypted, as upstream's `volume_type_encryption` and `volume_encryption_metadata` extensions answer. A
/// type's encryption changes only while no volume uses the type.
struct VolumeTypeEncryptionController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/types/:id/encryption", use: index)
        router.post("/v3/types/:id/encryption", use: create)
        router.get("/v3/types/:id/encryption/:key", use: showItem)
        router.put("/v3/types/:id/encryption/:key", use: update)
        router.delete("/v3/types/:id/encryption/:key", use: delete)
        router.get("/v3/volumes/:id/encryption", use: volumeMetadata)
        router.get("/v3/volumes/:id/encryption/:key", use: volumeMetadataItem)
    }

    func type(_ context: APIRequestContext) async throws -> VolumeType {
        let id = context.parameters.get("id") ?? ""
        guard let type = try await env.types.get(id: id) else { throw AshlarError.volumeTypeNotFound(id) }
        return type
    }

    static func notFound(_ typeID: String) -> AshlarError {
        AshlarError(.notFound, "Volume type encryption for type \(typeID) does not exist.")
    }

    /// The stored row as upstream shows it (its soft-delete columns included).
    static func view(_ e: VolumeTypeEncryption) -> [String: JSONValue] {
        [
            "volume_type_id": .string(e.volumeTypeID), "encryption_id": .string(e.encryptionID),
            "provider": .string(e.provider), "cipher": VolumeView.optional(e.cipher),
            "key_size": e.keySize.map { .int(Int64($0)) } ?? .null,
            "control_location": .string(e.controlLocation.rawValue), "deleted": false,
            "created_at": .string(Timestamp.format(e.createdAt)),
            "updated_at": e.updatedAt.map { .string(Timestamp.format($0)) } ?? .null, "deleted_at": .null,
        ]
    }

    func index(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:volume_type_encryption:get")
        let type = try await type(context)
        guard let encryption = try await env.types.encryption(ofType: type.id) else { return JSONResponse.make([:]) }
        return JSONResponse.make(.object(Self.view(encryption)))
    }

    func showItem(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:volume_type_encryption:get")
        let type = try await type(context)
        let key = context.parameters.get("key") ?? ""
        guard let encryption = try await env.types.encryption(ofType: type.id), let value = Self.view(encryption)[key]
        else { throw Self.notFound(type.id) }
        return JSONResponse.make([key: value])
    }

    /// The fields of a create or update body, validated as upstream's schema does.
    struct EncryptionFields {
        var provider: String?
        var cipher: String??
        var keySize: Int??
        var controlLocation: VolumeTypeEncryption.ControlLocation?
        /// The body's own keys, echoed in the answer as upstream does.
        var echoed: [String: JSONValue]
    }

    static func fields(_ body: Fields) throws(AshlarError) -> EncryptionFields {
        try body.rejectUnknown(["provider", "cipher", "key_size", "control_location"])
        var result = EncryptionFields(echoed: body.values)
        if let provider = try body.string("provider", nullable: false) { result.provider = provider }
        result.cipher = try body.string("cipher")
        if let value = body.values["key_size"] {
            switch value {
            case .null: result.keySize = .some(nil)
            case .int(let n) where n >= 0: result.keySize = .some(Int(n))
            case .string(let s) where Int(s).map { $0 >= 0 } == true: result.keySize = .some(Int(s))
            default:
                throw Fields.invalid("key_size", value, "The key size is a whole number of bits, 0 or more.")
            }
            result.echoed["key_size"] = result.keySize!.map { .int(Int64($0)) } ?? .null
        }
        if let value = body.values["control_location"] {
            guard case .string(let text) = value, let location = VolumeTypeEncryption.ControlLocation(rawValue: text)
            else {
                throw Fields.invalid(
                    "control_location", value, "\(value.rendered) is not one of ['front-end', 'back-end'].")
            }
            result.controlLocation = location
        }
        return result
    }

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:volume_type_encryption:create")
        let body = try await request.object("encryption", context, limit: env.maxRequestBodySize)
        let fields = try Self.fields(body)
        guard let provider = fields.provider, !provider.isEmpty else {
            throw AshlarError(.invalidInput, "Invalid input received: 'provider' is a required property.")
        }
        let type = try await type(context)
        let encryption = VolumeTypeEncryption(
            volumeTypeID: type.id, provider: provider, cipher: fields.cipher ?? nil, keySize: fields.keySize ?? nil,
            controlLocation: fields.controlLocation ?? .frontEnd)
        guard try await env.types.insertEncryption(encryption) else {
            if try await env.volumes.anyUses(typeID: type.id) {
                throw AshlarError(.invalidInput, "Cannot create encryption specs. Volume type in use.")
            }
            throw AshlarError(.invalidInput, "Volume type encryption for type \(type.id) already exists.")
        }
        context.logger.info("volume type \(type.id) encrypted with \(provider)")
        var echoed = fields.echoed
        echoed["volume_type_id"] = .string(type.id)
        echoed["encryption_id"] = .string(encryption.encryptionID)
        return JSONResponse.make(["encryption": .object(echoed)])
    }

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:volume_type_encryption:update")
        let body = try await request.object("encryption", context, limit: env.maxRequestBodySize)
        let fields = try Self.fields(body)
        if let provider = fields.provider, provider.isEmpty {
            throw AshlarError(.invalidInput, "Invalid input received: 'provider' must not be empty.")
        }
        let type = try await type(context)
        guard
            try await env.types.updateEncryption(
                ofType: type.id, provider: fields.provider, cipher: fields.cipher, keySize: fields.keySize,
                controlLocation: fields.controlLocation) != nil
        else {
            if try await env.types.encryption(ofType: type.id) == nil { throw Self.notFound(type.id) }
            throw AshlarError(.invalidInput, "Cannot update encryption specs. Volume type in use.")
        }
        return JSONResponse.make(["encryption": .object(fields.echoed)])
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:volume_type_encryption:delete")
        let type = try await type(context)
        guard try await env.types.deleteEncryption(ofType: type.id) else {
            if try await env.types.encryption(ofType: type.id) == nil { throw Self.notFound(type.id) }
            throw AshlarError(.invalidInput, "Cannot delete encryption specs. Volume type in use.")
        }
        return JSONResponse.empty(.accepted)
    }

    // MARK: Volumes

    /// `encryption_key_id` (none: no volume here is encrypted) and the type's encryption, if it has one.
    func metadata(_ context: APIRequestContext) async throws -> [String: JSONValue] {
        let id = context.parameters.get("id") ?? ""
        guard let volume = try await env.volumes.get(id, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.volumeNotFound(id) }
        var values: [String: JSONValue] = ["encryption_key_id": .null]
        if let encryption = try await env.types.encryption(ofType: volume.volumeTypeID) {
            let view = Self.view(encryption)
            for key in ["control_location", "cipher", "key_size", "provider"] { values[key] = view[key] }
        }
        return values
    }

    func volumeMetadata(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(.object(try await metadata(context)))
    }

    func volumeMetadataItem(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let key = context.parameters.get("key") ?? ""
        guard let value = try await metadata(context)[key] else {
            throw AshlarError(.notFound, "The volume's encryption metadata has no key \(key).")
        }
        return JSONResponse.make(value)
    }
}
