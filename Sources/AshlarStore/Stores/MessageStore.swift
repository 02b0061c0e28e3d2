import AshlarCore
import Foundation
import SQLKit

/// User messages: what went wrong with an asynchronous operation, told to the project that asked for it.
public struct MessageStore: Sendable {
    let db: AshlarDatabase
    /// `message_ttl`: how long a message is kept, in seconds.
    public let ttl: Int

    public init(db: AshlarDatabase, ttl: Int = UserMessage.defaultTTL) {
        self.db = db
        self.ttl = ttl
    }

    /// Stores a user message (level ERROR) about one resource, for the request that led to it.
    public func insert(
        projectID: String, requestID: String, resourceType: String, resourceID: String, eventID: String,
        _ text: String
    ) async throws {
        try await insert(
            UserMessage(
                projectID: projectID, requestID: requestID, resourceType: resourceType, resourceUUID: resourceID,
                eventID: eventID, userMessage: text))
    }

    /// Stores the message; unless it says when it expires, that is `ttl` seconds after it was made.
    public func insert(_ m: UserMessage) async throws {
        let expiresAt = m.expiresAt ?? m.createdAt.addingTimeInterval(TimeInterval(ttl))
        try await db.write.insert(into: "messages")
            .columns(
                "id", "project_id", "request_id", "resource_type", "resource_uuid", "event_id", "message_level",
                "user_message", "created_at", "expires_at"
            )
            .values(
                SQLBind(m.id), SQLBind(m.projectID), SQLBind(m.requestID), SQLBind(m.resourceType),
                SQLBind(m.resourceUUID), SQLBind(m.eventID), SQLBind(m.level), SQLBind(m.userMessage),
                SQLBind(m.createdAt.stored), SQLBind(expiresAt.stored)
            )
            .run()
    }

    public func list(projectID: String?, resourceUUID: String? = nil) async throws -> [UserMessage] {
        let select = db.read.select().column("*").from("messages")
        if let projectID { select.where("project_id", .equal, projectID) }
        if let resourceUUID { select.where("resource_uuid", .equal, resourceUUID) }
        return try await select.orderBy("created_at", .descending).all().map(Self.decode)
    }

    static func decode(_ row: any SQLRow) throws -> UserMessage {
        UserMessage(
            id: try row.decode(column: "id", as: String.self),
            projectID: try row.decode(column: "project_id", as: String.self),
            requestID: try row.optional("request_id", String.self),
            resourceType: try row.optional("resource_type", String.self),
            resourceUUID: try row.optional("resource_uuid", String.self),
            eventID: try row.decode(column: "event_id", as: String.self),
            level: try row.decode(column: "message_level", as: String.self),
            userMessage: try row.decode(column: "user_message", as: String.self),
            createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"))
    }
}

extension MessageStore {
    public func get(_ id: String) async throws -> UserMessage? {
        try await db.read.select().column("*").from("messages").where("id", .equal, id).first().map(Self.decode)
    }

    public func delete(id: String) async throws {
        try await db.write.delete(from: "messages").where("id", .equal, id).run()
    }

    /// Removes messages past their `guaranteed_until`.
    public func reap(now: Date = Date()) async throws {
        try await db.write.delete(from: "messages").where("expires_at", .lessThan, now.stored).run()
    }
}
