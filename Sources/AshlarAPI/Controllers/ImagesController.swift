import AshlarCore
import AshlarImages
import AshlarStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The part of Glance v2 that the `openstack image` CLI and the volume service use, served from the built-in
/// store under `/image` (as devstack serves Glance), so that images work on one machine with nothing else
/// running: create, list (filters, sort, paging), show, JSON-patch update, data upload and download, delete.
struct ImagesController {
    let env: APIEnvironment
    let store: LocalImageStore

    func register(on router: Router<APIRequestContext>) {
        router.get("/image", use: versions)
        router.get("/image/versions", use: versions)
        router.post("/image/v2/images", use: create)
        router.get("/image/v2/images", use: list)
        router.get("/image/v2/images/:id", use: show)
        router.patch("/image/v2/images/:id", use: update)
        router.delete("/image/v2/images/:id", use: delete)
        router.put("/image/v2/images/:id/file", use: upload)
        router.get("/image/v2/images/:id/file", use: download)
        router.post("/image/v2/images/:id/actions/deactivate", use: { try await activation($0, $1, active: false) })
        router.post("/image/v2/images/:id/actions/reactivate", use: { try await activation($0, $1, active: true) })
    }

    static let diskFormats: Set<String> = [
        "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
    ]
    static let containerFormats: Set<String> = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
    static let visibilities: Set<String> = ["public", "private", "shared", "community"]
    /// What a client may not set: the store keeps these.
    static let readOnly: Set<String> = [
        "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at", "updated_at",
        "file", "self", "schema", "direct_url", "locations", "owner",
    ]

