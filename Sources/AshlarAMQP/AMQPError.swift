/// The one error type of the AMQP client.
///
/// `code` says what kind of failure it is; when the broker closed a channel or the connection, `replyCode` and
/// `replyText` carry what it said (e.g. 404 NOT_FOUND, 406 PRECONDITION_FAILED, 403 ACCESS_REFUSED). `underlying`
/// keeps the lower-level error (a socket error, say) for logs.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. Closed for switching on the known values, open to new ones without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case connectionFailed, connectTimeout, authenticationFailed, connectionClosed, channelClosed, timeout
            case protocolViolation, frameTooLarge, heartbeatTimeout, unsupportedProtocol, publishNacked
            case consumerCancelled, unavailable, invalidArgument, blocked, sessionClosed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The TCP connection could not be established.
        public static let connectionFailed = Code(.connectionFailed)
        /// Connecting plus the AMQP handshake did not finish within the connect timeout.
        public static let connectTimeout = Code(.connectTimeout)
        /// The broker refused the credentials or the virtual host (reply code 403 during the handshake).
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The connection is closed: by the broker (see `replyCode`), by the client, or because the socket went away.
        public static let connectionClosed = Code(.connectionClosed)
        /// The channel is closed, usually by the broker after a failed method (see `replyCode`).
        public static let channelClosed = Code(.channelClosed)
        /// A synchronous method, a confirm or a close got no answer in time.
        public static let timeout = Code(.timeout)
        /// The peer sent something the protocol does not allow (or we could not decode it).
        public static let protocolViolation = Code(.protocolViolation)
        /// A frame larger than the negotiated frame_max.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// Nothing was received for two heartbeat intervals: the peer is considered dead.
        public static let heartbeatTimeout = Code(.heartbeatTimeout)
        /// The broker does not speak AMQP 0-9-1.
        public static let unsupportedProtocol = Code(.unsupportedProtocol)
        /// The broker answered a publish on a confirm channel with basic.nack.
        public static let publishNacked = Code(.publishNacked)
        /// The broker cancelled the consumer (e.g. its queue was deleted).
        public static let consumerCancelled = Code(.consumerCancelled)
        /// No connection could be had in time (the session is reconnecting).
        public static let unavailable = Code(.unavailable)
        /// An argument the protocol cannot carry (e.g. a short string longer than 255 bytes).
        public static let invalidArgument = Code(.invalidArgument)
        /// The broker kept the connection blocked (connection.blocked) for longer than the publish could wait.
        public static let blocked = Code(.blocked)
        /// The session was closed by its owner.
        public static let sessionClosed = Code(.sessionClosed)

        public var description: String { base.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// The broker's reply code when the broker closed the channel or connection.
    public var replyCode: UInt16?
    /// The broker's reply text when the broker closed the channel or connection.
    public var replyText: String?
    /// The class and method id the broker named as the cause, when it named one.
    public var failingMethod: (classID: UInt16, methodID: UInt16)?
    /// A short explanation of our own.
    public var message: String?
    /// The lower-level error, kept for logs.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(
        _ code: Code, message: String? = nil, replyCode: UInt16? = nil, replyText: String? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.underlying = underlying
    }

    public var description: String {
        var parts = ["AMQPError(\(code)"]
        if let replyCode { parts.append("reply \(replyCode)") }
        if let replyText { parts.append("'\(replyText)'") }
        if let message { parts.append(message) }
        if let underlying { parts.append("underlying: \(underlying)") }
        return parts.joined(separator: ", ") + ")"
    }
}

extension AMQPError {
    static func protocolViolation(_ message: String) -> AMQPError {
        AMQPError(.protocolViolation, message: message)
    }

    /// The error of a broker-initiated close.
    static func closedByServer(
        _ code: Code, replyCode: UInt16, replyText: String, classID: UInt16, methodID: UInt16
    ) -> AMQPError {
        var error = AMQPError(code, replyCode: replyCode, replyText: replyText)
        if classID != 0 || methodID != 0 { error.failingMethod = (classID, methodID) }
        return error
    }
}
