import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Runs the connection and channel state machines on the connection's event loop and turns their actions into
/// writes, promise completions and stream elements. Everything here runs on that loop.
final class AMQPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = AMQPFrame
    typealias OutboundOut = AMQPOutbound

    /// One channel's promises and streams, beside its state machine.
    final class ChannelSlot {
        struct Pending {
            let id: Int
            /// nil once it timed out: the reply still has to be consumed when it comes, to keep the pairing.
            var promise: EventLoopPromise<ChannelStateMachine.Response>?
            var timeout: Scheduled<Void>?
        }

        var machine: ChannelStateMachine
        var openPromise: EventLoopPromise<Void>?
        var closePromises: [EventLoopPromise<Void>] = []
        var requests = CircularBuffer<Pending>()
        var confirms: [UInt64: (promise: EventLoopPromise<Void>, timeout: Scheduled<Void>?)] = [:]
        var consumers: [String: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation] = [:]
        let returns: AsyncStream<AMQPReturnedMessage>.Continuation

        init(machine: ChannelStateMachine, returns: AsyncStream<AMQPReturnedMessage>.Continuation) {
            self.machine = machine
            self.returns = returns
        }
    }

    private var machine: ConnectionStateMachine
    private let configuration: AMQPConnectionConfiguration
    private let limit: AMQPFrameLimit
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var negotiated: ConnectionStateMachine.Negotiated?
    private var channels: [UInt16: ChannelSlot] = [:]
    private var nextChannelID: UInt16 = 1
    private var nextRequestID = 0
    private var heartbeatTimer: Scheduled<Void>?
    private var lastWrite: EventLoopFuture<Void>?
    private var blockedWaiters: [Int: (promise: EventLoopPromise<Void>, timeout: Scheduled<Void>?)] = [:]
    private var closePromises: [EventLoopPromise<Void>] = []
    private(set) var closedError: AMQPError?

    let connectPromise: EventLoopPromise<Void>
    /// Completed once, when the connection is gone, with why (nil after a clean client close).
    let closedPromise: EventLoopPromise<AMQPError?>
    let blockedState: NIOLockedValueBox<Bool>
    let events: AsyncStream<AMQPConnectionEvent>.Continuation

    init(
        configuration: AMQPConnectionConfiguration, limit: AMQPFrameLimit, eventLoop: any EventLoop, logger: Logger,
        blockedState: NIOLockedValueBox<Bool>, events: AsyncStream<AMQPConnectionEvent>.Continuation
    ) {
        self.configuration = configuration
        self.machine = ConnectionStateMachine(
            configuration: .init(
                user: configuration.user, password: configuration.password, virtualHost: configuration.virtualHost,
                heartbeat: configuration.heartbeat, connectionName: configuration.connectionName,
                frameMax: configuration.frameMax))
        self.limit = limit
        self.logger = logger
        self.connectPromise = eventLoop.makePromise()
        self.closedPromise = eventLoop.makePromise()
        self.blockedState = blockedState
        self.events = events
    }

    // MARK: Pipeline events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { run(machine.connected(now: .now())) }
    }

    func channelActive(context: ChannelHandlerContext) {
        run(machine.connected(now: .now()))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.connectionLost(AMQPError(.connectionClosed, message: "the socket closed")))
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let amqpError: AMQPError
        if let e = error as? AMQPError {
            amqpError = e
        } else if let e = error as? ByteToMessageDecoderError,
            case .dataReceivedInErrorState(let inner, _) = e, let first = inner as? AMQPError
        {
            amqpError = first
        } else {
            amqpError = AMQPError(.connectionClosed, message: "connection error", underlying: error)
        }
        logger.debug("AMQP connection error", metadata: ["error": "\(amqpError)"])
        run(machine.connectionLost(amqpError))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        run(machine.frameReceived(frame, now: .now()))
    }

    // MARK: Running actions

    private func run(_ actions: [ConnectionStateMachine.Action]) {
        for action in actions {
            switch action {
            case .sendProtocolHeader:
                guard let context else { return }
                lastWrite = context.writeAndFlush(wrapOutboundOut(.protocolHeader))
            case .send(let frames):
                write(frames)
            case .connected(let negotiated):
                self.negotiated = negotiated
                limit.frameMax = negotiated.frameMax
                logger.debug(
                    "AMQP connected",
                    metadata: ["frame_max": "\(negotiated.frameMax)", "heartbeat": "\(negotiated.heartbeat)"])
                scheduleHeartbeat()
                connectPromise.succeed()
            case .forward(let frame):
                guard let slot = channels[frame.channel] else {
                    logger.trace("AMQP frame for unknown channel \(frame.channel)")
                    continue
                }
                run(slot.machine.frameReceived(frame), on: slot)
            case .blocked(let reason):
                blockedState.withLockedValue { $0 = true }
                events.yield(.blocked(reason: reason))
                logger.notice("AMQP connection blocked by the broker", metadata: ["reason": "\(reason)"])
            case .unblocked:
                blockedState.withLockedValue { $0 = false }
                events.yield(.unblocked)
                let waiters = blockedWaiters
                blockedWaiters = [:]
                for (_, waiter) in waiters {
                    waiter.timeout?.cancel()
                    waiter.promise.succeed()
                }
            case .closeConnection(let error):
                shutDown(error)
            }
        }
    }

    private func run(_ actions: [ChannelStateMachine.Action], on slot: ChannelSlot) {
        for action in actions {
            switch action {
            case .send(let frames):
                write(frames)
            case .opened:
                slot.openPromise?.succeed()
                slot.openPromise = nil
            case .succeedRequest(let response):
                guard !slot.requests.isEmpty else { continue }
                let pending = slot.requests.removeFirst()
                pending.timeout?.cancel()
                if case .method(.basicCancelOk(let tag)) = response {
                    slot.consumers.removeValue(forKey: tag)?.finish()
                }
                pending.promise?.succeed(response)
            case .deliver(let box):
                if let consumer = slot.consumers[box.delivery.consumerTag] {
                    consumer.yield(box.delivery)
                } else {
                    logger.debug("AMQP delivery for unknown consumer \(box.delivery.consumerTag)")
                }
            case .returned(let box):
                slot.returns.yield(box.message)
            case .confirm(let tags, let ack):
                for tag in tags {
                    guard let confirm = slot.confirms.removeValue(forKey: tag) else { continue }
                    confirm.timeout?.cancel()
                    if ack {
                        confirm.promise.succeed()
                    } else {
                        confirm.promise.fail(AMQPError(.publishNacked, message: "the broker nacked publish \(tag)"))
                    }
                }
            case .consumerCancelled(let tag):
                slot.consumers.removeValue(forKey: tag)?.finish(
                    throwing: AMQPError(.consumerCancelled, message: "the broker cancelled consumer \(tag)"))
            case .closed(let error):
                closeSlot(slot, error: error)
            case .closeConnection(let error):
                // Tell the broker why before going.
                write([
                    .method(0, .connectionClose(replyCode: 505, replyText: "UNEXPECTED_FRAME", classID: 0, methodID: 0))
                ])
                run(machine.connectionLost(error))
            }
        }
    }

    private func closeSlot(_ slot: ChannelSlot, error: AMQPError?) {
        channels.removeValue(forKey: slot.machine.id)
        let failure = error ?? AMQPError(.channelClosed, message: "the channel was closed by the client")
        slot.openPromise?.fail(failure)
        slot.openPromise = nil
        while let pending = slot.requests.popFirst() {
            pending.timeout?.cancel()
            pending.promise?.fail(failure)
        }
        for (_, confirm) in slot.confirms {
            confirm.timeout?.cancel()
            confirm.promise.fail(failure)
        }
        slot.confirms = [:]
        for (_, consumer) in slot.consumers {
            if let error { consumer.finish(throwing: error) } else { consumer.finish() }
        }
        slot.consumers = [:]
        slot.returns.finish()
        let closers = slot.closePromises
        slot.closePromises = []
        for promise in closers { promise.succeed() }
        if let error { logger.debug("AMQP channel \(slot.machine.id) closed", metadata: ["error": "\(error)"]) }
    }

    private func write(_ frames: [AMQPFrame]) {
        guard let context, !frames.isEmpty else { return }
        for frame in frames.dropLast() {
            context.write(wrapOutboundOut(.frame(frame)), promise: nil)
        }
        let last = context.writeAndFlush(wrapOutboundOut(.frame(frames.last!)))
        lastWrite = last
        machine.frameSent(now: .now())
    }

    private func scheduleHeartbeat() {
        guard let negotiated, negotiated.heartbeat > 0, let context else { return }
        // A quarter interval: a heartbeat goes out between 1/2 and 3/4 of an interval of silence.
        let period = TimeAmount.milliseconds(Int64(negotiated.heartbeat) * 250)
        heartbeatTimer = context.eventLoop.assumeIsolated().scheduleTask(in: period) { [self] in
            run(machine.tick(now: .now()))
            if closedError == nil { scheduleHeartbeat() }
        }
    }

    /// The connection is over: fail everything, then close the socket once what was written is out.
    private func shutDown(_ error: AMQPError?) {
        guard closedError == nil else { return }
        let failure = error ?? AMQPError(.connectionClosed, message: "the connection was closed by the client")
        closedError = failure
        heartbeatTimer?.cancel()
        if let error { logger.debug("AMQP connection closing", metadata: ["error": "\(error)"]) }
        connectPromise.fail(failure)
        for slot in Array(channels.values) {
            run(slot.machine.connectionClosed(failure), on: slot)
        }
        channels = [:]
        for (_, waiter) in blockedWaiters {
            waiter.timeout?.cancel()
            waiter.promise.fail(failure)
        }
        blockedWaiters = [:]
        let closers = closePromises
        closePromises = []
        for promise in closers { promise.succeed() }
        closedPromise.succeed(error)
        events.finish()
        guard let context else { return }
        if let lastWrite {
            lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    private func finish() {
        // channelInactive after shutDown: nothing more to do, but drop the context.
        context = nil
    }

    // MARK: Operations (called on the event loop)

    private var eventLoop: any EventLoop { connectPromise.futureResult.eventLoop }

    private func notOpen() -> AMQPError {
        closedError ?? AMQPError(.connectionClosed, message: "the connection is not open")
    }

    /// Fails the handshake (the connect timeout) and closes.
    func failConnect(_ error: AMQPError) {
        guard machine.isHandshaking else { return }
        run(machine.connectionLost(error))
    }

    func openChannel() -> EventLoopFuture<(UInt16, AsyncStream<AMQPReturnedMessage>)> {
        guard closedError == nil, let negotiated else { return eventLoop.makeFailedFuture(notOpen()) }
        let limit = negotiated.channelMax == 0 ? UInt16.max : negotiated.channelMax
        var id = nextChannelID
        var tried = 0
        while channels[id] != nil {
            id = id >= limit ? 1 : id + 1
            tried += 1
            if tried > Int(limit) {
                return eventLoop.makeFailedFuture(AMQPError(.invalidArgument, message: "no free channel number"))
            }
        }
        nextChannelID = id >= limit ? 1 : id + 1
        let (returns, continuation) = AsyncStream<AMQPReturnedMessage>.makeStream()
        let slot = ChannelSlot(
            machine: ChannelStateMachine(id: id, frameMax: negotiated.frameMax), returns: continuation)
        let promise = eventLoop.makePromise(of: Void.self)
        slot.openPromise = promise
        channels[id] = slot
        let timeout = configuration.requestTimeout
        let timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            promise.fail(AMQPError(.timeout, message: "channel.open got no answer"))
        }
        run(slot.machine.open(), on: slot)
        let channelID = id
        return promise.futureResult.map { _ in
            timer.cancel()
            return (channelID, returns)
        }
    }

    func request(_ channelID: UInt16, _ method: AMQPMethod) -> EventLoopFuture<ChannelStateMachine.Response> {
        guard closedError == nil else { return eventLoop.makeFailedFuture(notOpen()) }
        guard let slot = channels[channelID], slot.machine.state == .open || slot.machine.state == .opening else {
            return eventLoop.makeFailedFuture(AMQPError(.channelClosed, message: "channel \(channelID) is closed"))
        }
        if let error = Self.validate(method) { return eventLoop.makeFailedFuture(error) }
        let promise = eventLoop.makePromise(of: ChannelStateMachine.Response.self)
        let id = nextRequestID
        nextRequestID += 1
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: configuration.requestTimeout) { [weak slot] in
            guard let slot, let index = slot.requests.firstIndex(where: { $0.id == id }) else { return }
            slot.requests[index].promise = nil
            promise.fail(AMQPError(.timeout, message: "no answer to \(method) on channel \(channelID)"))
        }
        slot.requests.append(.init(id: id, promise: promise, timeout: timeout))
        run(slot.machine.request(method), on: slot)
        return promise.futureResult
    }

    /// Registers the consumer's stream before basic.consume goes out, so no delivery can come first.
    func consume(
        _ channelID: UInt16, _ method: AMQPMethod, tag: String,
        continuation: AsyncThrowingStream<AMQPDelivery, any Error>.Continuation
    ) -> EventLoopFuture<ChannelStateMachine.Response> {
        if let slot = channels[channelID] {
            if slot.consumers[tag] != nil {
                return eventLoop.makeFailedFuture(AMQPError(.invalidArgument, message: "consumer tag \(tag) in use"))
            }
            slot.consumers[tag] = continuation
        }
        let future = request(channelID, method)
        future.assumeIsolated().whenFailure { [self] error in
            channels[channelID]?.consumers.removeValue(forKey: tag)
            continuation.finish(throwing: error)
        }
        return future
    }

    func sendAsync(_ channelID: UInt16, _ method: AMQPMethod) -> EventLoopFuture<Void> {
        guard closedError == nil else { return eventLoop.makeFailedFuture(notOpen()) }
        guard let slot = channels[channelID], slot.machine.state == .open else {
            return eventLoop.makeFailedFuture(AMQPError(.channelClosed, message: "channel \(channelID) is closed"))
        }
        run(slot.machine.send(method), on: slot)
        return lastWrite ?? eventLoop.makeSucceededVoidFuture()
    }

    func publish(
        _ channelID: UInt16, exchange: String, routingKey: String, mandatory: Bool,
        properties: AMQPBasicProperties, body: ByteBuffer
    ) -> EventLoopFuture<Void> {
        guard closedError == nil else { return eventLoop.makeFailedFuture(notOpen()) }
        if blockedState.withLockedValue({ $0 }) {
            // Wait for connection.unblocked (bounded), then publish.
            let promise = eventLoop.makePromise(of: Void.self)
            let id = nextRequestID
            nextRequestID += 1
            let timeout = eventLoop.assumeIsolated().scheduleTask(in: configuration.blockedPublishTimeout) { [self] in
                blockedWaiters.removeValue(forKey: id)
                promise.fail(AMQPError(.blocked, message: "the broker kept the connection blocked"))
            }
            blockedWaiters[id] = (promise, timeout)
            return promise.futureResult.assumeIsolated().flatMap { [self] in
                publishNow(channelID, exchange, routingKey, mandatory, properties, body)
            }.nonisolated()
        }
        return publishNow(channelID, exchange, routingKey, mandatory, properties, body)
    }

    private func publishNow(
        _ channelID: UInt16, _ exchange: String, _ routingKey: String, _ mandatory: Bool,
        _ properties: AMQPBasicProperties, _ body: ByteBuffer
    ) -> EventLoopFuture<Void> {
        guard closedError == nil else { return eventLoop.makeFailedFuture(notOpen()) }
        guard let slot = channels[channelID], slot.machine.state == .open else {
            return eventLoop.makeFailedFuture(AMQPError(.channelClosed, message: "channel \(channelID) is closed"))
        }
        let method = AMQPMethod.basicPublish(
            exchange: exchange, routingKey: routingKey, mandatory: mandatory, immediate: false)
        if let error = Self.validate(method, properties: properties) { return eventLoop.makeFailedFuture(error) }
        let (actions, tag) = slot.machine.publish(
            exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties, body: body)
        run(actions, on: slot)
        let written = lastWrite ?? eventLoop.makeSucceededVoidFuture()
        guard let tag else { return written }
        let promise = eventLoop.makePromise(of: Void.self)
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: configuration.requestTimeout) { [weak slot] in
            guard slot?.confirms.removeValue(forKey: tag) != nil else { return }
            promise.fail(AMQPError(.timeout, message: "no confirm for publish \(tag)"))
        }
        slot.confirms[tag] = (promise, timeout)
        return promise.futureResult
    }

    func closeChannel(_ channelID: UInt16) -> EventLoopFuture<Void> {
        guard let slot = channels[channelID] else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        slot.closePromises.append(promise)
        let timer = eventLoop.assumeIsolated().scheduleTask(in: configuration.closeTimeout) { [self, weak slot] in
            // No close-ok in time: give the channel up locally.
            if let slot { closeSlot(slot, error: AMQPError(.timeout, message: "channel.close got no answer")) }
        }
        run(slot.machine.close(), on: slot)
        return promise.futureResult.always { _ in timer.cancel() }
    }

    func close() -> EventLoopFuture<Void> {
        guard closedError == nil else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        closePromises.append(promise)
        let timer = eventLoop.assumeIsolated().scheduleTask(in: configuration.closeTimeout) { [self] in
            // No close-ok in time: drop the socket.
            shutDown(nil)
        }
        run(machine.close())
        return promise.futureResult.always { _ in timer.cancel() }
    }

    /// Encodes into a scratch buffer to refuse what the wire cannot carry (over-long short strings) before
    /// anything is sent, rather than failing in the encoder mid-pipeline.
    static func validate(_ method: AMQPMethod, properties: AMQPBasicProperties? = nil) -> AMQPError? {
        var scratch = ByteBuffer()
        do {
            try method.encode(into: &scratch)
            if let properties { try AMQPContentHeader(bodySize: 0, properties: properties).encode(into: &scratch) }
            return nil
        } catch let error as AMQPError {
            return error
        } catch {
            return AMQPError(.invalidArgument, underlying: error)
        }
    }
}
