import AshlarCore
import Hummingbird

/// A route that exists from `minimum` on: below it the answer is upstream's 404 for a method the requested
/// microversion does not have.
func since(
    _ minimum: APIVersion, _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Response
) -> @Sendable (Request, APIRequestContext) async throws -> Response {
    { request, context in
        guard context.version >= minimum else {
            throw AshlarError(.notFound, "API version \(context.version) is not supported on this method.")
        }
        return try await handler(request, context)
    }
}
