import Foundation

/// Where images come from and how they are checked, converted and cached (`[DEFAULT]`, upstream's option names
/// and defaults).
public struct ImageOptions: Sendable, Equatable {
    /// `image_conversion_address_space_limit`: GiB of address space qemu-img may map.
    public var conversionAddressSpaceLimit: Int
    /// `image_conversion_cpu_limit`: seconds of CPU qemu-img may use.
    public var conversionCPULimit: Int
    /// `vmdk_allowed_types`: the VMDK subformats an image may have.
    public var vmdkAllowedTypes: [String]
    /// `glance_api_servers`: the Image service's URLs; empty uses the store built into the API (`/image`).
    public var glanceAPIServers: [String]
    /// `glance_request_timeout`: seconds an Image service request may take; nil waits as long as data flows.
    public var glanceRequestTimeout: Int?
    /// `glance_num_retries`: how often a failed request to the Image service is tried again.
    public var glanceNumRetries: Int
    /// `image_conversion_dir`: where images are downloaded and converted (default `$state_path/conversion`).
    public var conversionDirectory: String?
    /// `image_volume_cache_enabled`: keep a copy of each image written to a volume, so that the next volume
    /// from it is a copy-on-write clone.
    public var cacheEnabled: Bool
    /// `image_volume_cache_max_size_gb`: GiB the cache of a backend may hold (0: no limit).
    public var cacheMaxSizeGB: Int
    /// `image_volume_cache_max_count`: images the cache of a backend may hold (0: no limit).
    public var cacheMaxCount: Int
    /// `enable_force_upload`: whether an in-use volume may be uploaded with `force`.
    public var enableForceUpload: Bool

    public init(
        conversionAddressSpaceLimit: Int = 1, conversionCPULimit: Int = 60,
        vmdkAllowedTypes: [String] = ["streamOptimized", "monolithicSparse"], glanceAPIServers: [String] = [],
        glanceRequestTimeout: Int? = nil, glanceNumRetries: Int = 3, conversionDirectory: String? = nil,
        cacheEnabled: Bool = false, cacheMaxSizeGB: Int = 0, cacheMaxCount: Int = 0, enableForceUpload: Bool = false
    ) {
        self.conversionAddressSpaceLimit = conversionAddressSpaceLimit
        self.conversionCPULimit = conversionCPULimit
        self.vmdkAllowedTypes = vmdkAllowedTypes
        self.glanceAPIServers = glanceAPIServers
        self.glanceRequestTimeout = glanceRequestTimeout
        self.glanceNumRetries = glanceNumRetries
        self.conversionDirectory = conversionDirectory
        self.cacheEnabled = cacheEnabled
        self.cacheMaxSizeGB = cacheMaxSizeGB
        self.cacheMaxCount = cacheMaxCount
        self.enableForceUpload = enableForceUpload
    }

    /// The option names this type reads from `[DEFAULT]`.
    static let optionNames: Set<String> = [
        "image_conversion_address_space_limit", "image_conversion_cpu_limit", "vmdk_allowed_types",
        "glance_api_servers", "glance_request_timeout", "glance_num_retries", "image_conversion_dir",
        "image_volume_cache_enabled", "image_volume_cache_max_size_gb", "image_volume_cache_max_count",
        "enable_force_upload",
    ]

    init(layers: AshlarConfig.Layers, statePath: String) throws(ConfigError) {
        let defaults = ImageOptions()
        let section = INIFile.defaultSection
        func setting(_ name: String) -> AshlarConfig.Setting? { layers.setting(name, in: section) }
        var servers: [String] = []
        if let configured = setting("glance_api_servers") {
            for server in configured.list() {
                // Upstream takes `host:port` as http; a URL is kept as given.
                let url = server.contains("://") ? server : "http://" + server
                guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""),
                    parsed.host != nil
                else { throw configured.error("'\(server)' is not an http(s) URL of the Image service") }
                servers.append(url.hasSuffix("/") ? String(url.dropLast()) : url)
            }
        }
        self.init(
            conversionAddressSpaceLimit: try setting("image_conversion_address_space_limit")?.int(in: 1...1024)
                ?? defaults.conversionAddressSpaceLimit,
            conversionCPULimit: try setting("image_conversion_cpu_limit")?.int(in: 1...86_400)
                ?? defaults.conversionCPULimit,
            vmdkAllowedTypes: setting("vmdk_allowed_types")?.list() ?? defaults.vmdkAllowedTypes,
            glanceAPIServers: servers,
            glanceRequestTimeout: try setting("glance_request_timeout")?.int(in: 1...86_400),
            glanceNumRetries: try setting("glance_num_retries")?.int(in: 0...100) ?? defaults.glanceNumRetries,
            conversionDirectory: AshlarConfig.substituteStatePath(
                try setting("image_conversion_dir")?.string() ?? "$state_path/conversion", statePath: statePath),
            cacheEnabled: try setting("image_volume_cache_enabled")?.bool() ?? defaults.cacheEnabled,
            cacheMaxSizeGB: try setting("image_volume_cache_max_size_gb")?.int(in: 0...Int(Int32.max)) ?? 0,
            cacheMaxCount: try setting("image_volume_cache_max_count")?.int(in: 0...Int(Int32.max)) ?? 0,
            enableForceUpload: try setting("enable_force_upload")?.bool() ?? defaults.enableForceUpload)
    }
}
