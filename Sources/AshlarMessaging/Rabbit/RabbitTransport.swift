import AshlarAMQP
import AshlarCore
import Foundation
import Logging
import NIOCore
import Synchronization

/// The bus of the distributed services: RPC over RabbitMQ on oslo.messaging's wire (`OsloWire`), so Ashlar's
/// services, Cinder's and any oslo.messaging program can talk to each other.
///
/// Topology, as oslo's rabbit driver declares it:
/// - the topic exchange `control_exchange` (`openstack`); a server of (topic T, server S) consumes queue `T` (bound
///   with key `T`, shared round-robin) and queue `T.S` (key `T.S`);
/// - the fanout exchange `T_fanout`, with one queue per server, `T_fanout_<uuid>`, that expires when unused;
/// - each process's reply queue `reply_<uuid>`, also expiring, to which replies go through the default exchange.
///
/// Better than oslo where it costs nothing: a cast declares its target queue before publishing (an idempotent
/// declare, once per queue and connection), so a cast to a service that is down waits in its queue instead of
/// being dropped by an exchange with nothing bound; and every publish is confirmed by the broker.
public final class RabbitTransport: RPCTransport {
    private let session: AMQPSession
    private let options: MessagingOptions
    private let logger: Logger
    /// This process's reply queue.
    private let replyQueue = "reply_" + RabbitTransport.hexID()

    private struct State {
        var calls: [String: CheckedContinuation<Data?, any Error>] = [:]
        var replyConsumer: Task<Void, Never>?
        /// Queues and exchanges this transport declared, so that sends declare each once.
        var declared: Set<String> = []
    }

    private let state = Mutex(State())

    public init(options: MessagingOptions, logger: Logger) throws(AshlarError) {
        guard let url = options.transportURL else {
            throw AshlarError(.invalidInput, "transport_url is not set: the RabbitMQ transport needs rabbit://…")
        }
        self.options = options
        self.logger = logger
        let heartbeat = UInt16(clamping: options.heartbeatTimeoutThreshold)
        let endpoints = url.hosts.map {
            AMQPConnectionConfiguration(
                host: $0.host, port: $0.port, user: $0.user, password: $0.password, virtualHost: url.virtualHost,
                heartbeat: heartbeat, connectionName: "ashlar:\(ProcessInfo.processInfo.processIdentifier)",
                connectTimeout: .seconds(5), requestTimeout: .seconds(30))
        }
        session = AMQPSession(
            // At most 2 s between reconnection rounds: once a broker is back every service is too, within seconds.
            configuration: .init(endpoints: endpoints, maximumBackoff: .seconds(2), unavailableTimeout: .seconds(10)),
            logger: logger)
    }

    public var responseTimeout: Duration { .seconds(options.rpcResponseTimeout) }

    /// Connected to a broker now (between a broker's loss and the reconnection, not).
    public func isReachable() async -> Bool { await session.isConnected }

    /// Connects (in the background; calls wait, bounded, for the connection).
    public func start() async {
        await session.start()
    }

    /// Closes the connection; waiting calls fail.
    public func close() async {
        let (calls, consumer) = state.withLock { state in
            defer { state.calls = [:] }
            return (state.calls, state.replyConsumer)
        }
        consumer?.cancel()
        for (_, call) in calls { call.resume(throwing: AshlarError(.unavailable, "The message bus was closed.")) }
        await session.close()
    }

    // MARK: - Sending

    public func cast(_ message: RPCMessage, to target: RPCTarget) async throws {
        let body = try OsloWire.encode(message, uniqueID: Self.hexID())
        try await ensureTopicQueue(target.routingKey)
        try await publish(exchange: options.controlExchange, routingKey: target.routingKey, body: body)
    }

    public func fanout(_ message: RPCMessage, topic: String) async throws {
        let body = try OsloWire.encode(message, uniqueID: Self.hexID())
        let exchange = topic + "_fanout"
        // Declared before every fanout, not once: the exchange auto-deletes when its last server goes (a scheduler
        // killed and started again), and a publish to an exchange that is gone closes the channel.
        do {
            try await session.exchangeDeclare(exchange, type: "fanout", durable: false, autoDelete: true)
        } catch let error as AMQPError {
            throw Self.unavailable(error)
        }
        try await publish(exchange: exchange, routingKey: topic, body: body)
    }

