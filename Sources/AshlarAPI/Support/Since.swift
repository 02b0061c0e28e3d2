import AshlarCore
import Hummingbird

/// A route that exists from `minimum` on: below it the answer is upstream's 404 for a method the requested
/// microversion does not have.
func since(
    _ minimum: APIVersion, _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Response
) -> @Sendable (Request, APIRequestContext) async throws -> Response {
    { request, context in
        try context.require(minimum)
        return try await handler(request, context)
    }
}
