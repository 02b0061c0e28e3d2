import Foundation

/// A snapshot of a volume, as stored. It lives on its volume's backend, and the volume cannot be deleted while
/// it exists (except by a cascading delete).
public struct Snapshot: Sendable, Hashable {
    public var id: String
    public var projectID: String
    public var userID: String
    public var volumeID: String
    public var name: String?
    public var description: String?
    public var status: SnapshotStatus
    /// `0%` while creating, `100%` once available (`os-extended-snapshot-attributes:progress`).
    public var progress: String
    /// The volume's size when the snapshot was taken, in GiB (the API's `size`).
    public var volumeSize: Int
    /// The volume's type, for per-type quotas.
    public var volumeTypeID: String
    public var consumesQuota: Bool
    public var metadata: [String: String]
    public var createdAt: Date
    public var updatedAt: Date?
    /// The group snapshot this snapshot is a member of (3.14), if any.
    public var groupSnapshotID: String? = nil

    public init(
        id: String = UUID().uuidString.lowercased(), projectID: String, userID: String, volumeID: String,
        name: String? = nil, description: String? = nil, status: SnapshotStatus = .creating, progress: String = "0%",
        volumeSize: Int, volumeTypeID: String, consumesQuota: Bool = true, metadata: [String: String] = [:],
        createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.projectID = projectID
        self.userID = userID
        self.volumeID = volumeID
        self.name = name
        self.description = description
        self.status = status
        self.progress = progress
        self.volumeSize = volumeSize
        self.volumeTypeID = volumeTypeID
        self.consumesQuota = consumesQuota
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
