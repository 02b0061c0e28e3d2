import Logging
import NIOCore
import NIOPosix

/// A connection that comes back: connects to the first endpoint that answers (failover in order, exponential
/// backoff with jitter between rounds), remembers the topology declared through it (exchanges, queues, bindings,
/// qos) and its consumers, and after a connection loss declares them again and resumes the consumers, so a
/// consumer's sequence keeps yielding across broker restarts.
///
/// Guarantees on reconnect:
/// - Topology is re-declared in the order it was first declared; server-named queues get a new name from the
///   broker and the session's bindings and consumers follow it (`queueName(_:)` gives the current one).
/// - Deliveries not acked on the dead connection are requeued by the broker and come again (redelivered);
///   `ack`/`nack`/`reject` of such a stale delivery does nothing (its tag would mean another message now).
/// - A publish in flight when the connection dies fails (its confirm never comes); publishes during an outage
///   wait up to `unavailableTimeout` for a connection, then fail with `.unavailable`. The session does not retry
///   publishes itself: whether a possibly-duplicated message is acceptable is the caller's call.
/// - A method or a publish the broker refuses with a channel close (e.g. 406, or 404 for a missing exchange) is
///   thrown to the caller and not remembered; the session then reconnects, as its channel is gone.
public actor AMQPSession {
    /// Endpoints and timing.
    public struct Configuration: Sendable {
        /// Tried in order on each round.
        public var endpoints: [AMQPConnectionConfiguration]
        /// The pause after the first failed round; doubled each round up to `maximumBackoff`, with jitter.
        public var initialBackoff: Duration
        public var maximumBackoff: Duration
        /// How long calls wait for a connection during an outage.
        public var unavailableTimeout: Duration

        public init(
            endpoints: [AMQPConnectionConfiguration], initialBackoff: Duration = .milliseconds(100),
            maximumBackoff: Duration = .seconds(10), unavailableTimeout: Duration = .seconds(10)
        ) {
            self.endpoints = endpoints
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.unavailableTimeout = unavailableTimeout
        }
    }

    private struct ExchangeRecord {
        var name, type: String
        var durable, autoDelete, isInternal: Bool
        var arguments: AMQPTable
    }

    private struct QueueRecord {
        var requestedName: String
        /// The name the first declare returned: what callers know the queue by.
        var firstName: String
        var name: String
        var durable, exclusive, autoDelete: Bool
        var arguments: AMQPTable
    }

    private struct BindingRecord: Equatable {
        var queue, exchange, routingKey: String
        var arguments: AMQPTable
    }

    private final class ConsumerRecord {
        var queue: String
        let noAck, exclusive: Bool
        let arguments: AMQPTable
        let continuation: AsyncThrowingStream<AMQPSessionDelivery, any Error>.Continuation
        var current: AMQPConsumer?
        var forwarding: Task<Void, Never>?

        init(
            queue: String, noAck: Bool, exclusive: Bool, arguments: AMQPTable,
            continuation: AsyncThrowingStream<AMQPSessionDelivery, any Error>.Continuation
        ) {
            self.queue = queue
            self.noAck = noAck
            self.exclusive = exclusive
            self.arguments = arguments
            self.continuation = continuation
        }
    }

    private struct Live {
        var connection: AMQPConnection
        /// Declarations, consumers and acks.
        var channel: AMQPChannel
        /// Publishes, with confirms.
        var publishChannel: AMQPChannel
        var generation: Int
    }

    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private var live: Live?
    /// The connection being set up: consumers already resumed on it may deliver, and their acks must go out.
    private var establishing: Live?
    private var generation = 0
    private var exchanges: [ExchangeRecord] = []
    private var queues: [QueueRecord] = []
    private var bindings: [BindingRecord] = []
    private var qos: (count: UInt16, global: Bool)?
    private var consumers: [Int: ConsumerRecord] = [:]
    private var nextID = 0
    private var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    private var runner: Task<Void, Never>?
    private var isClosed = false

    /// A session; it starts connecting on `start()` or the first call that needs a connection.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "ashlar.amqp.session")
    ) {
        precondition(!configuration.endpoints.isEmpty, "an AMQPSession needs at least one endpoint")
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Starts the connection loop (idempotent).
    public func start() {
        guard runner == nil, !isClosed else { return }
        runner = Task { await self.run() }
    }

    /// Whether a connection is up right now.
    public var isConnected: Bool { live != nil }

    /// How many connections the session has had (the `generation` of deliveries).
    public var connectionCount: Int { generation }

    // MARK: The connection loop

    private func run() async {
        var backoff = configuration.initialBackoff
        while !isClosed && !Task.isCancelled {
            var connected = false
            for endpoint in configuration.endpoints where !isClosed {
                let connection: AMQPConnection
                do {
                    connection = try await AMQPConnection.connect(
                        configuration: endpoint, eventLoopGroup: eventLoopGroup, logger: logger)
                } catch {
                    logger.debug(
                        "AMQP session: connect failed",
                        metadata: ["endpoint": "\(endpoint.host):\(endpoint.port)", "error": "\(error)"])
                    continue
                }
                do {
                    try await establish(connection)
                } catch {
                    logger.warning("AMQP session: restoring the topology failed", metadata: ["error": "\(error)"])
                    await connection.close()
                    continue
                }
                connected = true
                backoff = configuration.initialBackoff
                logger.info(
                    "AMQP session connected",
                    metadata: ["endpoint": "\(endpoint.host):\(endpoint.port)", "generation": "\(generation)"])
                let error = await connection.closed()
                connectionLost(error)
                break
            }
            guard !connected, !isClosed else { continue }
            // Full jitter over the upper half, so many clients do not come back in step.
            let delay = backoff * Double.random(in: 0.5...1.0)
            try? await Task.sleep(for: delay)
            backoff = min(backoff * 2, configuration.maximumBackoff)
        }
    }

    /// Opens the channels, declares everything again and resumes the consumers; only then is the session live.
    private func establish(_ connection: AMQPConnection) async throws {
        let channel = try await connection.openChannel()
        let publishChannel = try await connection.openChannel()
        try await publishChannel.confirmSelect()
        if let qos { try await channel.basicQos(prefetchCount: qos.count, global: qos.global) }
        for e in exchanges {
            try await channel.exchangeDeclare(
                e.name, type: e.type, durable: e.durable, autoDelete: e.autoDelete, internal: e.isInternal,
                arguments: e.arguments)
        }
        for index in queues.indices {
            let q = queues[index]
            let result = try await channel.queueDeclare(
                q.requestedName, durable: q.durable, exclusive: q.exclusive, autoDelete: q.autoDelete,
                arguments: q.arguments)
            if result.name != q.name { rename(q.name, to: result.name) }
        }
        for b in bindings {
            try await channel.queueBind(
                queue: b.queue, exchange: b.exchange, routingKey: b.routingKey, arguments: b.arguments)
        }
        generation += 1
        let live = Live(
            connection: connection, channel: channel, publishChannel: publishChannel, generation: generation)
        establishing = live
        defer { establishing = nil }
        for (id, record) in consumers {
            try await resume(id, record, on: live)
        }
        self.live = live
        let ready = waiters
        waiters = [:]
        for (_, waiter) in ready { waiter.resume() }
    }

    private func rename(_ old: String, to new: String) {
        for i in queues.indices where queues[i].name == old { queues[i].name = new }
        for i in bindings.indices where bindings[i].queue == old { bindings[i].queue = new }
        for record in consumers.values where record.queue == old { record.queue = new }
    }

    private func connectionLost(_ error: AMQPError?) {
        live = nil
        guard !isClosed else { return }
        logger.warning("AMQP session lost its connection", metadata: ["error": "\(error.map { "\($0)" } ?? "closed")"])
        live = nil
    }

    /// Consumes on the live connection and forwards into the session consumer's stream.
    private func resume(_ id: Int, _ record: ConsumerRecord, on live: Live) async throws {
        let consumer = try await live.channel.basicConsume(
            queue: record.queue, noAck: record.noAck, exclusive: record.exclusive, arguments: record.arguments)
        record.current = consumer
        let generation = live.generation
        let continuation = record.continuation
        record.forwarding = Task {
            do {
                for try await delivery in consumer {
                    continuation.yield(AMQPSessionDelivery(delivery: delivery, generation: generation))
                }
                // Ended normally: cancelled by us.
            } catch let error as AMQPError where error.code == .consumerCancelled {
                self.consumerEnded(id, error: error)
            } catch {
                // The channel or connection died: the session resumes the consumer on the next connection.
            }
        }
    }

    private func consumerEnded(_ id: Int, error: AMQPError?) {
        guard let record = consumers.removeValue(forKey: id) else { return }
        if let error { record.continuation.finish(throwing: error) } else { record.continuation.finish() }
    }

    /// The live connection, waiting up to `unavailableTimeout` for one.
    private func ready() async throws -> Live {
        if let live { return live }
        guard !isClosed else { throw AMQPError(.sessionClosed) }
        start()
        let id = nextID
        nextID += 1
        let timeout = configuration.unavailableTimeout
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.timeOut(id)
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { waiters[id] = $0 }
        guard let live else { throw AMQPError(.unavailable, message: "no connection to the broker") }
        return live
    }

    private func timeOut(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume(
            throwing: AMQPError(
                .unavailable, message: "no connection to the broker within \(configuration.unavailableTimeout)"))
    }

    /// Runs a method on the session's channel; a broker channel close means the channel is gone, so reconnect.
    private func onChannel<T: Sendable>(_ body: (AMQPChannel) async throws -> T) async throws -> T {
        let live = try await ready()
        do {
            return try await body(live.channel)
        } catch let error as AMQPError where error.code == .channelClosed {
            if self.live?.generation == live.generation { await live.connection.close() }
            throw error
        }
    }

    // MARK: Topology

    /// Declares an exchange and remembers it.
    public func exchangeDeclare(
        _ name: String, type: String, durable: Bool = false, autoDelete: Bool = false,
        internal isInternal: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws {
        try await onChannel {
            try await $0.exchangeDeclare(
                name, type: type, durable: durable, autoDelete: autoDelete, internal: isInternal, arguments: arguments)
        }
        exchanges.removeAll { $0.name == name }
        exchanges.append(
            ExchangeRecord(
                name: name, type: type, durable: durable, autoDelete: autoDelete, isInternal: isInternal,
                arguments: arguments))
    }

    /// Deletes an exchange and forgets it.
    public func exchangeDelete(_ name: String) async throws {
        try await onChannel { try await $0.exchangeDelete(name) }
        exchanges.removeAll { $0.name == name }
        bindings.removeAll { $0.exchange == name }
    }

    /// Declares a queue and remembers it; returns its name (the broker's for an empty name).
    @discardableResult
    public func queueDeclare(
        _ name: String = "", durable: Bool = false, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws -> String {
        let result = try await onChannel {
            try await $0.queueDeclare(
                name, durable: durable, exclusive: exclusive, autoDelete: autoDelete, arguments: arguments)
        }
        queues.removeAll { $0.name == result.name }
        queues.append(
            QueueRecord(
                requestedName: name, firstName: result.name, name: result.name, durable: durable, exclusive: exclusive,
                autoDelete: autoDelete, arguments: arguments))
        return result.name
    }

    /// The current name of a queue the session declared (server-named queues are renamed on reconnect).
    public func queueName(_ declaredName: String) -> String {
        queues.first { $0.firstName == declaredName }?.name ?? declaredName
    }

    /// Deletes a queue and forgets it and its bindings.
    public func queueDelete(_ name: String) async throws {
        try await onChannel { _ = try await $0.queueDelete(name) }
        queues.removeAll { $0.name == name }
        bindings.removeAll { $0.queue == name }
    }

    /// Binds a queue and remembers the binding.
    public func queueBind(
        queue: String, exchange: String, routingKey: String = "", arguments: AMQPTable = [:]
    )
        async throws
    {
        try await onChannel {
            try await $0.queueBind(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments)
        }
        let binding = BindingRecord(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments)
        if !bindings.contains(binding) { bindings.append(binding) }
    }

    /// Removes a binding and forgets it.
    public func queueUnbind(
        queue: String, exchange: String, routingKey: String = "", arguments: AMQPTable = [:]
    )
        async throws
    {
        try await onChannel {
            try await $0.queueUnbind(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments)
        }
        bindings.removeAll {
            $0 == BindingRecord(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments)
        }
    }

    /// Sets the prefetch of the session's consuming channel, now and after each reconnect.
    public func basicQos(prefetchCount: UInt16, global: Bool = false) async throws {
        try await onChannel { try await $0.basicQos(prefetchCount: prefetchCount, global: global) }
        qos = (prefetchCount, global)
    }

    // MARK: Publishing and consuming

    /// Publishes with publisher confirms: returns once the broker acked the message.
    ///
    /// - Throws: `.unavailable` when no connection came within `unavailableTimeout`; `.publishNacked`; the
    ///   connection's error when it died before the confirm (the message may or may not have arrived).
    public func publish(
        exchange: String = "", routingKey: String, body: ByteBuffer, properties: AMQPBasicProperties = .init(),
        mandatory: Bool = false
    ) async throws {
        let live = try await ready()
        do {
            try await live.publishChannel.basicPublish(
                exchange: exchange, routingKey: routingKey, body: body, properties: properties, mandatory: mandatory)
        } catch let error as AMQPError where error.code == .channelClosed {
            // The broker closed the publishing channel (a publish to an exchange that is gone is a 404): without a
            // new connection every later publish would fail too.
            if self.live?.generation == live.generation { await live.connection.close() }
            throw error
        }
    }

    /// Starts a consumer that is resumed after each reconnect.
    public func consume(
        queue: String, noAck: Bool = false, exclusive: Bool = false, arguments: AMQPTable = [:]
    )
        async throws -> AMQPSessionConsumer
    {
        let live = try await ready()
        let (stream, continuation) = AsyncThrowingStream<AMQPSessionDelivery, any Error>.makeStream()
        let id = nextID
        nextID += 1
        let record = ConsumerRecord(
            queue: queue, noAck: noAck, exclusive: exclusive, arguments: arguments, continuation: continuation)
        try await resume(id, record, on: live)
        consumers[id] = record
        return AMQPSessionConsumer(id: id, stream: stream)
    }

    /// Cancels a session consumer; its sequence ends.
    public func cancel(_ consumer: AMQPSessionConsumer) async throws {
        guard let record = consumers[consumer.id] else { return }
        if live != nil, let current = record.current { try? await current.cancel() }
        consumerEnded(consumer.id, error: nil)
    }

    /// Acknowledges a delivery; does nothing for one of an earlier connection (the broker requeued it already).
    public func ack(_ delivery: AMQPSessionDelivery, multiple: Bool = false) async throws {
        guard let live = live ?? establishing, live.generation == delivery.generation else { return }
        try await live.channel.basicAck(deliveryTag: delivery.delivery.deliveryTag, multiple: multiple)
    }

    /// Negatively acknowledges a delivery; does nothing for one of an earlier connection.
    public func nack(_ delivery: AMQPSessionDelivery, multiple: Bool = false, requeue: Bool = true) async throws {
        guard let live = live ?? establishing, live.generation == delivery.generation else { return }
        try await live.channel.basicNack(
            deliveryTag: delivery.delivery.deliveryTag, multiple: multiple, requeue: requeue)
    }

    /// Rejects a delivery; does nothing for one of an earlier connection.
    public func reject(_ delivery: AMQPSessionDelivery, requeue: Bool = true) async throws {
        guard let live = live ?? establishing, live.generation == delivery.generation else { return }
        try await live.channel.basicReject(deliveryTag: delivery.delivery.deliveryTag, requeue: requeue)
    }

    /// Stops reconnecting, closes the connection, ends the consumers and fails waiting calls with `.sessionClosed`.
    public func close() async {
        isClosed = true
        runner?.cancel()
        let pending = waiters
        waiters = [:]
        for (_, waiter) in pending { waiter.resume(throwing: AMQPError(.sessionClosed)) }
        for id in Array(consumers.keys) { consumerEnded(id, error: nil) }
        if let live {
            self.live = nil
            await live.connection.close()
        }
        await runner?.value
    }
}
