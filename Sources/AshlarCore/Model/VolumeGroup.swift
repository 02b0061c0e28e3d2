import Foundation

/// A generic volume group: volumes of some volume types on one backend, managed together (snapshotted as one
/// set, deleted together). Its `host` is the backend (`host@backend`) every member lives on.
public struct VolumeGroup: Sendable, Hashable {
    public var id: String
    public var projectID: String
    public var userID: String
    public var name: String?
    public var description: String?
    public var groupTypeID: String
    public var volumeTypeIDs: [String]
    public var status: GroupStatus
    public var availabilityZone: String
    /// `host@backend` once placed; nil before.
    public var host: String?
    /// What the group was made from (3.14), if anything.
    public var groupSnapshotID: String?
    public var sourceGroupID: String?
    public var replicationStatus: String?
    public var createdAt: Date
    public var updatedAt: Date?

    public init(
        id: String = UUID().uuidString.lowercased(), projectID: String, userID: String, name: String? = nil,
        description: String? = nil, groupTypeID: String, volumeTypeIDs: [String], status: GroupStatus = .creating,
        availabilityZone: String, host: String? = nil, groupSnapshotID: String? = nil, sourceGroupID: String? = nil,
        replicationStatus: String? = "disabled", createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.projectID = projectID
        self.userID = userID
        self.name = name
        self.description = description
        self.groupTypeID = groupTypeID
        self.volumeTypeIDs = volumeTypeIDs
        self.status = status
        self.availabilityZone = availabilityZone
        self.host = host
        self.groupSnapshotID = groupSnapshotID
        self.sourceGroupID = sourceGroupID
        self.replicationStatus = replicationStatus
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A snapshot of every volume of a group, taken as one set: one member snapshot (`Snapshot.groupSnapshotID`) per
/// volume.
public struct GroupSnapshot: Sendable, Hashable {
    public var id: String
    public var groupID: String
    public var projectID: String
    public var userID: String
    public var name: String?
    public var description: String?
    public var groupTypeID: String
    public var status: GroupSnapshotStatus
    public var createdAt: Date
    public var updatedAt: Date?

    public init(
        id: String = UUID().uuidString.lowercased(), groupID: String, projectID: String, userID: String,
        name: String? = nil, description: String? = nil, groupTypeID: String,
        status: GroupSnapshotStatus = .creating, createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.groupID = groupID
        self.projectID = projectID
        self.userID = userID
        self.name = name
        self.description = description
        self.groupTypeID = groupTypeID
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
