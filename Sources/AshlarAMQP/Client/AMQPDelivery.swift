import NIOCore

/// A message the broker delivered to a consumer (basic.deliver) or handed out with basic.get.
public struct AMQPDelivery: Sendable {
    /// The message body.
    public var body: ByteBuffer
    /// The message properties.
    public var properties: AMQPBasicProperties
    /// The tag to ack, nack or reject it with, valid on the channel that received it only.
    public var deliveryTag: UInt64
    /// Whether the broker delivered it before (and it was not acked).
    public var redelivered: Bool
    /// The exchange it was published to ("" for the default exchange).
    public var exchange: String
    /// The routing key it was published with.
    public var routingKey: String
    /// The consumer it was delivered to; empty for basic.get.
    public var consumerTag: String
    /// For basic.get: how many messages were left in the queue.
    public var messageCount: UInt32?
}
