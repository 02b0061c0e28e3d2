import AshlarCore
import Hummingbird
import Logging

/// Per-request state: identity, microversion and request id, set by the edge before routing.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `req-<uuid>`, returned as `x-openstack-request-id` and carried in every log line and RPC.
    public var requestID: String = ""
    public var version: APIVersion = .minimum
    public var caller = CallerContext(requestID: "", userID: "", projectID: "", isAdmin: false)
    /// `scheme://host` of this request, for links.
    public var baseURL: String = ""
    /// The project named in the URL, when there was one.
    public var urlProjectID: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Fails with 404 when the request's microversion is below `version`, as Cinder hides such routes.
    public func require(_ version: APIVersion) throws(AshlarError) {
        if self.version < version { throw AshlarError(.notFound, "The resource could not be found.") }
    }

    /// Fails with 403 unless the caller is an administrator.
    public func requireAdmin(_ action: String) throws(AshlarError) {
        if !caller.isAdmin { throw AshlarError(.forbidden, "Policy doesn't allow \(action) to be performed.") }
    }

    /// The project path segment for links: the caller's project.
    public var linkProject: String { urlProjectID ?? caller.projectID }
}
