import AshlarCore
import AshlarStore
import Hummingbird
import Logging

/// `/messages` (3.3): what went wrong with the project's asynchronous requests.
struct MessagesController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/messages", use: list)
        router.get("/v3/messages/:id", use: show)
        router.delete("/v3/messages/:id", use: delete)
    }

    static func view(_ m: UserMessage, _ context: APIRequestContext) -> JSONValue {
        [
            "id": .string(m.id), "event_id": .string(m.eventID), "user_message": .string(m.userMessage),
            "message_level": .string(m.level), "created_at": .string(Timestamp.format(m.createdAt)),
            "guaranteed_until": .string(Timestamp.format(m.expiresAt ?? m.createdAt)), "request_id": VolumeView.optional(m.requestID),
            "resource_type": VolumeView.optional(m.resourceType), "resource_uuid": VolumeView.optional(m.resourceUUID),
            "links": Links.resource(context, collection: "messages", id: m.id),
        ]
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 3))
        let params = ListParameters(request)
        var messages = try await env.messages.list(
            projectID: params.allTenants(context) ? nil : context.caller.projectID)
        for key in ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"] {
            guard let value = params.value(key) else { continue }
            messages = messages.filter { m in
                switch key {
                case "resource_uuid": m.resourceUUID == value
                case "resource_type": m.resourceType == value
                case "event_id": m.eventID == value
                case "request_id": m.requestID == value
                default: m.level == value
                }
            }
        }
        return JSONResponse.make(["messages": .array(messages.map { Self.view($0, context) })])
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 3))
        return JSONResponse.make(["message": Self.view(try await find(context), context)])
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 3))
        let message = try await find(context)
        try await env.messages.delete(id: message.id)
        return JSONResponse.empty(.noContent)
    }

    private func find(_ context: APIRequestContext) async throws -> UserMessage {
        let id = context.parameters.get("id") ?? ""
        guard let m = try await env.messages.get(id), context.caller.isAdmin || m.projectID == context.caller.projectID
        else {
            throw AshlarError(.notFound, "Message \(id) could not be found.")
        }
        return m
    }
}
