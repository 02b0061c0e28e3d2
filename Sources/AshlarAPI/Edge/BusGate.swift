import AshlarCore
import AshlarMessaging
import HTTPTypes
import Hummingbird

/// Refuses, with a 503 that changes nothing, a write whose work would have to go over the bus while the bus is
/// unreachable (the broker restarting, this process not yet reconnected). Without it the API would record the
/// intent — a volume `creating`, a snapshot `deleting` — and hand nothing on, leaving the recovery sweep to
/// finish what the caller was told had started.
///
/// Writes that only change rows (names, metadata, types, quotas) pass: they need no other service.
struct BusGate: RouterMiddleware {
    typealias Context = APIRequestContext
    let transport: any RPCTransport

    /// Resources whose creates, deletes and actions are carried out by the scheduler or a volume service.
    static let busResources: Set<Substring> = ["volumes", "snapshots", "attachments", "workers"]

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if Self.needsBus(method: request.method, path: request.uri.path), await !transport.isReachable() {
            throw AshlarError(
                .unavailable,
                "The message bus is unreachable, so this request could not be handed to the services that carry it "
                    + "out; nothing was changed. Try again in a moment.")
        }
        return try await next(request, context)
    }

    /// `path` as routed: `/v3/<resource>/…`, the project already taken out.
    static func needsBus(method: HTTPRequest.Method, path: String) -> Bool {
        guard method == .post || method == .delete || method == .put else { return false }
        let segments = path.split(separator: "/")  // "v3", resource, id?, sub?
        guard segments.count >= 2, busResources.contains(segments[1]) else { return false }
        // Metadata lives in rows only.
        if segments.count >= 4, segments[3] == "metadata" { return false }
        // PUT of a volume or a snapshot renames or describes it; an attachment's PUT connects it.
        if method == .put, segments.count == 3, segments[1] != "attachments" { return false }
        return true
    }
}
