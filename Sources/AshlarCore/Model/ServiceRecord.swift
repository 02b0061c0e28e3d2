import Foundation

/// A row of the services table: one per scheduler and per volume backend, kept alive by heartbeats.
public struct ServiceRecord: Sendable, Hashable {
    public var id: Int
    /// `node` for a scheduler, `node@backend` for a volume service.
    public var host: String
    /// `cinder-scheduler` or `cinder-volume`.
    public var binary: String
    public var topic: String
    public var availabilityZone: String
    public var disabled: Bool
    public var disabledReason: String?
    public var frozen: Bool
    public var reportCount: Int
    public var createdAt: Date
    /// The last heartbeat.
    public var updatedAt: Date?
    /// The backend's own state, from its last capability report (`up`/`down`).
    public var backendState: String?

    public init(
        id: Int = 0, host: String, binary: String, topic: String, availabilityZone: String, disabled: Bool = false,
        disabledReason: String? = nil, frozen: Bool = false, reportCount: Int = 0, createdAt: Date = Date(),
        updatedAt: Date? = nil, backendState: String? = nil
    ) {
        self.id = id
        self.host = host
        self.binary = binary
        self.topic = topic
        self.availabilityZone = availabilityZone
        self.disabled = disabled
        self.disabledReason = disabledReason
        self.frozen = frozen
        self.reportCount = reportCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.backendState = backendState
    }

    public static let schedulerBinary = "cinder-scheduler"
    public static let volumeBinary = "cinder-volume"

    /// Up when the last heartbeat (or the creation, before any) is at most `downTime` seconds away from `now`.
    public func isUp(now: Date = Date(), downTime: Int) -> Bool {
        let last = updatedAt ?? createdAt
        return abs(now.timeIntervalSince(last)) <= Double(downTime)
    }
}
