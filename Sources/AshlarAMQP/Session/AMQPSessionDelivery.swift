import NIOCore

/// A delivery through an `AMQPSession`: the delivery plus the connection it came on, so that acks of a dead
/// connection's deliveries are not sent on the next one (where the tag would mean another message).
public struct AMQPSessionDelivery: Sendable {
    /// The delivery.
    public var delivery: AMQPDelivery
    /// Which of the session's connections delivered it.
    public var generation: Int

    public var body: ByteBuffer { delivery.body }
    public var properties: AMQPBasicProperties { delivery.properties }
    public var redelivered: Bool { delivery.redelivered }
    public var exchange: String { delivery.exchange }
    public var routingKey: String { delivery.routingKey }
}

/// The deliveries of a session consumer. Unlike `AMQPConsumer` it survives reconnections: after a connection
/// loss the session consumes again and the sequence goes on. It ends normally after `AMQPSession.cancel(_:)` or
/// `close()`, and with an `AMQPError` when the broker cancels the consumer (`.consumerCancelled`).
public struct AMQPSessionConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPSessionDelivery

    /// The session's id for this consumer (consumer tags change across connections).
    public let id: Int
    let stream: AsyncThrowingStream<AMQPSessionDelivery, any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPSessionDelivery, any Error>.AsyncIterator
        public mutating func next() async throws -> AMQPSessionDelivery? { try await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator()) }
}
