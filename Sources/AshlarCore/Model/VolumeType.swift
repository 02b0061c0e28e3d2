import Foundation

/// A volume type: a name for a set of extra specs that steer scheduling.
public struct VolumeType: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    public var isPublic: Bool
    public var extraSpecs: [String: String]
    public var qosSpecsID: String?
    public var createdAt: Date
    public var updatedAt: Date?

    /// The name of the type every deployment starts with.
    public static let defaultName = "__DEFAULT__"

    public init(
        id: String = UUID().uuidString.lowercased(), name: String, description: String? = nil,
        isPublic: Bool = true, extraSpecs: [String: String] = [:], qosSpecsID: String? = nil,
        createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.isPublic = isPublic
        self.extraSpecs = extraSpecs
        self.qosSpecsID = qosSpecsID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Extra specs a non-admin may see (`cinder/policies/type_extra_specs.py`).
    public static let userVisibleSpecs: Set<String> = [
        "RESKEY:availability_zones", "multiattach", "replication_enabled",
    ]

    /// Whether volumes of this type may be attached more than once (`multiattach="<is> True"`).
    public var isMultiattach: Bool {
        guard let spec = extraSpecs["multiattach"] else { return false }
        return spec.lowercased().replacingOccurrences(of: " ", with: "") == "<is>true"
    }
}
