import AshlarCore
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/types`: types, their extra specs and project access.
struct VolumeTypesController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/types", use: list)
        router.post("/v3/types", use: create)
        router.get("/v3/types/:id", use: show)
        router.put("/v3/types/:id", use: update)
        router.delete("/v3/types/:id", use: delete)
        router.post("/v3/types/:id/action", use: action)
        router.get("/v3/types/:id/os-volume-type-access", use: accessList)
        router.get("/v3/types/:id/extra_specs", use: specsIndex)
        router.post("/v3/types/:id/extra_specs", use: specsMerge)
        router.get("/v3/types/:id/extra_specs/:key", use: specShow)
        router.put("/v3/types/:id/extra_specs/:key", use: specUpdate)
        router.delete("/v3/types/:id/extra_specs/:key", use: specDelete)
    }

    /// A type the caller may see: public, or private with access (admins see all).
    func find(_ id: String, _ context: APIRequestContext) async throws -> VolumeType {
        if id == "default" { return try await DefaultTypes.resolve(env: env, projectID: context.caller.projectID) }
        guard let type = try await env.types.get(id: id) else { throw AshlarError.volumeTypeNotFound(id) }
        if !type.isPublic, !context.caller.isAdmin,
            !(try await env.types.projects(typeID: id)).contains(context.caller.projectID)
        {
            throw AshlarError.volumeTypeNotFound(id)
        }
        return type
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let params = ListParameters(request)
        let isPublic = try params.isPublicFilter()
        var types = try await env.types.list()
        if !context.caller.isAdmin {
            var visible: [VolumeType] = []
            for t in types {
                if t.isPublic {
                    visible.append(t)
                } else if try await env.types.projects(typeID: t.id).contains(context.caller.projectID) {
                    visible.append(t)
                }
            }
            types = visible
        } else if let isPublic {
            var chosen: [VolumeType] = []
            for t in types {
                if t.isPublic == isPublic {
                    chosen.append(t)
                } else if isPublic, try await env.types.projects(typeID: t.id).contains(context.caller.projectID) {
                    chosen.append(t)
                }
            }
            types = chosen
        }
        if context.version >= APIVersion(3, 52), let text = params.value("extra_specs") {
            guard let wanted = ListParameters.parseLiteralDict(text) else {
                throw AshlarError(
                    .invalidInput, "Invalid input received: extra_specs filter '\(text)' is not a dictionary.")
            }
            types = types.filter { t in wanted.allSatisfy { t.extraSpecs[$0.key] == $0.value } }
        }
        return JSONResponse.make(
            try params.typePage(
                types, maxLimit: env.osapiMaxLimit, context: context, path: "types", linksKey: "volume_type_links",
                view: { VolumeTypeView.show($0, context) }, key: "volume_types"))
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let type = try await find(context.parameters.get("id") ?? "", context)
        return JSONResponse.make(["volume_type": VolumeTypeView.show(type, context)])
    }

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:types_manage")
        let body = try await request.object("volume_type", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "extra_specs", "os-volume-type-access:is_public"])
        let name = try body.requiredString("name").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else {
            throw AshlarError(.invalidInput, "Invalid input received: Volume type name can not be empty.")
        }
        let description = try body.string("description") ?? nil
        let specs = try body.metadata("extra_specs") ?? [:]
        try Self.validate(specs: specs)
        let isPublic = try body.bool("os-volume-type-access:is_public") ?? true
        let type = VolumeType(name: name, description: description, isPublic: isPublic, extraSpecs: specs)
        try await env.types.insert(type)
        return JSONResponse.make(["volume_type": VolumeTypeView.show(type, context, form: .created)])
    }

    /// Combinations Cinder refuses.
    static func validate(specs: [String: String]) throws(AshlarError) {
        func isTrue(_ key: String) -> Bool {
            specs[key].map { $0.lowercased().replacingOccurrences(of: " ", with: "") == "<is>true" } ?? false
        }
        if isTrue("cacheable") && isTrue("multiattach") {
            throw AshlarError(.invalidInput, "Invalid input received: cacheable cannot be set with multiattach.")
        }
    }

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:types_manage")
        let body = try await request.object("volume_type", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "is_public"])
        let name = try body.string("name", nullable: true) ?? nil
        let description = try body.string("description")
        let isPublic = try body.bool("is_public")
        if name == nil && description == nil && isPublic == nil {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Specify volume type name, description, is_public or a combination thereof.")
        }
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
            throw AshlarError(.invalidInput, "Invalid input received: Volume type name can not be empty.")
        }
        let type = try await find(context.parameters.get("id") ?? "", context)
        guard
            let updated = try await env.types.update(
                id: type.id, name: name, description: description, isPublic: isPublic)
        else { throw AshlarError.volumeTypeNotFound(type.id) }
        return JSONResponse.make(["volume_type": VolumeTypeView.show(updated, context, form: .updated)])
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:types_manage")
        let type = try await find(context.parameters.get("id") ?? "", context)
        let isProjectDefault = try await env.types.isDefaultForAnyProject(typeID: type.id)
        if type.name == env.defaultVolumeType || isProjectDefault {
            throw AshlarError(
                .invalidInput, "Invalid volume type: Default volume type \(type.name) can not be deleted.")
        }
        var inUse = try await env.volumes.anyUses(typeID: type.id)
        if !inUse { inUse = try await env.groups.anyUses(volumeTypeID: type.id) }
        if inUse {
            throw AshlarError(.invalidInput, "Target volume type is still in use.")
        }
        guard try await env.types.delete(id: type.id) else { throw AshlarError.volumeTypeNotFound(type.id) }
        return JSONResponse.empty(.accepted)
    }

    // MARK: Access

    func accessList(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let type = try await find(context.parameters.get("id") ?? "", context)
        if type.isPublic {
            throw AshlarError(.notFound, "Access list not available for public volume types.")
        }
        let projects = try await env.types.projects(typeID: type.id)
        return JSONResponse.make([
            "volume_type_access": .array(
                projects.map { ["volume_type_id": .string(type.id), "project_id": .string($0)] })
        ])
    }

    func action(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:volume_type_access:addProjectAccess")
        guard case .object(let top) = try await request.json(context, limit: env.maxRequestBodySize), top.count == 1,
            let (name, argument) = top.first
        else {
            throw AshlarError(
                .invalidInput, "Malformed request body: an action body has exactly one key, the action's name.")
        }
        guard name == "addProjectAccess" || name == "removeProjectAccess" else {
            throw AshlarError(.invalidInput, "There is no such action: \(name)")
        }
        let project = try Fields(argument.objectValue ?? [:]).requiredString("project")
        let type = try await find(context.parameters.get("id") ?? "", context)
        if type.isPublic {
            throw AshlarError(
                .invalidInput, "Invalid volume type: Type access modification is not applicable to public volume type.")
        }
        if name == "addProjectAccess" {
            guard try await env.types.addAccess(typeID: type.id, projectID: project) else {
                throw AshlarError(
                    .conflict, "Volume type access for \(type.id) / \(project) combination already exists.")
            }
        } else {
            guard try await env.types.removeAccess(typeID: type.id, projectID: project) else {
                throw AshlarError(.notFound, "Volume type access not found for \(type.id) / \(project) combination.")
            }
        }
        return JSONResponse.empty(.accepted)
    }

    // MARK: Extra specs

    private func specsType(_ context: APIRequestContext) async throws -> VolumeType {
        try await find(context.parameters.get("id") ?? "", context)
    }

    /// Specs of a type in use cannot change: existing volumes were placed by the old ones.
    private func allowSpecChange(_ type: VolumeType) async throws {
        if try await env.volumes.anyUses(typeID: type.id) {
            throw AshlarError(.invalidInput, "Volume Type is currently in use.")
        }
    }

    func specsIndex(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let type = try await specsType(context)
        let specs =
            context.caller.isAdmin
            ? type.extraSpecs : type.extraSpecs.filter { VolumeType.userVisibleSpecs.contains($0.key) }
        return JSONResponse.make(["extra_specs": .object(specs.mapValues(JSONValue.string))])
    }

    func specsMerge(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:types_extra_specs:create")
        let body = try await request.json(context, limit: env.maxRequestBodySize)
        guard case .object(let top) = body, let specsValue = top["extra_specs"], case .object(let raw) = specsValue
        else {
            throw AshlarError(.invalidInput, "Malformed request body: 'extra_specs' is a required property.")
        }
        let specs = try Fields.stringMap(raw, field: "extra_specs")
        let type = try await specsType(context)
        try await allowSpecChange(type)
        _ = try await env.types.modifySpecs(id: type.id) { current in
            let merged = current.merging(specs) { _, new in new }
            try Self.validate(specs: merged)
            return merged
        }
        return JSONResponse.make(["extra_specs": .object(specs.mapValues(JSONValue.string))])
    }

    func specShow(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let type = try await specsType(context)
        let key = context.parameters.get("key") ?? ""
        guard let value = type.extraSpecs[key], context.caller.isAdmin || VolumeType.userVisibleSpecs.contains(key)
        else {
            throw AshlarError(.notFound, "Volume Type \(type.id) has no extra specs with key \(key).")
        }
        return JSONResponse.make([key: .string(value)])
    }

    func specUpdate(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:types_extra_specs:update")
        let key = context.parameters.get("key") ?? ""
        guard case .object(let raw) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        let pair = try Fields.stringMap(raw, field: key)
        guard pair.count == 1 else { throw AshlarError(.invalidInput, "Request body contains too many items.") }
        guard let value = pair[key] else { throw AshlarError(.invalidInput, "Request body and URI mismatch") }
        let type = try await specsType(context)
        try await allowSpecChange(type)
        _ = try await env.types.modifySpecs(id: type.id) { current in
            var next = current
            next[key] = value
            try Self.validate(specs: next)
            return next
        }
        return JSONResponse.make([key: .string(value)])
    }

    func specDelete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:types_extra_specs:delete")
        let key = context.parameters.get("key") ?? ""
        let type = try await specsType(context)
        guard type.extraSpecs[key] != nil else {
            throw AshlarError(.notFound, "Volume Type \(type.id) has no extra specs with key \(key).")
        }
        try await allowSpecChange(type)
        _ = try await env.types.modifySpecs(id: type.id) { $0.filter { $0.key != key } }
        return JSONResponse.empty(.accepted)
    }
}
