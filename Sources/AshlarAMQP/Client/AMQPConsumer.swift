import NIOCore

/// The deliveries of one consumer, as an `AsyncSequence`.
///
/// The sequence ends normally after `cancel()` or a client close of the channel, and with an `AMQPError` when the
/// broker cancels the consumer (`.consumerCancelled`, e.g. its queue was deleted), the channel is closed by the
/// broker (`.channelClosed`) or the connection is lost. Deliveries are buffered without limit: bound them with
/// `basicQos(prefetchCount:)`. One iterator per consumer. Dropping the sequence does not cancel the consumer at
/// the broker: call `cancel()`.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    /// The consumer tag.
    public let tag: String
    /// The channel the consumer lives on (ack through it).
    public let channel: AMQPChannel
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator

        public mutating func next() async throws -> AMQPDelivery? {
            try await base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// Cancels the consumer (basic.cancel).
    public func cancel() async throws {
        try await channel.basicCancel(tag)
    }

    /// A tag unique enough for one connection, without Foundation's UUID.
    static func makeTag() -> String {
        "ashlar-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}
