import AshlarCore
import AshlarImages
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// Glance's v2 API over HTTP (`glance_api_servers`): image show, download with hash verification, create,
/// upload and delete. A request that cannot reach one server goes to the next, up to `glance_num_retries` more
/// times; what Glance answers is mapped to Ashlar's codes here, and Glance's own text goes to the log only.
public struct GlanceClient: ImageService {
    public let servers: [String]
    public let retries: Int
    /// A request's limit; nil lets a transfer last as long as data flows.
    public let timeout: Duration?
    let client: HTTPClient
    let logger: Logger

    public init(options: ImageOptions, client: HTTPClient = .shared, logger: Logger) {
        self.servers = options.glanceAPIServers
        self.retries = options.glanceNumRetries
        self.timeout = options.glanceRequestTimeout.map { .seconds($0) }
        self.client = client
        self.logger = logger
    }

    // MARK: Requests

    /// Runs `body` with each server in turn until one answers, at most `retries + 1` tries.
    func withServer<T>(_ what: String, _ body: (String) async throws -> T) async throws -> T {
        var lastError: (any Error)?
        for attempt in 0...retries {
            let server = servers[attempt % servers.count]
            do {
                return try await body(server)
            } catch let error as AshlarError {
                throw error
            } catch {
                lastError = error
                logger.warning("Image service request failed", metadata: ["request": "\(what)", "server": "\(server)", "error": "\(error)"])
                if attempt < retries { try await Task.sleep(for: .milliseconds(200 * (attempt + 1))) }
            }
        }
        throw AshlarError(
            .unavailable, "The Image service could not be reached; try again later.",
            underlying: lastError)
    }

