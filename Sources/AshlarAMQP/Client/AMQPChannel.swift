import NIOCore

/// An AMQP channel: declarations, publishing, consuming and acknowledgements.
///
/// A channel closed by the broker (e.g. after declaring an existing exchange with another type, 406) stays closed:
/// every later call fails with the `AMQPError` (`.channelClosed`, with the broker's reply code) and its consumers
/// end with it. Open a new channel to go on.
public final class AMQPChannel: Sendable {
    /// The connection this channel belongs to.
    public let connection: AMQPConnection
    /// The channel number.
    public let id: UInt16
    /// Mandatory messages the broker could not route (basic.return). A publish of such a message still succeeds
    /// (on a confirm channel the broker acks it after the return); read this stream to notice them. One reader;
    /// unread returns are buffered; it ends when the channel closes.
    public let returns: AsyncStream<AMQPReturnedMessage>

    init(connection: AMQPConnection, id: UInt16, returns: AsyncStream<AMQPReturnedMessage>) {
        self.connection = connection
        self.id = id
        self.returns = returns
    }

    private func request(_ method: AMQPMethod) async throws -> ChannelStateMachine.Response {
        let id = self.id
        return try await connection.onLoop { $0.request(id, method) }
    }

    private func send(_ method: AMQPMethod) async throws {
        let id = self.id
        try await connection.onLoop { $0.sendAsync(id, method) }
    }

    // MARK: Exchanges

    /// Declares an exchange (`type`: "direct", "fanout", "topic", "headers", or a plugin's).
    public func exchangeDeclare(
        _ name: String, type: String, durable: Bool = false, autoDelete: Bool = false,
        internal isInternal: Bool = false,
        passive: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        _ = try await request(
            .exchangeDeclare(
                exchange: name, type: type, passive: passive, durable: durable, autoDelete: autoDelete,
                internal: isInternal, noWait: false, arguments: arguments))
    }

    /// Deletes an exchange.
    public func exchangeDelete(_ name: String, ifUnused: Bool = false) async throws {
        _ = try await request(.exchangeDelete(exchange: name, ifUnused: ifUnused, noWait: false))
    }

    // MARK: Queues

    /// What queue.declare-ok said.
    public struct QueueDeclareResult: Sendable, Hashable {
        /// The queue's name: the one asked for, or the broker's for a server-named queue.
        public var name: String
        public var messageCount: UInt32
        public var consumerCount: UInt32
    }

