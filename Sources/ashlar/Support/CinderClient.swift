import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A minimal Block Storage v3 client for the `attach` and `detach` commands, over AsyncHTTPClient.
struct CinderClient: Sendable {
    var endpoint: URL
    var headers: [String: String]
    var timeout: TimeInterval

    struct Reply: Sendable {
        var status: Int
        var body: Data
    }

    /// The largest answer read: attachment and volume documents are a few KiB.
    static let maxBody = 16 << 20

    /// Sends one request; a non-2xx answer throws `.api` with Cinder's fault message, no answer `.transport`.
    func send(
        _ method: String, _ segments: [String], query: [(String, String)] = [], body: Data? = nil
    )
        async throws(CinderClientError) -> Reply
    {
        let url = CinderEndpoint.url(endpoint, segments, query: query)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let status: Int
        let data: Data
        let requestID: String?
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let bytes = try await response.body.collect(upTo: Self.maxBody)
            status = Int(response.status.code)
            data = Data(bytes.readableBytesView)
            requestID = response.headers.first(name: "x-openstack-request-id")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw .transport("\(method) \(url.absoluteString): no answer within \(Int(timeout)) s")
        } catch {
            throw .transport("\(method) \(url.absoluteString): \(Self.describe(error))")
        }
        guard (200..<300).contains(status) else {
            throw .api(status: status, message: CinderFault.message(status: status, body: data, requestID: requestID))
        }
        return Reply(status: status, body: data)
    }

    /// A transport failure as a person reads it (`connection refused`, not an enum case's dump).
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return error.description }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}