    func versions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(ImageView.versions(base: context.baseURL), status: .ok)
    }

    func image(_ context: APIRequestContext) async throws -> Image {
        try await store.show(try context.parameters.require("id"), context: context.caller)
    }

    // MARK: Records

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard case .object(let body) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "The image must be a JSON object.")
        }
        var image = Image(owner: context.caller.projectID)
        if let id = body["id"] {
            guard let text = id.stringValue, UUID(uuidString: text) != nil else {
                throw AshlarError(.invalidInput, "Invalid image id: it must be a UUID.")
            }
            if try await store.records.get(text.lowercased()) != nil {
                throw AshlarError(.conflict, "An image with identifier \(text) already exists")
            }
            image.id = text.lowercased()
        }
        for (key, value) in body where key != "id" { try Self.set(key, value, on: &image) }
        try await store.records.insert(image)
        return JSONResponse.make(ImageView.show(image), status: .created)
    }

    /// Sets one attribute or property from a request, as Glance validates it.
    static func set(_ key: String, _ value: JSONValue, on image: inout Image) throws {
        func text(_ allowed: Set<String>? = nil) throws -> String {
            guard let text = value.stringValue, allowed?.contains(text) ?? true else {
                let choices = allowed.map { ": one of \($0.sorted().joined(separator: ", "))" } ?? ""
                throw AshlarError(.invalidInput, "Invalid value for '\(key)'\(choices).")
            }
            return text
        }
        func number() throws -> Int {
            guard case .int(let n) = value, n >= 0, n <= Int64(Int32.max) else {
                throw AshlarError(.invalidInput, "Invalid value for '\(key)': a non-negative integer.")
            }
            return Int(n)
        }
        if readOnly.contains(key) { throw AshlarError(.forbidden, "Attribute '\(key)' is read-only.") }
        switch key {
        case "name":
            if value.isNull { image.name = nil } else {
                let name = try text()
                guard name.count <= 255 else { throw AshlarError(.invalidInput, "Invalid value for 'name': at most 255 characters.") }
                image.name = name
            }
        case "disk_format", "container_format":
            guard image.status == "queued" else {
                throw AshlarError(.forbidden, "Attribute '\(key)' can be only replaced for a queued image.")
            }
            if key == "disk_format" { image.diskFormat = try text(diskFormats) } else { image.containerFormat = try text(containerFormats) }
        case "visibility": image.visibility = try text(visibilities)
        case "protected":
            guard case .bool(let flag) = value else { throw AshlarError(.invalidInput, "Invalid value for 'protected': a boolean.") }
            image.protected = flag
        case "min_disk": image.minDisk = try number()
        case "min_ram": image.minRAM = try number()
        case "os_hidden":
            guard case .bool = value else { throw AshlarError(.invalidInput, "Invalid value for 'os_hidden': a boolean.") }
        case "tags":
            guard case .array(let items) = value else { throw AshlarError(.invalidInput, "Invalid value for 'tags': an array.") }
            image.tags = try items.map {
                guard let tag = $0.stringValue, tag.count <= 255 else { throw AshlarError(.invalidInput, "Invalid tag.") }
                return tag
            }
        default:
            guard key.count <= 255, !key.hasPrefix("os_glance") else {
                throw AshlarError(.forbidden, "Attribute '\(key)' is reserved.")
            }
            image.properties[key] = try text()
        }
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(ImageView.show(try await image(context)))
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var images = try await store.records.all().filter { LocalImageStore.visible($0, to: context.caller) }
        if let name = query["name"].map(String.init) { images = images.filter { $0.name == name } }
        if let status = query["status"].map(String.init) { images = images.filter { $0.status == status } }
        if let visibility = query["visibility"].map(String.init), visibility != "all" {
            images = images.filter { $0.visibility == visibility }
        }
        if let owner = query["owner"].map(String.init) { images = images.filter { $0.owner == owner } }
        for key in ["disk_format", "container_format"] {
            if let wanted = query[key[...]].map(String.init) {
                images = images.filter { (key == "disk_format" ? $0.diskFormat : $0.containerFormat) == wanted }
            }
        }
        if let tag = query["tag"].map(String.init) { images = images.filter { $0.tags.contains(tag) } }
        // Newest first, as Glance sorts by default.
        let sortKey = query["sort_key"].map(String.init) ?? "created_at"
        let ascending = (query["sort_dir"].map(String.init) ?? "desc") == "asc"
        images.sort { a, b in
            let order: Bool
            switch sortKey {
            case "name": order = (a.name ?? "") < (b.name ?? "")
            case "size": order = (a.size ?? 0) < (b.size ?? 0)
            case "updated_at": order = a.updatedAt < b.updatedAt
            default: order = a.createdAt < b.createdAt || (a.createdAt == b.createdAt && a.id < b.id)
            }
            return ascending ? order : !order
        }
        if let marker = query["marker"].map(String.init) {
            guard let index = images.firstIndex(where: { $0.id == marker }) else {
                throw AshlarError(.invalidInput, "Invalid marker. Image \(marker) could not be found.")
            }
            images = Array(images[(index + 1)...])
        }
        var limit = 25
        if let text = query["limit"].map(String.init) {
            guard let n = Int(text), n >= 0 else { throw AshlarError(.invalidInput, "limit param must be positive") }
            limit = min(n, 1000)
        }
        let page = Array(images.prefix(limit))
        var body: [String: JSONValue] = [
            "images": .array(page.map(ImageView.show)), "first": "/v2/images", "schema": "/v2/schemas/images",
        ]
        if images.count > limit, let last = page.last { body["next"] = .string("/v2/images?marker=\(last.id)&limit=\(limit)") }
        return JSONResponse.make(.object(body))
    }

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var image = try await image(context)
        guard case .array(let operations) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "A JSON patch is an array of operations.")
        }
        let before = image.status
        for operation in operations {
            guard let op = operation.objectValue?["op"]?.stringValue,
                let path = operation.objectValue?["path"]?.stringValue, path.hasPrefix("/"), path.count > 1
            else { throw AshlarError(.invalidInput, "Each operation of a JSON patch needs an op and a path.") }
            let key = String(path.dropFirst())
            switch op {
            case "add", "replace":
                guard let value = operation.objectValue?["value"] else {
                    throw AshlarError(.invalidInput, "Operation \(op) of \(path) needs a value.")
                }
                if op == "replace", !Image.baseAttributes.contains(key), image.properties[key] == nil {
                    throw AshlarError(.conflict, "Property \(key) does not exist.")
                }
                try Self.set(key, value, on: &image)
            case "remove":
                if Image.baseAttributes.contains(key) { throw AshlarError(.forbidden, "Attribute '\(key)' cannot be removed.") }
                guard image.properties.removeValue(forKey: key) != nil else {
                    throw AshlarError(.conflict, "Property \(key) does not exist.")
                }
            default:
                throw AshlarError(.invalidInput, "Unknown JSON patch operation \(op).")
            }
        }
        image.updatedAt = Date()
        guard try await store.records.replace(image, ifStatusIn: [before]) else {
            throw AshlarError(.conflict, "Image \(image.id) changed while it was being updated; try again.")
        }
        return JSONResponse.make(ImageView.show(image))
    }

    /// Glance's deactivate and reactivate: a deactivated image's data cannot be read (nor volumes made from it).
    func activation(_ request: Request, _ context: APIRequestContext, active: Bool) async throws -> Response {
        var image = try await image(context)
        let from = active ? "deactivated" : "active"
        if image.status == (active ? "active" : "deactivated") { return JSONResponse.empty(.noContent) }
        guard image.status == from else {
            throw AshlarError(.forbidden, "Not allowed to \(active ? "reactivate" : "deactivate") an image in status '\(image.status)'.")
        }
        image.status = active ? "active" : "deactivated"
        image.updatedAt = Date()
        guard try await store.records.replace(image, ifStatusIn: [from]) else {
            throw AshlarError(.conflict, "Image \(image.id) changed meanwhile; try again.")
        }
        return JSONResponse.empty(.noContent)
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let image = try await image(context)
        if image.protected { throw AshlarError(.forbidden, "Image \(image.id) is protected and cannot be deleted.") }
        try await store.delete(image.id, context: context.caller)
        return JSONResponse.empty(.noContent)
    }

    // MARK: Data

    func upload(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let image = try await store.show(id, context: context.caller)
        guard image.diskFormat != nil, image.containerFormat != nil else {
            throw AshlarError(.invalidInput, "Properties disk_format, container_format must be set prior to saving data.")
        }
        _ = try await store.receive(id, context: context.caller) { sink in
            for try await buffer in request.body {
                try buffer.withUnsafeReadableBytes { try sink.write($0) }
            }
        }
        return JSONResponse.empty(.noContent)
    }

    func download(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let image = try await image(context)
        if image.status == "deactivated" {
            throw AshlarError(.forbidden, "The requested image has been deactivated. Image data download is forbidden.")
        }
        guard let path = store.localFile(of: image) else { return JSONResponse.empty(.noContent) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AshlarError(.notFound, "Image \(image.id) has no data.") }
        var headers: HTTPFields = [.contentType: "application/octet-stream"]
        if let checksum = image.checksum { headers[HTTPField.Name("Content-MD5")!] = checksum }
        let body = ResponseBody(contentLength: image.size.map(Int.init)) { writer in
            defer { close(fd) }
            while true {
                var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
                let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { pointer in
                    let count = read(fd, pointer.baseAddress, pointer.count)
                    guard count >= 0 else { throw AshlarError(.internalError, "cannot read image data (errno \(errno))") }
                    return count
                }
                if count == 0 { break }
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
