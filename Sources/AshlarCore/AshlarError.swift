import Foundation

/// The one error type of Ashlar's domain.
///
/// A `Code` says what kind of failure this is; the API edge maps each code once to a Cinder fault
/// (`badRequest`, `itemNotFound`, …). The message is written for a person and is shown to API users as is; the
/// error that caused it, if any, is kept in `underlying` for the logs and never shown to a user.
public struct AshlarError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is: a closed set, so that every code has a fault at the edge. New kinds are
    /// added here, with their fault, not invented at the throw site.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The kinds; `Fault` switches over them exhaustively.
        public enum Kind: String, Hashable, Sendable, CaseIterable {
            case invalidInput = "InvalidInput"
            case invalidState = "InvalidState"
            case notFound = "NotFound"
            case conflict = "Conflict"
            case overLimit = "OverLimit"
            case requestTooLarge = "RequestTooLarge"
            case forbidden = "Forbidden"
            case versionNotAcceptable = "VersionNotAcceptable"
            case preconditionFailed = "PreconditionFailed"
            case notImplemented = "NotImplemented"
            case unavailable = "Unavailable"
            case noValidBackend = "NoValidBackend"
            case driverFailure = "DriverFailure"
            case internalError = "InternalError"
        }

        public let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The code's name as it crosses the RPC wire.
        public var name: String { kind.rawValue }
        public var description: String { name }

        /// The code named `name` on the wire; anything unknown is an internal error.
        public init(wireName name: String) { self.init(Kind(rawValue: name) ?? .internalError) }

        /// Bad input: a malformed body, an invalid value, an unknown filter (400).
        public static let invalidInput = Code(.invalidInput)
        /// The resource is not in a state that allows the operation (400, as Cinder's `InvalidVolume`).
        public static let invalidState = Code(.invalidState)
        /// The resource does not exist (404).
        public static let notFound = Code(.notFound)
        /// A uniqueness or state conflict (409).
        public static let conflict = Code(.conflict)
        /// A quota or size limit was hit (413).
        public static let overLimit = Code(.overLimit)
        /// The request body is larger than allowed (413).
        public static let requestTooLarge = Code(.requestTooLarge)
        /// Not allowed for this caller (403).
        public static let forbidden = Code(.forbidden)
        /// The requested microversion is outside the supported range (406).
        public static let versionNotAcceptable = Code(.versionNotAcceptable)
        /// An If-Match precondition failed (412).
        public static let preconditionFailed = Code(.preconditionFailed)
        /// The feature is not available in this deployment (501).
        public static let notImplemented = Code(.notImplemented)
        /// A dependency (database, bus, backend) could not serve the request (503).
        public static let unavailable = Code(.unavailable)
        /// No backend passed the scheduler's filters.
        public static let noValidBackend = Code(.noValidBackend)
        /// A driver operation failed.
        public static let driverFailure = Code(.driverFailure)
        /// Anything else: a bug (500).
        public static let internalError = Code(.internalError)
    }

    public var code: Code
    public var message: String
    /// What caused this error, for the logs only.
    public var underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        guard let underlying else { return "\(code): \(message)" }
        return "\(code): \(message) (\(underlying))"
    }

    // Shorthands for the common cases, with Cinder's wording.
    public static func invalidInput(_ reason: String) -> AshlarError {
        AshlarError(.invalidInput, "Invalid input received: \(reason)")
    }
    public static func badRequest(_ message: String) -> AshlarError { AshlarError(.invalidInput, message) }
    public static func notFound(_ message: String) -> AshlarError { AshlarError(.notFound, message) }
    public static func volumeNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Volume \(id) could not be found.")
    }
    public static func snapshotNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Snapshot \(id) could not be found.")
    }
    public static func volumeTypeNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Volume type \(id) could not be found.")
    }
    public static func invalidVolume(_ reason: String) -> AshlarError {
        AshlarError(.invalidState, "Invalid volume: \(reason)")
    }
}

extension AshlarError {
    public static func groupTypeNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Group type with id \(id) could not be found.")
    }

    public static func groupNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Group \(id) could not be found.")
    }

    public static func groupSnapshotNotFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "GroupSnapshot \(id) could not be found.")
    }
}
