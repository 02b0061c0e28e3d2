import Foundation

/// One attachment of a volume to a host or instance (`volume_attachments`), made by the attachments API or the
/// legacy attach actions.
public struct Attachment: Sendable, Hashable {
    public var id: String
    public var volumeID: String
    public var projectID: String
    public var instanceUUID: String?
    public var attachedHost: String?
    public var mountpoint: String?
    /// `rw` or `ro`.
    public var mode: String
    /// `reserved` → `attaching` → `attached` (→ `detaching`); `error_attaching` / `error_detaching` on failure.
    public var status: AttachStatus
    /// The connector the host sent (initiator, ip, host, …), as JSON.
    public var connector: [String: JSONValue]?
    /// What the backend answered: `{"driver_volume_type": "iscsi", "data": {…}}`.
    public var connectionInfo: [String: JSONValue]?
    public var attachTime: Date?
    public var createdAt: Date
    public var updatedAt: Date?

    public init(
        id: String = UUID().uuidString.lowercased(), volumeID: String, projectID: String, instanceUUID: String? = nil,
        attachedHost: String? = nil, mountpoint: String? = nil, mode: String = "rw", status: AttachStatus = .reserved,
        connector: [String: JSONValue]? = nil, connectionInfo: [String: JSONValue]? = nil, attachTime: Date? = nil,
        createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.volumeID = volumeID
        self.projectID = projectID
        self.instanceUUID = instanceUUID
        self.attachedHost = attachedHost
        self.mountpoint = mountpoint
        self.mode = mode
        self.status = status
        self.connector = connector
        self.connectionInfo = connectionInfo
        self.attachTime = attachTime
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether a connector asks for multipath to be enforced (`enforce_multipath`, false when absent).
    public static func enforcesMultipath(_ connector: [String: JSONValue]) -> Bool {
        if case .bool(let enforce)? = connector["enforce_multipath"] { return enforce }
        return false
    }

    /// Statuses of an attachment that holds the volume (its export must stay).
    public static let live: Set<AttachStatus> = [.reserved, .attaching, .attached, .detaching]

    /// The volume's status and attach status that its live attachments imply (`_get_statuses_from_attachments`):
    /// none → available/detached; otherwise the first of attached < attaching < detaching < reserved, with
    /// attached shown as in-use.
    public static func volumeStatus(for statuses: [AttachStatus]) -> (status: VolumeStatus, attach: AttachStatus) {
        let order: [AttachStatus] = [.attached, .attaching, .detaching, .reserved]
        guard let first = order.first(where: { statuses.contains($0) }) else { return (.available, .detached) }
        switch first {
        case .attached: return (.inUse, .attached)
        case .attaching: return (.attaching, .attaching)
        case .detaching: return (.detaching, .detaching)
        default: return (.reserved, .reserved)
        }
    }
}
