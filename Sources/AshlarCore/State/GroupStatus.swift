import Foundation

/// A group's `status` (`cinder/objects/fields.py: GroupStatus`).
public struct GroupStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let creating = GroupStatus("creating")
    public static let available = GroupStatus("available")
    public static let updating = GroupStatus("updating")
    public static let inUse = GroupStatus("in-use")
    public static let deleting = GroupStatus("deleting")
    public static let deleted = GroupStatus("deleted")
    public static let error = GroupStatus("error")
    public static let errorDeleting = GroupStatus("error_deleting")

    /// Every status Cinder knows; reset_status (3.20) accepts only these.
    public static let all: [GroupStatus] = [
        .creating, .available, .updating, .inUse, .deleting, .deleted, .error, .errorDeleting,
    ]
}

/// A group snapshot's `status` (`cinder/objects/fields.py: GroupSnapshotStatus`).
public struct GroupSnapshotStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let creating = GroupSnapshotStatus("creating")
    public static let available = GroupSnapshotStatus("available")
    public static let deleting = GroupSnapshotStatus("deleting")
    public static let deleted = GroupSnapshotStatus("deleted")
    public static let error = GroupSnapshotStatus("error")
    public static let errorDeleting = GroupSnapshotStatus("error_deleting")

    /// Every status Cinder knows; reset_status (3.19) accepts only these.
    public static let all: [GroupSnapshotStatus] = [.creating, .available, .deleting, .deleted, .error, .errorDeleting]
}
