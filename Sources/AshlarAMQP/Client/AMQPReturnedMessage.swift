import NIOCore

/// A mandatory message the broker could not route and sent back (basic.return).
public struct AMQPReturnedMessage: Sendable {
    /// The reason, e.g. 312 NO_ROUTE.
    public var replyCode: UInt16
    public var replyText: String
    public var exchange: String
    public var routingKey: String
    public var body: ByteBuffer
    public var properties: AMQPBasicProperties
}
