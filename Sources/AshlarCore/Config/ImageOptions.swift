import Foundation

/// How images are checked and converted (`[DEFAULT]`, upstream's option names and defaults).
public struct ImageOptions: Sendable, Equatable {
    /// `image_conversion_address_space_limit`: GiB of address space qemu-img may map.
    public var conversionAddressSpaceLimit: Int
    /// `image_conversion_cpu_limit`: seconds of CPU qemu-img may use.
    public var conversionCPULimit: Int
    /// `vmdk_allowed_types`: the VMDK subformats an image may have.
    public var vmdkAllowedTypes: [String]

    public init(
        conversionAddressSpaceLimit: Int = 1, conversionCPULimit: Int = 60,
        vmdkAllowedTypes: [String] = ["streamOptimized", "monolithicSparse"]
    ) {
        self.conversionAddressSpaceLimit = conversionAddressSpaceLimit
        self.conversionCPULimit = conversionCPULimit
        self.vmdkAllowedTypes = vmdkAllowedTypes
    }

    /// The option names this type reads from `[DEFAULT]`.
    static let optionNames: Set<String> = [
        "image_conversion_address_space_limit", "image_conversion_cpu_limit", "vmdk_allowed_types",
    ]

    init(layers: AshlarConfig.Layers) throws(ConfigError) {
        let defaults = ImageOptions()
        let section = INIFile.defaultSection
        self.init(
            conversionAddressSpaceLimit: try layers.setting("image_conversion_address_space_limit", in: section)?
                .int(in: 1...1024) ?? defaults.conversionAddressSpaceLimit,
            conversionCPULimit: try layers.setting("image_conversion_cpu_limit", in: section)?.int(in: 1...86_400)
                ?? defaults.conversionCPULimit,
            vmdkAllowedTypes: layers.setting("vmdk_allowed_types", in: section)?.list() ?? defaults.vmdkAllowedTypes)
    }
}
