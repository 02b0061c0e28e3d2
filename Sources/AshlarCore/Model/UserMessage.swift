import Foundation

/// A message to a project about an asynchronous failure (`/v3/{project}/messages`).
public struct UserMessage: Sendable, Hashable {
    public var id: String
    public var projectID: String
    public var requestID: String?
    public var resourceType: String?
    public var resourceUUID: String?
    /// Cinder's event id, e.g. `VOLUME_VOLUME_001_002`.
    public var eventID: String
    /// `ERROR` for every message Cinder writes.
    public var level: String
    public var userMessage: String
    public var createdAt: Date
    /// When the message may be removed; nil until stored, where `message_ttl` sets it unless given.
    public var expiresAt: Date?

    /// `message_ttl`'s default: 30 days.
    public static let defaultTTL = 2_592_000

    public init(
        id: String = UUID().uuidString.lowercased(), projectID: String, requestID: String?, resourceType: String?,
        resourceUUID: String?, eventID: String, level: String = "ERROR", userMessage: String,
        createdAt: Date = Date(), expiresAt: Date? = nil
    ) {
        self.id = id
        self.projectID = projectID
        self.requestID = requestID
        self.resourceType = resourceType
        self.resourceUUID = resourceUUID
        self.eventID = eventID
        self.level = level
        self.userMessage = userMessage
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
