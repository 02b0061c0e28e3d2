import AshlarCore
import AshlarStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// A resource whose user metadata is served under `/{collection}/{id}/metadata` (volumes, snapshots).
protocol MetadataSubject: Sendable {
    /// The URL collection: `volumes`, `snapshots`.
    var collection: String { get }
    /// The resource's name in messages: `Volume`, `Snapshot`.
    var noun: String { get }
    /// The resource named by the request's `id`, as the caller may see it: its id and metadata.
    func read(_ context: APIRequestContext) async throws -> (id: String, metadata: [String: String])
    /// Changes the metadata with a compare-and-swap; with `expected`, only while it still equals that (If-Match),
    /// else a 412. Returns the metadata as stored.
    func modify(
        _ context: APIRequestContext, expected: [String: String]?, _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String]
}

/// The volume side of `/volumes/{id}/metadata`.
struct VolumeMetadataSubject: MetadataSubject {
    let env: APIEnvironment
    let volumes: VolumesController
    var collection: String { "volumes" }
    var noun: String { "Volume" }

    func read(_ context: APIRequestContext) async throws -> (id: String, metadata: [String: String]) {
        let volume = try await volumes.find(context)
        return (volume.id, volume.metadata)
    }

    func modify(
        _ context: APIRequestContext, expected: [String: String]?, _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String] {
        var volume = try await volumes.find(context)
        if let expected {
            guard volume.metadata == expected else { throw MetadataFormat.changedSinceRead }
            volume.metadata = expected
        }
        return try await env.volumes.modify(volume, .metadata, onceOnly: expected != nil, change)
    }
}

/// `/{volumes|snapshots}/{id}/metadata[/{key}]`, with ETag / If-Match from 3.15.
struct MetadataController<Subject: MetadataSubject> {
    let env: APIEnvironment
    let subject: Subject

    func register(on router: Router<APIRequestContext>) {
        let base = "/v3/\(subject.collection)/:id/metadata"
        router.get(RouterPath(base), use: index)
        router.post(RouterPath(base), use: merge)
        router.put(RouterPath(base), use: replace)
        router.get(RouterPath(base + "/:key"), use: showKey)
        router.put(RouterPath(base + "/:key"), use: updateKey)
        router.delete(RouterPath(base + "/:key"), use: deleteKey)
    }

    func index(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let metadata = try await subject.read(context).metadata
        var headers: HTTPFields = [:]
        if context.version >= APIVersion(3, 15) { headers[.eTag] = MetadataFormat.etag(metadata) }
        return JSONResponse.make(MetadataFormat.body(metadata), headers: headers)
    }

    func merge(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let fields = Fields(try await topObject(request, context))
        guard let metadata = try fields.metadata("metadata", nullable: false) else {
            throw AshlarError(.invalidInput, "Malformed request body: 'metadata' is a required property.")
        }
        let result = try await modify(context) { $0.merging(metadata) { _, new in new } }
        return JSONResponse.make(MetadataFormat.body(result))
    }

    func replace(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let fields = Fields(try await topObject(request, context))
        guard let metadata = try fields.metadata("metadata", nullable: false) else {
            throw AshlarError(.invalidInput, "Malformed request body: 'metadata' is a required property.")
        }
        if context.version >= APIVersion(3, 15), let ifMatch = request.headers[.ifMatch] {
            let current = try await subject.read(context).metadata
            let tags = ifMatch.split(separator: ",").map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: " \""))
            }
            if !tags.contains("*") && !tags.contains(MetadataFormat.etag(current)) { throw MetadataFormat.changedSinceRead }
            let result = try await subject.modify(context, expected: current) { _ in metadata }
            return JSONResponse.make(MetadataFormat.body(result))
        }
        let result = try await modify(context) { _ in metadata }
        return JSONResponse.make(MetadataFormat.body(result))
    }

    func showKey(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (id, metadata) = try await subject.read(context)
        let key = context.parameters.get("key") ?? ""
        guard let value = metadata[key] else {
            throw AshlarError(.notFound, "\(subject.noun) \(id) has no metadata with key \(key).")
        }
        return JSONResponse.make(["meta": [key: .string(value)]])
    }

    func updateKey(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let key = context.parameters.get("key") ?? ""
        let fields = Fields(try await topObject(request, context))
        guard case .object(let meta) = fields.values["meta"] ?? .null else {
            throw AshlarError(.invalidInput, "Malformed request body: 'meta' is a required property.")
        }
        let pairs = try Fields.stringMap(meta, field: "meta")
        guard pairs.count == 1, let value = pairs[key] else {
            throw AshlarError(
                .invalidInput,
                pairs.count > 1 ? "Request body contains too many items." : "Request body and URI mismatch")
        }
        _ = try await modify(context) { $0.merging([key: value]) { _, new in new } }
        return JSONResponse.make(["meta": [key: .string(value)]])
    }

    func deleteKey(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let key = context.parameters.get("key") ?? ""
        let (id, metadata) = try await subject.read(context)
        guard metadata[key] != nil else {
            throw AshlarError(.notFound, "\(subject.noun) \(id) has no metadata with key \(key).")
        }
        _ = try await modify(context) { $0.filter { $0.key != key } }
        return JSONResponse.empty(.ok)
    }

    private func topObject(_ request: Request, _ context: APIRequestContext) async throws -> [String: JSONValue] {
        guard case .object(let top) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        return top
    }

    private func modify(
        _ context: APIRequestContext, _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String] {
        try await subject.modify(context, expected: nil, change)
    }
}

/// What the metadata routes of every resource share: the body and its ETag.
enum MetadataFormat {
    /// md5 of the canonical `{"metadata": …}` text (Cinder's ETag).
    static func etag(_ metadata: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(["metadata": metadata])) ?? Data()
        return Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static var changedSinceRead: AshlarError {
        AshlarError(.preconditionFailed, "The metadata changed since it was read (If-Match does not match its ETag).")
    }

    static func body(_ metadata: [String: String]) -> JSONValue {
        ["metadata": .object(metadata.mapValues(JSONValue.string))]
    }
}
