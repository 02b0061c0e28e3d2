import Foundation

/// The one error type of Ashlar's domain.
///
/// A `Code` says what kind of failure this is; the API edge maps each code once to a Cinder fault
/// (`badRequest`, `itemNotFound`, …). The message is written for a person and is shown to API users as is.
public struct AshlarError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. Extensible: modules may add their own codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Bad input: a malformed body, an invalid value, an unknown filter (400).
        public static let invalidInput = Code("InvalidInput")
        /// The resource is not in a state that allows the operation (400, as Cinder's `InvalidVolume`).
        public static let invalidState = Code("InvalidState")
        /// The resource does not exist (404).
        public static let notFound = Code("NotFound")
        /// A uniqueness or state conflict (409).
        public static let conflict = Code("Conflict")
        /// A quota or size limit was hit (413).
        public static let overLimit = Code("OverLimit")
        /// The request body is larger than allowed (413).
        public static let requestTooLarge = Code("RequestTooLarge")
        /// Not allowed for this caller (403).
        public static let forbidden = Code("Forbidden")
        /// The requested microversion is outside the supported range (406).
        public static let versionNotAcceptable = Code("VersionNotAcceptable")
        /// An If-Match precondition failed (412).
        public static let preconditionFailed = Code("PreconditionFailed")
        /// The feature is not available in this deployment (501).
        public static let notImplemented = Code("NotImplemented")
        /// A dependency (database, bus, backend) could not serve the request (503).
        public static let unavailable = Code("Unavailable")
        /// No backend passed the scheduler's filters.
        public static let noValidBackend = Code("NoValidBackend")
        /// A driver operation failed.
        public static let driverFailure = Code("DriverFailure")
        /// Anything else: a bug (500).
        public static let internalError = Code("InternalError")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

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
