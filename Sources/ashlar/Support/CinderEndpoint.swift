import Foundation

/// Where the client commands (`attach`, `detach`) send their requests and who they say they are. Pure: the
/// environment comes in as a dictionary.
enum CinderEndpoint {
    static let defaultEndpoint = "http://127.0.0.1:8776/v3"

    /// The microversion every client request asks for (the attachments API with `mode`, 3.54).
    static let microversion = "volume 3.54"

    /// The API endpoint: `--os-endpoint`, else `OS_ENDPOINT` (as the `openstack` CLI takes it), else the default.
    /// Empty values count as unset; trailing slashes are dropped; only http and https with a host are accepted.
    static func resolve(flag: String?, environment: [String: String]) throws(CinderClientError) -> URL {
        let chosen =
            [flag, environment["OS_ENDPOINT"]]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty } ?? defaultEndpoint
        var text = chosen
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw .usage("invalid endpoint '\(chosen)': expected an http(s) URL such as \(defaultEndpoint)")
        }
        return url
    }

    /// The project an endpoint names (`http://host:8776/v3/<project>`, as a service catalog gives it), if any.
    static func project(of endpoint: URL) -> String? {
        let parts = endpoint.path.split(separator: "/").map(String.init)
        guard let v3 = parts.lastIndex(of: "v3"), v3 + 1 < parts.count else { return nil }
        return parts[v3 + 1]
    }

    /// The `X-Auth-Token` value: `--os-token`, else `OS_TOKEN`, else noauth's `user:project` from `--os-user`
    /// (default admin) and `--os-project`, else `OS_PROJECT_ID`, else admin.
    static func authToken(token: String?, user: String?, project: String?, environment: [String: String]) -> String {
        func nonEmpty(_ s: String?) -> String? {
            guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
            return s
        }
        if let token = nonEmpty(token) ?? nonEmpty(environment["OS_TOKEN"]) { return token }
        let user = nonEmpty(user) ?? "admin"
        let project = nonEmpty(project) ?? nonEmpty(environment["OS_PROJECT_ID"]) ?? "admin"
        return "\(user):\(project)"
    }

    /// The headers of every request.
    static func headers(authToken: String) -> [String: String] {
        [
            "OpenStack-API-Version": microversion,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Auth-Token": authToken,
            "User-Agent": "ashlar-cli",
        ]
    }

    /// `endpoint` + `/segment/segment…` + `?name=value&…`, each segment and value percent-encoded.
    static func url(_ endpoint: URL, _ segments: [String], query: [(String, String)] = []) -> URL {
        var text = endpoint.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        for segment in segments { text += "/" + encode(segment) }
        if !query.isEmpty {
            text += "?" + query.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
        }
        // Every part is encoded, so this cannot fail for an endpoint that was a URL to begin with.
        return URL(string: text) ?? endpoint
    }

    /// RFC 3986 unreserved characters stay; everything else is percent-encoded.
    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Whether VOLUME is an id (a UUID, with or without dashes) rather than a name.
    static func looksLikeID(_ s: String) -> Bool {
        if UUID(uuidString: s) != nil { return true }
        return s.count == 32 && s.allSatisfy(\.isHexDigit)
    }
}
