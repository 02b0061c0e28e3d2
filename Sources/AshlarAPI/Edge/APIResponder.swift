import AshlarCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore

/// The edge of the API, in front of the router: request id, microversion, noauth identity, the optional
/// project in the path, metrics, and the one mapping from errors to Cinder fault bodies.
struct APIResponder: HTTPResponder {
    typealias Context = APIRequestContext

    let router: RouterResponder<APIRequestContext>
    let environment: APIEnvironment
    let requestMetrics = RequestMetrics()

    /// Top-level names under `/v3/` that are resources, not project ids.
    static let resourceNames: Set<String> = [
        "volumes", "types", "os-services", "os-availability-zone", "limits", "messages", "default-types",
        "scheduler-stats", "capabilities", "os-quota-sets", "os-quota-class-sets", "snapshots", "attachments",
        "backups",
        "extensions", "qos-specs", "os-hosts", "clusters", "workers", "resource_filters", "groups", "group_types",
        "group_snapshots", "os-volume-transfer", "volume-transfers", "manageable_volumes", "manageable_snapshots",
        "os-volume-manage", "os-snapshot-manage", "consistencygroups", "cgsnapshots", "projects",
    ]

    func respond(to request: Request, context: APIRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        let requestID = "req-" + UUID().uuidString.lowercased()
        context.requestID = requestID
        return try await RequestLogMetadata.with(["request_id": .string(requestID)]) {
            try await respond(to: request, context: context, started: started)
        }
    }

    private func respond(to request: Request, context: APIRequestContext, started: ContinuousClock.Instant)
        async throws -> Response
    {
        var context = context
        let requestID = context.requestID
        context.baseURL = Self.baseURL(of: request, publicEndpoint: environment.publicEndpoint)

        var isV3 = false
        var response: Response
        do {
            let path = request.uri.path
            if path == "/" || path == "" {
                response = JSONResponse.make(VersionsView.document(base: context.baseURL), status: .multipleChoices)
            } else if path == "/v3" || path == "/v3/" {
                isV3 = true
                response = JSONResponse.make(VersionsView.document(base: context.baseURL), status: .ok)
            } else if path.hasPrefix("/v3/") {
                isV3 = true
                context.version = try APIVersion.negotiate(header: request.headers[Self.versionHeader])
                response = try await routeV3(request, path: path, context: &context)
            } else if path == "/image" || path.hasPrefix("/image/") {
                // The built-in image store (Glance v2): the caller as for /v3, without a project in the path.
                context.caller = try identify(request, urlProject: nil, requestID: requestID)
                response = try await router.respond(to: request, context: context)
            } else {
                response = try await router.respond(to: request, context: context)
            }
            if response.status == .notFound, response.headers[.contentType] != "application/json" {
                // No route (or no method on it) matched: Cinder's fault body, not the router's empty 404.
                response = JSONResponse.make(
                    Fault.body(status: .notFound, message: "The resource could not be found."), status: .notFound)
            }
        } catch {
            let (status, message) = Fault.map(error)
            if status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(String(reflecting: error))")
            }
            response = JSONResponse.make(Fault.body(status: status, message: message), status: status)
        }
        response.headers[Self.requestIDHeader] = requestID
        response.headers[Self.computeRequestIDHeader] = requestID
        if isV3 {
            response.headers[Self.versionHeader] = "volume \(context.version)"
            response.headers[.vary] = "OpenStack-API-Version"
        }
        let route = context.endpointPath ?? "unmatched"
        let elapsed = ContinuousClock.now - started
        // Every change and every failure is logged at info; successful reads (clients poll volume status all the
        // time) at debug, so they do not drown the log or cost a write each.
        let quiet = (request.method == .get || request.method == .head) && response.status.code < 400
        context.logger.log(
            level: quiet ? .debug : .info, "\(request.method) \(request.uri) \(response.status.code)",
            metadata: [
                "route": "\(route)", "ms": "\(Self.milliseconds(elapsed))",
                "project_id": context.caller.projectID.isEmpty ? nil : .string(context.caller.projectID),
            ].compactMapValues { $0 })
        requestMetrics.record(
            method: request.method.rawValue, route: route, status: response.status.code,
            nanoseconds: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        return response
    }

