import AshlarCore
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/qos-specs`: QoS specs, their keys and their associations with volume types (administrators only, as
/// upstream's policy has it).
struct QoSSpecsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/qos-specs", use: list)
        router.post("/v3/qos-specs", use: create)
        router.get("/v3/qos-specs/:id", use: show)
        router.put("/v3/qos-specs/:id", use: update)
        router.delete("/v3/qos-specs/:id", use: delete)
        router.put("/v3/qos-specs/:id/delete_keys", use: deleteKeys)
        router.get("/v3/qos-specs/:id/associations", use: associations)
        router.get("/v3/qos-specs/:id/associate", use: associate)
        router.get("/v3/qos-specs/:id/disassociate", use: disassociate)
        router.get("/v3/qos-specs/:id/disassociate_all", use: disassociateAll)
    }

    static func notFound(_ id: String) -> AshlarError { AshlarError(.notFound, "QoS spec \(id) could not be found.") }

    func find(_ context: APIRequestContext) async throws -> QoSSpecs {
        let id = context.parameters.get("id") ?? ""
        guard let specs = try await env.qosSpecs.get(id: id) else { throw Self.notFound(id) }
        return specs
    }

    /// The consumer a body names, with upstream's message for one it does not know.
    static func consumer(_ value: JSONValue) throws(AshlarError) -> QoSSpecs.Consumer {
        guard case .string(let text) = value, let consumer = QoSSpecs.Consumer(rawValue: text) else {
            let valid = QoSSpecs.Consumer.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw AshlarError(
                .invalidInput, "Invalid QoS specs: Valid consumer of QoS specs are: [\(valid)] (got \(value.rendered)).")
        }
        return consumer
    }

    /// The keys of a body: strings of at most 255 characters each.
    static func keys(_ values: [String: JSONValue]) throws(AshlarError) -> [String: String] {
        var specs: [String: String] = [:]
        for (key, value) in values {
            guard !key.isEmpty, key.count <= 255, case .string(let text) = value, text.count <= 255 else {
                throw Fields.invalid(key, value, "QoS spec keys and values are strings of 1 to 255 characters.")
            }
            specs[key] = text
        }
        return specs
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:get_all")
        let params = ListParameters(request)
        var all = try await env.qosSpecs.list()
        let filters: [(String, (QoSSpecs) -> String)] = [("id", \.id), ("name", \.name), ("consumer", \.consumer.rawValue)]
        for (key, field) in filters {
            if let wanted = params.value(key) { all = all.filter { field($0) == wanted } }
        }
        let page = try params.page(all, id: \.id, maxLimit: env.osapiMaxLimit).items
        return JSONResponse.make(["qos_specs": .array(page.map(QoSSpecsView.summary))])
    }

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:create")
        let body = try await request.object("qos_specs", context, limit: env.maxRequestBodySize)
        let name = try body.requiredString("name").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else {
            throw AshlarError(.invalidInput, "Invalid input for field/attribute name. The name must not be blank.")
        }
        var values = body.values
        values["name"] = nil
        let consumer = try values.removeValue(forKey: "consumer").map(Self.consumer) ?? .backEnd
        let specs = QoSSpecs(name: name, consumer: consumer, specs: try Self.keys(values))
        try await env.qosSpecs.insert(specs)
        context.logger.info("QoS specs \(specs.id) (\(name)) created")
        return JSONResponse.make(QoSSpecsView.detail(specs, context))
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:get")
        return JSONResponse.make(QoSSpecsView.detail(try await find(context), context))
    }

    /// Sets keys (and the consumer, when given); answers with the body, as upstream does.
    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:update")
        let body = try await request.object("qos_specs", context, limit: env.maxRequestBodySize)
        var values = body.values
        let consumer = try values.removeValue(forKey: "consumer").map(Self.consumer)
        let keys = try Self.keys(values)
        let id = context.parameters.get("id") ?? ""
        guard try await env.qosSpecs.modifySpecs(id: id, { $0.merging(keys) { _, new in new } }) != nil else {
            throw Self.notFound(id)
        }
        if let consumer { try await env.qosSpecs.setConsumer(id: id, consumer) }
        return JSONResponse.make(["qos_specs": .object(body.values)])
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:delete")
        let force = try ListParameters(request).flag("force")
        let id = context.parameters.get("id") ?? ""
        switch try await env.qosSpecs.delete(id: id, force: force) {
        case .deleted: return JSONResponse.empty(.accepted)
        case .notFound: throw Self.notFound(id)
        case .inUse:
            throw AshlarError(
                .invalidInput, "QoS specs \(id) are still associated with volume types; disassociate them or delete with force.")
        }
    }

    func deleteKeys(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:delete_keys")
        guard case .object(let top) = try await request.json(context, limit: env.maxRequestBodySize),
            case .array(let list)? = top["keys"]
        else {
            throw AshlarError(.invalidInput, "Invalid input received: 'keys' is a required property, a list of strings.")
        }
        let keys = try list.map { value throws(AshlarError) -> String in
            guard case .string(let key) = value else { throw Fields.invalid("keys", value, "Keys are strings.") }
            return key
        }
        let id = context.parameters.get("id") ?? ""
        let updated = try await env.qosSpecs.modifySpecs(id: id) { specs in
            if let missing = keys.first(where: { specs[$0] == nil }) {
                throw AshlarError(.notFound, "QoS spec key \(missing) could not be found.")
            }
            return specs.filter { !keys.contains($0.key) }
        }
        guard updated != nil else { throw Self.notFound(id) }
        return JSONResponse.empty(.accepted)
    }

    func associations(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:get_all")
        let specs = try await find(context)
        let types = try await env.qosSpecs.associations(id: specs.id)
        return JSONResponse.make([
            "qos_associations": .array(
                types.map { ["association_type": "volume_type", "name": .string($0.name), "id": .string($0.id)] })
        ])
    }

    static func typeID(_ request: Request) throws(AshlarError) -> String {
        guard let id = ListParameters(request).value("vol_type_id"), !id.isEmpty else {
            throw AshlarError(.invalidInput, "Volume Type id must not be None.")
        }
        return id
    }

    func associate(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:update")
        let typeID = try Self.typeID(request)
        let id = context.parameters.get("id") ?? ""
        switch try await env.qosSpecs.associate(id: id, typeID: typeID) {
        case .associated:
            context.logger.info("QoS specs \(id) associated with volume type \(typeID)")
            return JSONResponse.empty(.accepted)
        case .specsNotFound: throw Self.notFound(id)
        case .typeNotFound: throw AshlarError.volumeTypeNotFound(typeID)
        case .associatedElsewhere(let other):
            throw AshlarError(
                .invalidInput,
                "Invalid volume type: Type \(typeID) is already associated with another qos specs: \(other)")
        }
    }

    func disassociate(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:update")
        let typeID = try Self.typeID(request)
        let specs = try await find(context)
        guard try await env.qosSpecs.disassociate(id: specs.id, typeID: typeID) else {
            throw AshlarError.volumeTypeNotFound(typeID)
        }
        return JSONResponse.empty(.accepted)
    }

    func disassociateAll(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:qos_specs_manage:update")
        let specs = try await find(context)
        try await env.qosSpecs.disassociateAll(id: specs.id)
        return JSONResponse.empty(.accepted)
    }
}
