import AshlarCore
import AshlarStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `/volumes/{id}/metadata[/{key}]`, with ETag / If-Match from 3.15.
struct VolumeMetadataController {
    let env: APIEnvironment
    let volumes: VolumesController

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/volumes/:id/metadata", use: index)
        router.post("/v3/volumes/:id/metadata", use: merge)
        router.put("/v3/volumes/:id/metadata", use: replace)
        router.get("/v3/volumes/:id/metadata/:key", use: showKey)
        router.put("/v3/volumes/:id/metadata/:key", use: updateKey)
        router.delete("/v3/volumes/:id/metadata/:key", use: deleteKey)
    }

    /// md5 of the canonical `{"metadata": …}` text (Cinder's ETag).
    static func etag(_ metadata: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(["metadata": metadata])) ?? Data()
        return Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func body(_ metadata: [String: String]) -> JSONValue {
        ["metadata": .object(metadata.mapValues(JSONValue.string))]
    }

    func index(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let volume = try await volumes.find(context)
        var headers: HTTPFields = [:]
        if context.version >= APIVersion(3, 15) { headers[.eTag] = Self.etag(volume.metadata) }
        return JSONResponse.make(Self.body(volume.metadata), headers: headers)
    }

    func merge(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let fields = Fields(try await topObject(request, context))
        guard let metadata = try fields.metadata("metadata", nullable: false) else {
            throw AshlarError(.invalidInput, "Malformed request body: 'metadata' is a required property.")
        }
        let result = try await modify(context) { $0.merging(metadata) { _, new in new } }
        return JSONResponse.make(Self.body(result))
    }

    func replace(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let fields = Fields(try await topObject(request, context))
        guard let metadata = try fields.metadata("metadata", nullable: false) else {
            throw AshlarError(.invalidInput, "Malformed request body: 'metadata' is a required property.")
        }
        if context.version >= APIVersion(3, 15), let ifMatch = request.headers[.ifMatch] {
            let volume = try await volumes.find(context)
            let tags = ifMatch.split(separator: ",").map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: " \""))
            }
            if !tags.contains("*") && !tags.contains(Self.etag(volume.metadata)) {
                throw AshlarError(
                    .preconditionFailed, "The metadata changed since it was read (If-Match does not match its ETag).")
            }
            let result = try await modify(context, expected: volume) { _ in metadata }
            return JSONResponse.make(Self.body(result))
        }
        let result = try await modify(context) { _ in metadata }
        return JSONResponse.make(Self.body(result))
    }

    func showKey(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let volume = try await volumes.find(context)
        let key = context.parameters.get("key") ?? ""
        guard let value = volume.metadata[key] else {
            throw AshlarError(.notFound, "Volume \(volume.id) has no metadata with key \(key).")
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
        let volume = try await volumes.find(context)
        guard volume.metadata[key] != nil else {
            throw AshlarError(.notFound, "Volume \(volume.id) has no metadata with key \(key).")
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

    /// The volume's metadata changed by `change` (see `VolumeStore.modify`); with `expected`, only if it is
    /// still what the caller read (If-Match).
    private func modify(
        _ context: APIRequestContext, expected: Volume? = nil, _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String] {
        let volume: Volume
        if let expected { volume = expected } else { volume = try await volumes.find(context) }
        return try await env.volumes.modify(volume, .metadata, onceOnly: expected != nil, change)
    }
}
