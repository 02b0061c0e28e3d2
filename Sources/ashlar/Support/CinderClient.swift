import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A minimal Block Storage v3 client over URLSession for the `attach` and `detach` commands.
struct CinderClient: Sendable {
    var endpoint: URL
    var headers: [String: String]
    var timeout: TimeInterval

    struct Reply: Sendable {
        var status: Int
        var body: Data
    }

    /// Sends one request; a non-2xx answer throws `.api` with Cinder's fault message, no answer `.transport`.
    func send(
        _ method: String, _ segments: [String], query: [(String, String)] = [], body: Data? = nil
    )
        async throws(CinderClientError) -> Reply
    {
        let url = CinderEndpoint.url(endpoint, segments, query: query)
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError where error.code == .timedOut {
            throw .transport("\(method) \(url.absoluteString): no answer within \(Int(timeout)) s")
        } catch {
            throw .transport("\(method) \(url.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw .transport("\(method) \(url.absoluteString): not an HTTP response")
        }
        guard (200..<300).contains(http.statusCode) else {
            let requestID = http.value(forHTTPHeaderField: "x-openstack-request-id")
            throw .api(
                status: http.statusCode,
                message: CinderFault.message(status: http.statusCode, body: data, requestID: requestID))
        }
        return Reply(status: http.statusCode, body: data)
    }
}
