import Foundation

/// Who is asking: the request's identity, carried from the API through RPC to the services.
public struct CallerContext: Sendable, Hashable, Codable {
    public var requestID: String
    public var userID: String
    public var projectID: String
    public var isAdmin: Bool

    public init(requestID: String, userID: String, projectID: String, isAdmin: Bool) {
        self.requestID = requestID
        self.userID = userID
        self.projectID = projectID
        self.isAdmin = isAdmin
    }

    /// The context of work a service does on its own (start-up cleanup, periodic tasks).
    public static func service(requestID: String) -> CallerContext {
        CallerContext(requestID: requestID, userID: "ashlar", projectID: "ashlar", isAdmin: true)
    }
}
