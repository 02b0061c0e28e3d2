import Foundation

/// An image as the Image service (Glance v2) describes it.
public struct Image: Sendable, Hashable {
    public var id: String
    public var name: String?
    /// `queued`, `saving`, `active`, `killed`, `deleted`, `pending_delete`, `deactivated`, `uploading`,
    /// `importing`.
    public var status: String
    public var visibility: String
    public var protected: Bool
    public var owner: String?
    public var diskFormat: String?
    public var containerFormat: String?
    /// Bytes of the stored data.
    public var size: Int64?
    /// Bytes of the disk the data describes.
    public var virtualSize: Int64?
    /// MD5 of the data, hex.
    public var checksum: String?
    public var osHashAlgorithm: String?
    public var osHashValue: String?
    /// GiB.
    public var minDisk: Int
    /// MiB.
    public var minRAM: Int
    public var tags: [String]
    /// The image's additional properties (Glance keeps them as strings).
    public var properties: [String: String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String = UUID().uuidString.lowercased(), name: String? = nil, status: String = "queued",
        visibility: String = "shared", protected: Bool = false, owner: String? = nil, diskFormat: String? = nil,
        containerFormat: String? = nil, size: Int64? = nil, virtualSize: Int64? = nil, checksum: String? = nil,
        osHashAlgorithm: String? = nil, osHashValue: String? = nil, minDisk: Int = 0, minRAM: Int = 0,
        tags: [String] = [], properties: [String: String] = [:], createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.status = status
        self.visibility = visibility
        self.protected = protected
        self.owner = owner
        self.diskFormat = diskFormat
        self.containerFormat = containerFormat
        self.size = size
        self.virtualSize = virtualSize
        self.checksum = checksum
        self.osHashAlgorithm = osHashAlgorithm
        self.osHashValue = osHashValue
        self.minDisk = minDisk
        self.minRAM = minRAM
        self.tags = tags
        self.properties = properties
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }

    /// Whether its data can be read.
    public var isActive: Bool { status == "active" }

    /// The image's own attributes, as Glance names them; what is not one of them is an additional property.
    public static let baseAttributes: Set<String> = [
        "id", "name", "status", "visibility", "protected", "owner", "disk_format", "container_format", "size",
        "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "tags", "created_at",
        "updated_at", "file", "self", "schema", "direct_url", "locations", "os_hidden", "stores",
    ]

    /// What a volume made from this image records of it (`volume_image_metadata`): upstream's copied attributes
    /// and the additional properties.
    public var volumeImageMetadata: [String: String] {
        var metadata = properties
        metadata["image_id"] = id
        if let name { metadata["image_name"] = name }
        if let checksum { metadata["checksum"] = checksum }
        if let diskFormat { metadata["disk_format"] = diskFormat }
        if let containerFormat { metadata["container_format"] = containerFormat }
        if let size { metadata["size"] = String(size) }
        metadata["min_disk"] = String(minDisk)
        metadata["min_ram"] = String(minRAM)
        return metadata
    }
}

/// The attributes of an image to be made (Glance's image create).
public struct ImageDraft: Sendable, Hashable {
    public var name: String?
    public var diskFormat: String
    public var containerFormat: String
    public var visibility: String?
    public var protected: Bool
    public var minDisk: Int
    public var minRAM: Int
    public var properties: [String: String]

    public init(
        name: String?, diskFormat: String, containerFormat: String, visibility: String? = nil,
        protected: Bool = false, minDisk: Int = 0, minRAM: Int = 0, properties: [String: String] = [:]
    ) {
        self.name = name
        self.diskFormat = diskFormat
        self.containerFormat = containerFormat
        self.visibility = visibility
        self.protected = protected
        self.minDisk = minDisk
        self.minRAM = minRAM
        self.properties = properties
    }
}

/// Told of bytes moved so far, and of the total when it is known.
public typealias ByteProgress = @Sendable (_ done: Int64, _ total: Int64?) -> Void

/// The Image service as the API and the volume service use it: Glance over HTTP, or the store built into the
/// all-in-one. Failures are `AshlarError`s: `.notFound` for an image that is not there (or not visible to the
/// caller), `.unavailable` when the service cannot be reached, `.invalidInput` for data that fails its hash.
public protocol ImageService: Sendable {
    /// The image with this id as the caller may see it.
    func show(_ id: String, context: CallerContext) async throws -> Image
    /// Writes the image's data into a new file at `path`, verifying it against the image's hash as it arrives
    /// (`os_hash_value`, else `checksum`). On failure no file is left at `path`.
    func download(_ id: String, to path: String, context: CallerContext, progress: ByteProgress?) async throws
    /// Records a new image, `queued`.
    func create(_ draft: ImageDraft, context: CallerContext) async throws -> Image
    /// Sends the file at `path` as the image's data; the image ends `active`.
    func upload(_ id: String, from path: String, context: CallerContext, progress: ByteProgress?) async throws
    /// Removes the image and its data; one that is not there is not an error.
    func delete(_ id: String, context: CallerContext) async throws
    /// A file holding the image's data that this process may read directly (the built-in store keeps images
    /// under the state path), so that nothing needs to be downloaded; nil for a remote service.
    func localFile(of image: Image) -> String?
}

extension AshlarError {
    /// Upstream's message for an image that is not there.
    public static func imageNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Image \(id) could not be found.")
    }
}
