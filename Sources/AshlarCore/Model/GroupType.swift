import Foundation

/// A group type: a name for a set of group specs (`consistent_group_snapshot_enabled`, …) that groups are made
/// with, as volume types are for volumes.
public struct GroupType: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    public var isPublic: Bool
    public var groupSpecs: [String: String]
    public var createdAt: Date
    public var updatedAt: Date?

    public init(
        id: String = UUID().uuidString.lowercased(), name: String, description: String? = nil, isPublic: Bool = true,
        groupSpecs: [String: String] = [:], createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.isPublic = isPublic
        self.groupSpecs = groupSpecs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