    /// Strips the optional project from `/v3/{project}/…`, establishes the caller and routes.
    private func routeV3(_ request: Request, path: String, context: inout APIRequestContext) async throws -> Response {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        // segments: "", "v3", first, rest…
        var routedPath = path
        if segments.count > 3, !Self.resourceNames.contains(String(segments[2])), !segments[2].isEmpty {
            context.urlProjectID = String(segments[2])
            routedPath = "/v3/" + segments[3...].joined(separator: "/")
        } else if segments.count == 3, !Self.resourceNames.contains(String(segments[2])) {
            // `/v3/{project}` alone: Cinder has nothing there.
            throw AshlarError(.notFound, "The resource could not be found.")
        }
        // `/v3/{project}/volumes/`: an empty id, which upstream's router finds nothing for (not the list).
        if routedPath.count > "/v3/".count, routedPath.hasSuffix("/") {
            throw AshlarError(.notFound, "The resource could not be found.")
        }
        context.caller = try identify(request, urlProject: context.urlProjectID, requestID: context.requestID)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > environment.maxRequestBodySize {
            throw AshlarError(.requestTooLarge, "Request is too large.")
        }
        var head = request.head
        if let query = request.uri.query {
            head.path = routedPath + "?" + query
        } else {
            head.path = routedPath
        }
        let routed = Request(head: head, body: request.body)
        return try await RequestLogMetadata.with(["project_id": .string(context.caller.projectID)]) {
            [context] in try await router.respond(to: routed, context: context)
        }
    }

    /// noauth as Cinder does it: a token `user:project` names the caller; any other token (the openstack CLI's
    /// `--os-auth-type none` sends a dummy one) or none takes the project from the URL, else the default.
    /// Every noauth caller is an administrator. A URL project that differs from the token's is refused.
    private func identify(
        _ request: Request, urlProject: String?, requestID: String
    ) throws(AshlarError)
        -> CallerContext
    {
        // X-User-Id / X-Project-Id: what keystonemiddleware passes on, and what the Glance client sends.
        var user = request.headers[Self.authUserHeader] ?? request.headers[Self.userIDHeader] ?? "admin"
        var project = request.headers[Self.authProjectHeader] ?? request.headers[Self.projectIDHeader]
        if let token = request.headers[Self.authTokenHeader], let colon = token.firstIndex(of: ":") {
            let tokenUser = String(token[..<colon])
            let tokenProject = String(token[token.index(after: colon)...])
            user = tokenUser.isEmpty ? user : tokenUser
            project = tokenProject.isEmpty ? tokenUser : tokenProject
        }
        if let urlProject {
            if let project, project != urlProject {
                throw AshlarError(.invalidInput, "Malformed request url")
            }
            project = urlProject
        }
        return CallerContext(
            requestID: requestID, userID: user, projectID: project ?? environment.defaultProjectID, isAdmin: true)
    }

    /// Where links point: `public_endpoint` when set, else the address the client used, with the scheme a
    /// TLS-terminating proxy in front says it used (`X-Forwarded-Proto`).
    static func baseURL(of request: Request, publicEndpoint: String?) -> String {
        if let publicEndpoint { return publicEndpoint }
        let host = request.head.authority ?? "localhost"
        let forwarded = request.headers[forwardedProtoHeader]?.split(separator: ",").first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let scheme = forwarded == "https" ? "https" : "http"
        return "\(scheme)://\(host)"
    }

    static func milliseconds(_ d: Duration) -> Double {
        (Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 * 1000).rounded() / 1000
    }

    static let versionHeader = HTTPField.Name("OpenStack-API-Version")!
    static let requestIDHeader = HTTPField.Name("x-openstack-request-id")!
    static let computeRequestIDHeader = HTTPField.Name("x-compute-request-id")!
    static let forwardedProtoHeader = HTTPField.Name("X-Forwarded-Proto")!
    static let authTokenHeader = HTTPField.Name("X-Auth-Token")!
    static let authUserHeader = HTTPField.Name("X-Auth-User")!
    static let authProjectHeader = HTTPField.Name("X-Auth-Project-Id")!
    static let userIDHeader = HTTPField.Name("X-User-Id")!
    static let projectIDHeader = HTTPField.Name("X-Project-Id")!
}

/// Builds JSON responses from `JSONValue`.
enum JSONResponse {
    static func make(_ body: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(512)
        body.write(to: &buffer)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// A response without a body (202 for most actions, 204 for deletes).
    static func empty(_ status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentLength: "0"], body: .init())
    }
}
