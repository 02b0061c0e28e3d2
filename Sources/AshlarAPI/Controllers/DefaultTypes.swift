import AshlarCore
import AshlarStore
import Hummingbird
import Logging

/// The default-types API (3.62) and the resolution of a project's default type.
struct DefaultTypes {
    let env: APIEnvironment

    /// Project default, then `default_volume_type`.
    static func resolve(env: APIEnvironment, projectID: String) async throws -> VolumeType {
        if let id = try await env.types.defaultTypeID(projectID: projectID), let type = try await env.types.get(id: id)
        {
            return type
        }
        guard let type = try await env.types.find(env.defaultVolumeType) else {
            throw AshlarError(
                .internalError,
                "The default volume type \(env.defaultVolumeType) does not exist; set default_volume_type to an existing type."
            )
        }
        return type
    }

    func register(on router: Router<APIRequestContext>) {
        router.put("/v3/default-types/:project", use: set)
        router.get("/v3/default-types", use: list)
        router.get("/v3/default-types/:project", use: show)
        router.delete("/v3/default-types/:project", use: unset)
    }

    static func view(projectID: String, typeID: String) -> JSONValue {
        ["project_id": .string(projectID), "volume_type_id": .string(typeID)]
    }

    func set(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 62))
        try context.requireAdmin("volume_extension:default_set_or_update")
        let project = context.parameters.get("project") ?? ""
        let body = try await request.object("default_type", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["volume_type"])
        let name = try body.requiredString("volume_type")
        guard let type = try await env.types.find(name) else { throw AshlarError.volumeTypeNotFound(name) }
        try await env.types.setDefault(projectID: project, typeID: type.id)
        return JSONResponse.make(["default_type": Self.view(projectID: project, typeID: type.id)])
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 62))
        try context.requireAdmin("volume_extension:default_get_all")
        let all = try await env.types.defaults()
        return JSONResponse.make([
            "default_types": .array(all.map { Self.view(projectID: $0.projectID, typeID: $0.typeID) })
        ])
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 62))
        let project = context.parameters.get("project") ?? ""
        guard let id = try await env.types.defaultTypeID(projectID: project) else {
            throw AshlarError(.notFound, "Default type for project \(project) could not be found.")
        }
        return JSONResponse.make(["default_type": Self.view(projectID: project, typeID: id)])
    }

    func unset(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 62))
        try context.requireAdmin("volume_extension:default_unset")
        let project = context.parameters.get("project") ?? ""
        guard try await env.types.unsetDefault(projectID: project) else {
            throw AshlarError(.notFound, "Default type for project \(project) could not be found.")
        }
        return JSONResponse.empty(.noContent)
    }
}