    /// Declares a queue; an empty name asks the broker to name it (see the result).
    @discardableResult
    public func queueDeclare(
        _ name: String = "", durable: Bool = false, exclusive: Bool = false, autoDelete: Bool = false,
        passive: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> QueueDeclareResult {
        let response = try await request(
            .queueDeclare(
                queue: name, passive: passive, durable: durable, exclusive: exclusive, autoDelete: autoDelete,
                noWait: false, arguments: arguments))
        guard case .method(.queueDeclareOk(let queue, let messages, let consumers)) = response else {
            throw AMQPError.protocolViolation("queue.declare answered with \(response)")
        }
        return QueueDeclareResult(name: queue, messageCount: messages, consumerCount: consumers)
    }

    /// Binds a queue to an exchange.
    public func queueBind(
        queue: String, exchange: String, routingKey: String = "", arguments: AMQPTable = [:]
    )
        async throws
    {
        _ = try await request(
            .queueBind(queue: queue, exchange: exchange, routingKey: routingKey, noWait: false, arguments: arguments))
    }

    /// Removes a binding.
    public func queueUnbind(
        queue: String, exchange: String, routingKey: String = "", arguments: AMQPTable = [:]
    )
        async throws
    {
        _ = try await request(
            .queueUnbind(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments))
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func queueDelete(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        let response = try await request(.queueDelete(queue: name, ifUnused: ifUnused, ifEmpty: ifEmpty, noWait: false))
        guard case .method(.queueDeleteOk(let count)) = response else { return 0 }
        return count
    }

    /// Removes a queue's ready messages; returns how many.
    @discardableResult
    public func queuePurge(_ name: String) async throws -> UInt32 {
        let response = try await request(.queuePurge(queue: name, noWait: false))
        guard case .method(.queuePurgeOk(let count)) = response else { return 0 }
        return count
    }

    // MARK: Basic

    /// Limits unacknowledged deliveries: per consumer, or for the whole channel with `global` (RabbitMQ's
    /// reading of the flag).
    public func basicQos(prefetchCount: UInt16, global: Bool = false) async throws {
        _ = try await request(.basicQos(prefetchSize: 0, prefetchCount: prefetchCount, global: global))
    }

    /// Turns on publisher confirms: from now on `basicPublish` returns only once the broker acked the message.
    public func confirmSelect() async throws {
        _ = try await request(.confirmSelect(noWait: false))
    }

    /// Publishes a message.
    ///
    /// On a confirm channel (`confirmSelect()`), returns once the broker acked it and throws `.publishNacked` on a
    /// nack or `.timeout` after `requestTimeout`; otherwise returns once it is written. While the broker has the
    /// connection blocked, waits up to `blockedPublishTimeout` (then `.blocked`). An unroutable mandatory message
    /// comes back on `returns`.
    public func basicPublish(
        exchange: String = "", routingKey: String, body: ByteBuffer, properties: AMQPBasicProperties = .init(),
        mandatory: Bool = false
    ) async throws {
        let id = self.id
        try await connection.onLoop {
            $0.publish(
                id, exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties, body: body
            )
        }
    }

    /// Starts a consumer; its deliveries come through the returned `AMQPConsumer`.
    ///
    /// - Parameter consumerTag: nil lets the client pick a unique one.
    public func basicConsume(
        queue: String, consumerTag: String? = nil, noAck: Bool = false, exclusive: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws -> AMQPConsumer {
        let tag = consumerTag ?? AMQPConsumer.makeTag()
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let id = self.id
        let method = AMQPMethod.basicConsume(
            queue: queue, consumerTag: tag, noLocal: false, noAck: noAck, exclusive: exclusive, noWait: false,
            arguments: arguments)
        _ = try await connection.onLoop { $0.consume(id, method, tag: tag, continuation: continuation) }
        return AMQPConsumer(tag: tag, channel: self, stream: stream)
    }

    /// Cancels a consumer; its sequence ends (without error) once the broker confirmed.
    public func basicCancel(_ consumerTag: String) async throws {
        _ = try await request(.basicCancel(consumerTag: consumerTag, noWait: false))
    }

    /// Fetches one message, or nil when the queue is empty.
    public func basicGet(queue: String, noAck: Bool = false) async throws -> AMQPDelivery? {
        let response = try await request(.basicGet(queue: queue, noAck: noAck))
        guard case .message(let box) = response else { return nil }
        return box.delivery
    }

    /// Acknowledges a delivery (with `multiple`, all up to it).
    public func basicAck(deliveryTag: UInt64, multiple: Bool = false) async throws {
        try await send(.basicAck(deliveryTag: deliveryTag, multiple: multiple))
    }

    /// Rejects deliveries (RabbitMQ's extension: several at once with `multiple`).
    public func basicNack(deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) async throws {
        try await send(.basicNack(deliveryTag: deliveryTag, multiple: multiple, requeue: requeue))
    }

    /// Rejects one delivery.
    public func basicReject(deliveryTag: UInt64, requeue: Bool = true) async throws {
        try await send(.basicReject(deliveryTag: deliveryTag, requeue: requeue))
    }

    /// Closes the channel (bounded by `closeTimeout`). Its consumers end without error; outstanding calls fail.
    public func close() async throws {
        let id = self.id
        try await connection.onLoop { $0.closeChannel(id) }
    }
}
