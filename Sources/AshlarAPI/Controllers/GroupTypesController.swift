import AshlarCore
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/group_types` (3.11): group types and their group specs. Changes are for administrators, as upstream's
/// policy has it; anyone may list and show the public ones.
struct GroupTypesController {
    let env: APIEnvironment
    static let minimum = APIVersion(3, 11)

    func register(on router: Router<APIRequestContext>) {
        let v = Self.minimum
        router.get("/v3/group_types", use: since(v, list))
        router.post("/v3/group_types", use: since(v, create))
        router.get("/v3/group_types/:id", use: since(v, show))
        router.put("/v3/group_types/:id", use: since(v, update))
        router.delete("/v3/group_types/:id", use: since(v, delete))
        router.get("/v3/group_types/:id/group_specs", use: since(v, specsIndex))
        router.post("/v3/group_types/:id/group_specs", use: since(v, specsMerge))
        router.get("/v3/group_types/:id/group_specs/:key", use: since(v, specShow))
        router.put("/v3/group_types/:id/group_specs/:key", use: since(v, specUpdate))
        router.delete("/v3/group_types/:id/group_specs/:key", use: since(v, specDelete))
    }

    /// A type the caller may see: public ones, or any for an administrator.
    func find(_ context: APIRequestContext) async throws -> GroupType {
        let id = context.parameters.get("id") ?? ""
        if id == "default" {
            // No default_group_type is configured in this version.
            throw AshlarError(.notFound, "Default group type can not be found.")
        }
        guard let type = try await env.groupTypes.get(id: id), type.isPublic || context.caller.isAdmin else {
            throw AshlarError.groupTypeNotFound(id)
        }
        return type
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let params = ListParameters(request)
        // Users see the public ones whatever they ask.
        let isPublic = context.caller.isAdmin ? try params.isPublicFilter() : true
        let types = try await env.groupTypes.list(isPublic: isPublic)
        return JSONResponse.make(
            try params.typePage(
                types, maxLimit: env.osapiMaxLimit, context: context, path: "group_types", linksKey: "group_type_links",
                view: { GroupTypeView.show($0, context) }, key: "group_types"))
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(["group_type": GroupTypeView.show(try await find(context), context)])
    }

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types:create")
        let body = try await request.object("group_type", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "group_specs", "is_public"])
        let name = try body.requiredString("name").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else {
            throw AshlarError(.invalidInput, "Invalid input received: Group type name can not be empty.")
        }
        let type = GroupType(
            name: name, description: try body.string("description") ?? nil, isPublic: try body.bool("is_public") ?? true,
            groupSpecs: try body.metadata("group_specs") ?? [:])
        try await env.groupTypes.insert(type)
        context.logger.info("group type \(type.id) (\(name)) created")
        return JSONResponse.make(["group_type": GroupTypeView.show(type, context)], status: .accepted)
    }

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types:update")
        let body = try await request.object("group_type", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "is_public"])
        let name = try body.string("name") ?? nil
        let description = try body.string("description")
        let isPublic = try body.bool("is_public")
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw AshlarError(.invalidInput, "Invalid input received: Group type name can not be empty.")
        }
        if name == nil && (description ?? nil) == nil && isPublic == nil {
            throw AshlarError(
                .invalidInput, "Invalid input received: Specify group type name, description or a combination thereof.")
        }
        let id = context.parameters.get("id") ?? ""
        guard
            let type = try await env.groupTypes.update(
                id: id, name: name?.trimmingCharacters(in: .whitespaces), description: description, isPublic: isPublic)
        else { throw AshlarError.groupTypeNotFound(id) }
        return JSONResponse.make(["group_type": GroupTypeView.show(type, context)])
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types:delete")
        let id = context.parameters.get("id") ?? ""
        switch try await env.groupTypes.delete(id: id) {
        case true?: return JSONResponse.empty(.accepted)
        case false?: throw AshlarError(.invalidInput, "Target group type is still in use.")
        case nil: throw AshlarError.groupTypeNotFound(id)
        }
    }

    // MARK: Group specs (`cinder/api/v3/group_specs.py`)

    func specsIndex(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types_specs:get_all")
        let type = try await find(context)
        return JSONResponse.make(["group_specs": .object(type.groupSpecs.mapValues(JSONValue.string))])
    }

    func specsMerge(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types_specs:create")
        guard case .object(let top) = try await request.json(context, limit: env.maxRequestBodySize),
            let value = top["group_specs"], case .object(let raw) = value
        else {
            throw AshlarError(.invalidInput, "Invalid input received: 'group_specs' is a required property, an object.")
        }
        let specs = try Fields.stringMap(raw, field: "group_specs")
        let id = try await find(context).id
        _ = try await env.groupTypes.modifySpecs(id: id) { $0.merging(specs) { _, new in new } }
        return JSONResponse.make(["group_specs": .object(specs.mapValues(JSONValue.string))], status: .accepted)
    }

    func specShow(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types_specs:get")
        let type = try await find(context)
        let key = context.parameters.get("key") ?? ""
        guard let value = type.groupSpecs[key] else { throw Self.noSpec(type.id, key) }
        return JSONResponse.make([key: .string(value)])
    }

    func specUpdate(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types_specs:update")
        let key = context.parameters.get("key") ?? ""
        guard case .object(let raw) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        guard raw.count == 1, raw[key] != nil else {
            throw AshlarError(.invalidInput, "Invalid input received: Request body and URI mismatch")
        }
        let specs = try Fields.stringMap(raw, field: "group_specs")
        let id = try await find(context).id
        _ = try await env.groupTypes.modifySpecs(id: id) { $0.merging(specs) { _, new in new } }
        return JSONResponse.make(.object(specs.mapValues(JSONValue.string)))
    }

    func specDelete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:group_types_specs:delete")
        let key = context.parameters.get("key") ?? ""
        let id = try await find(context).id
        _ = try await env.groupTypes.modifySpecs(id: id) { specs in
            guard specs[key] != nil else { throw Self.noSpec(id, key) }
            return specs.filter { $0.key != key }
        }
        return JSONResponse.empty(.accepted)
    }

    static func noSpec(_ id: String, _ key: String) -> AshlarError {
        AshlarError(.notFound, "Group Type \(id) has no specs with key \(key).")
    }
}
