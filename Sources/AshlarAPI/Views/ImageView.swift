import AshlarCore
import Foundation

/// Images as Glance v2 shows them: the attributes, then each additional property at the top level.
enum ImageView {
    static func show(_ i: Image) -> JSONValue {
        var d: [String: JSONValue] = [:]
        for (key, value) in i.properties { d[key] = .string(value) }
        func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func optional(_ value: Int64?) -> JSONValue { value.map(JSONValue.int) ?? .null }
        d["id"] = .string(i.id)
        d["name"] = optional(i.name)
        d["status"] = .string(i.status)
        d["visibility"] = .string(i.visibility)
        d["protected"] = .bool(i.protected)
        d["os_hidden"] = .bool(false)
        d["owner"] = optional(i.owner)
        d["disk_format"] = optional(i.diskFormat)
        d["container_format"] = optional(i.containerFormat)
        d["size"] = optional(i.size)
        d["virtual_size"] = optional(i.virtualSize)
        d["checksum"] = optional(i.checksum)
        d["os_hash_algo"] = optional(i.osHashAlgorithm)
        d["os_hash_value"] = optional(i.osHashValue)
        d["min_disk"] = .int(Int64(i.minDisk))
        d["min_ram"] = .int(Int64(i.minRAM))
        d["tags"] = .array(i.tags.map(JSONValue.string))
        d["created_at"] = .string(timestamp(i.createdAt))
        d["updated_at"] = .string(timestamp(i.updatedAt))
        d["self"] = .string("/v2/images/\(i.id)")
        d["file"] = .string("/v2/images/\(i.id)/file")
        d["schema"] = .string("/v2/schemas/image")
        return .object(d)
    }

    /// Glance's timestamps: seconds, UTC, `Z`.
    static func timestamp(_ date: Date) -> String {
        String(Timestamp.format(date).prefix(19)) + "Z"
    }

    /// The version document of `/image` (Glance's, with the one version served).
    static func versions(base: String) -> JSONValue {
        .object([
            "versions": .array([
                .object([
                    "id": "v2.16", "status": "CURRENT",
                    "links": .array([.object(["rel": "self", "href": .string("\(base)/image/v2/")])]),
                ])
            ])
        ])
    }
}