    func request(_ method: HTTPMethod, _ url: String, context: CallerContext) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "X-Openstack-Request-Id", value: context.requestID)
        // Noauth Glance takes the caller from these; behind Keystone, the token (issue: Keystone) goes here too.
        request.headers.add(name: "X-Project-Id", value: context.projectID)
        request.headers.add(name: "X-User-Id", value: context.userID)
        request.headers.add(name: "X-Roles", value: context.isAdmin ? "admin,member,reader" : "member,reader")
        return request
    }

    func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try await client.execute(request, timeout: timeout.map { .nanoseconds(Int64($0.components.seconds) * 1_000_000_000) } ?? .hours(24))
    }

    /// Maps an answer that is not a success; Glance's body is logged, not shown.
    func failure(_ response: HTTPClientResponse, id: String?, what: String) async -> AshlarError {
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
        logger.warning("Image service refused a request", metadata: ["request": "\(what)", "status": "\(response.status.code)", "body": "\(body.prefix(500))"])
        switch response.status.code {
        case 404: return id.map(AshlarError.imageNotFound) ?? AshlarError(.notFound, "The Image service has no such image.")
        case 401, 403: return AshlarError(.forbidden, "The Image service refused access to image \(id ?? "").")
        case 409: return AshlarError(.conflict, "The Image service refused the change to image \(id ?? ""): it is in another state.")
        case 413: return AshlarError(.overLimit, "The Image service refused the image data: over its size limit or quota.")
        case 400...499: return AshlarError(.invalidInput, "The Image service refused the request for image \(id ?? "").")
        default: return AshlarError(.unavailable, "The Image service failed (HTTP \(response.status.code)); try again later.")
        }
    }

    // MARK: ImageService

    public func show(_ id: String, context: CallerContext) async throws -> Image {
        try await withServer("show \(id)") { server in
            let response = try await execute(request(.GET, "\(server)/v2/images/\(Self.escaped(id))", context: context))
            guard response.status == .ok else { throw await failure(response, id: id, what: "show \(id)") }
            let body = try await response.body.collect(upTo: 4 << 20)
            return try Self.decodeImage(Data(buffer: body))
        }
    }

    public func create(_ draft: ImageDraft, context: CallerContext) async throws -> Image {
        var fields: [String: Any] = draft.properties
        fields["disk_format"] = draft.diskFormat
        fields["container_format"] = draft.containerFormat
        fields["protected"] = draft.protected
        fields["min_disk"] = draft.minDisk
        fields["min_ram"] = draft.minRAM
        if let name = draft.name { fields["name"] = name }
        if let visibility = draft.visibility { fields["visibility"] = visibility }
        let data = try JSONSerialization.data(withJSONObject: fields)
        return try await withServer("create") { server in
            var request = request(.POST, "\(server)/v2/images", context: context)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: data))
            let response = try await execute(request)
            guard response.status == .created || response.status == .ok else {
                throw await failure(response, id: nil, what: "create")
            }
            return try Self.decodeImage(Data(buffer: try await response.body.collect(upTo: 4 << 20)))
        }
    }

    public func delete(_ id: String, context: CallerContext) async throws {
        try await withServer("delete \(id)") { server in
            let response = try await execute(request(.DELETE, "\(server)/v2/images/\(Self.escaped(id))", context: context))
            guard response.status == .noContent || response.status == .ok || response.status == .notFound else {
                throw await failure(response, id: id, what: "delete \(id)")
            }
        }
    }

    public func localFile(of image: Image) -> String? { nil }

    public func upload(_ id: String, from path: String, context: CallerContext, progress: ByteProgress?) async throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw AshlarError(.internalError, "cannot read \(path) (errno \(errno))") }
        let size = Int64(info.st_size)
        // The data is sent once: a second try after part of it went could leave a half-written image.
        var request = request(.PUT, "\(servers[0])/v2/images/\(Self.escaped(id))/file", context: context)
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(FileChunks(path: path, progress: progress, total: size), length: .known(size))
        let response: HTTPClientResponse
        do {
            response = try await execute(request)
        } catch {
            throw AshlarError(.unavailable, "The Image service could not take the image data; try again later.", underlying: error)
        }
        guard response.status == .noContent || response.status == .ok || response.status == .created else {
            throw await failure(response, id: id, what: "upload \(id)")
        }
    }

    public func download(_ id: String, to path: String, context: CallerContext, progress: ByteProgress?) async throws {
        let image = try await show(id, context: context)
        try await withServer("download \(id)") { server in
            let response = try await execute(request(.GET, "\(server)/v2/images/\(Self.escaped(id))/file", context: context))
            guard response.status == .ok else {
                if response.status == .noContent {
                    throw AshlarError(.invalidInput, "Image \(id) has no data.")
                }
                throw await failure(response, id: id, what: "download \(id)")
            }
            let sink = try ImageDataSink(path: path)
            do {
                for try await buffer in response.body {
                    try buffer.withUnsafeReadableBytes { try sink.write($0) }
                    progress?(sink.digest.count, image.size)
                }
                try await Blocking.run { try sink.finish() }
            } catch {
                sink.abandon()
                throw error
            }
            let (checksum, sha512) = sink.digest.finalize()
            let sizeMatches = image.size.map { $0 == sink.digest.count } ?? true
            guard sizeMatches, ImageDigest.matches(checksum: checksum, sha512: sha512, image: image) else {
                unlink(path)
                throw AshlarError(
                    .invalidInput, "Image \(id) failed verification: the data received does not match its size and hash.")
            }
        }
    }

    // MARK: Coding

    static func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
    }

    /// An image from Glance's JSON: its attributes, and every other top-level string as a property.
    static func decodeImage(_ data: Data) throws -> Image {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let id = object["id"] as? String else {
            throw AshlarError(.unavailable, "The Image service answered with something that is not an image.")
        }
        func int64(_ key: String) -> Int64? { (object[key] as? NSNumber)?.int64Value }
        var properties: [String: String] = [:]
        for (key, value) in object where !Image.baseAttributes.contains(key) {
            if let text = value as? String { properties[key] = text }
        }
        return Image(
            id: id, name: object["name"] as? String, status: object["status"] as? String ?? "queued",
            visibility: object["visibility"] as? String ?? "shared", protected: object["protected"] as? Bool ?? false,
            owner: object["owner"] as? String, diskFormat: object["disk_format"] as? String,
            containerFormat: object["container_format"] as? String, size: int64("size"),
            virtualSize: int64("virtual_size"), checksum: object["checksum"] as? String,
            osHashAlgorithm: object["os_hash_algo"] as? String, osHashValue: object["os_hash_value"] as? String,
            minDisk: (object["min_disk"] as? NSNumber)?.intValue ?? 0,
            minRAM: (object["min_ram"] as? NSNumber)?.intValue ?? 0, tags: object["tags"] as? [String] ?? [],
            properties: properties, createdAt: (object["created_at"] as? String).flatMap(Timestamp.parse) ?? Date(),
            updatedAt: (object["updated_at"] as? String).flatMap(Timestamp.parse))
    }
}

/// A file's bytes as a sequence of buffers, read as they are asked for.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let progress: ByteProgress?
    let total: Int64

    func makeAsyncIterator() -> Iterator { Iterator(path: path, progress: progress, total: total) }

    final class Iterator: AsyncIteratorProtocol {
        let fd: Int32
        let progress: ByteProgress?
        let total: Int64
        var sent: Int64 = 0

        init(path: String, progress: ByteProgress?, total: Int64) {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            self.progress = progress
            self.total = total
        }

        deinit { if fd >= 0 { close(fd) } }

        func next() async throws -> ByteBuffer? {
            guard fd >= 0 else { throw AshlarError(.internalError, "cannot read the upload's file (errno \(errno))") }
            var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { pointer in
                while true {
                    let count = read(fd, pointer.baseAddress, pointer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count >= 0 else { throw AshlarError(.internalError, "cannot read the upload's file (errno \(errno))") }
                    return count
                }
            }
            guard count > 0 else { return nil }
            sent += Int64(count)
            progress?(sent, total)
            return buffer
        }
    }
}