    public func call(_ message: RPCMessage, to target: RPCTarget, timeout: Duration) async throws -> Data? {
        try await startReplyConsumer()
        let messageID = Self.hexID()
        let body = try OsloWire.encode(message, uniqueID: Self.hexID(), reply: (messageID, replyQueue))
        try await ensureTopicQueue(target.routingKey)
        return try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    self.state.withLock { $0.calls[messageID] = continuation }
                }
            }
            group.addTask {
                // A call the broker could not take fails at once, not after the timeout.
                do {
                    try await self.publish(
                        exchange: self.options.controlExchange, routingKey: target.routingKey, body: body,
                        expiration: timeout)
                } catch {
                    self.finish(messageID, .failure(error))
                    throw error
                }
                try await Task.sleep(for: timeout)
                let error = AshlarError(.unavailable, "No reply from \(target) to \(message.method) within \(timeout).")
                self.finish(messageID, .failure(error))
                throw error
            }
            defer { group.cancelAll() }
            guard let result = try await group.next() else { return nil }
            return result
        }
    }

    private func finish(_ messageID: String, _ result: Result<Data?, any Error>) {
        let call = state.withLock { $0.calls.removeValue(forKey: messageID) }
        call?.resume(with: result)
    }

    private func publish(
        exchange: String, routingKey: String, body: Data, expiration: Duration? = nil
    ) async throws {
        var properties = AMQPBasicProperties()
        properties.contentType = "application/json"
        properties.contentEncoding = "utf-8"
        properties.deliveryMode = options.durableQueues ? 2 : 1
        if let expiration {
            let ms = expiration.components.seconds * 1000 + expiration.components.attoseconds / 1_000_000_000_000_000
            properties.expiration = String(max(1, ms))
        }
        do {
            try await session.publish(
                exchange: exchange, routingKey: routingKey, body: ByteBuffer(bytes: body), properties: properties)
        } catch let error as AMQPError {
            throw Self.unavailable(error)
        }
    }

    // MARK: - Serving

    public func serve(topic: String, server: String, endpoint: any RPCEndpoint) async throws {
        try await declareExchange()
        let shared = try await declareTopicQueue(topic)
        let own = try await declareTopicQueue("\(topic).\(server)")
        let fanoutExchange = topic + "_fanout"
        let fanoutQueue = "\(topic)_fanout_\(Self.hexID())"
        do {
            try await session.exchangeDeclare(fanoutExchange, type: "fanout", durable: false, autoDelete: true)
            try await session.queueDeclare(
                fanoutQueue, durable: false, exclusive: false, autoDelete: true, arguments: transientArguments)
            try await session.queueBind(queue: fanoutQueue, exchange: fanoutExchange, routingKey: topic)
        } catch let error as AMQPError {
            throw Self.unavailable(error)
        }
        logger.info("serving RPC", metadata: ["queues": "\(shared), \(own), \(fanoutQueue)"])
        try await withThrowingDiscardingTaskGroup { group in
            for queue in [shared, own, fanoutQueue] {
                let consumer = try await session.consume(queue: queue)
                group.addTask {
                    try await self.consume(consumer, endpoint: endpoint)
                }
            }
        }
    }

    private func consume(_ consumer: AMQPSessionConsumer, endpoint: any RPCEndpoint) async throws {
        defer { Task { try? await self.session.cancel(consumer) } }
        try await withThrowingDiscardingTaskGroup { group in
            for try await delivery in consumer {
                // Acknowledged on receipt, as oslo's RPC server does: a request interrupted by a crash is finished
                // by the recovery of the service that owns the resource, not by a redelivery.
                try? await session.ack(delivery)
                let body = Data(delivery.body.readableBytesView)
                group.addTask { await self.handle(body, endpoint: endpoint) }
            }
        }
    }

    private func handle(_ body: Data, endpoint: any RPCEndpoint) async {
        let request: OsloWire.Request
        do {
            request = try OsloWire.decodeRequest(body)
        } catch {
            logger.error("RPC message dropped: \(error.message)")
            return
        }
        let result = await endpoint.answer(request.message, isCall: request.reply != nil, logger: logger)
        guard let reply = request.reply else { return }
        do {
            let body = try OsloWire.encodeReply(result, messageID: reply.messageID, uniqueID: Self.hexID())
            // Through the default exchange, straight to the caller's queue.
            try await publish(exchange: "", routingKey: reply.queue, body: body)
        } catch {
            logger.error("reply to \(request.message.method) could not be sent: \(error)")
        }
    }

    // MARK: - Replies

    private func startReplyConsumer() async throws {
        let started = state.withLock { $0.replyConsumer != nil }
        if started { return }
        do {
            try await session.queueDeclare(
                replyQueue, durable: false, exclusive: false, autoDelete: false, arguments: transientArguments)
            // oslo's servers reply through an exchange named after the queue (older ones), ours through the
            // default exchange: both reach the queue.
            try await session.exchangeDeclare(replyQueue, type: "direct", durable: false, autoDelete: true)
            try await session.queueBind(queue: replyQueue, exchange: replyQueue, routingKey: replyQueue)
        } catch let error as AMQPError {
            throw Self.unavailable(error)
        }
        let consumer = try await session.consume(queue: replyQueue, noAck: true)
        let task = Task {
            do {
                for try await delivery in consumer {
                    guard let reply = try? OsloWire.decodeReply(Data(delivery.body.readableBytesView)) else {
                        logger.warning("a reply that is not an oslo message was dropped")
                        continue
                    }
                    finish(reply.messageID, reply.result.mapError { $0 as any Error })
                }
            } catch {
                logger.warning("the reply consumer ended: \(error)")
            }
            state.withLock { $0.replyConsumer = nil }
        }
        let lost = state.withLock { state -> Bool in
            if state.replyConsumer != nil { return true }
            state.replyConsumer = task
            return false
        }
        if lost {
            task.cancel()
            try? await session.cancel(consumer)
        }
    }

    // MARK: - Topology

    private var transientArguments: AMQPTable {
        ["x-expires": .int32(Int32(clamping: options.transientQueuesTTL * 1000))]
    }

    private var topicQueueArguments: AMQPTable {
        options.quorumQueues ? ["x-queue-type": .string("quorum")] : [:]
    }

    private func declareExchange() async throws {
        try await declareOnce("exchange:" + options.controlExchange) {
            try await self.session.exchangeDeclare(
                self.options.controlExchange, type: "topic", durable: self.options.durableQueues, autoDelete: false)
        }
    }

    @discardableResult
    private func declareTopicQueue(_ name: String) async throws -> String {
        do {
            try await session.queueDeclare(
                name, durable: options.durableQueues || options.quorumQueues, exclusive: false, autoDelete: false,
                arguments: topicQueueArguments)
            try await session.queueBind(queue: name, exchange: options.controlExchange, routingKey: name)
        } catch let error as AMQPError {
            throw Self.unavailable(error)
        }
        state.withLock { _ = $0.declared.insert("queue:" + name) }
        return name
    }

    private func ensureTopicQueue(_ name: String) async throws {
        try await declareExchange()
        if state.withLock({ $0.declared.contains("queue:" + name) }) { return }
        try await declareTopicQueue(name)
    }

    private func declareOnce(_ key: String, _ declare: @Sendable () async throws -> Void) async throws {
        if state.withLock({ $0.declared.contains(key) }) { return }
        do {
            try await declare()
        } catch let error as AMQPError {
            throw Self.unavailable(error)
        }
        state.withLock { _ = $0.declared.insert(key) }
    }

    // MARK: - Support

    /// A bus failure as the rest of Ashlar sees it: 503, try again; the broker's words go to the log only.
    static func unavailable(_ error: AMQPError) -> AshlarError {
        AshlarError(.unavailable, "The message bus is unreachable; try again later.", underlying: error)
    }

    static func hexID() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }
}
