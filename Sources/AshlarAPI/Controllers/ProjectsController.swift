import AshlarCore
import Hummingbird
import Logging

/// `/v3/projects[/{id}]`: with noauth there is no identity service, so a project is just the name a token or URL
/// carries. Clients that resolve a project before acting on it (`openstack quota show/set PROJECT` looks the
/// project up on the endpoint it was given) get that name back as a project, so they work unchanged.
struct ProjectsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/projects", use: list)
        router.get("/v3/projects/:id", use: show)
    }

    static func project(_ id: String) -> JSONValue {
        [
            "id": .string(id), "name": .string(id), "domain_id": "default", "enabled": true, "description": "",
            "is_domain": false, "parent_id": "default",
        ]
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(["project": Self.project(context.parameters.get("id") ?? "")])
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let name = ListParameters(request).value("name")
        let projects = name.map { [Self.project($0)] } ?? [Self.project(context.caller.projectID)]
        return JSONResponse.make(["projects": .array(projects)])
    }
}
