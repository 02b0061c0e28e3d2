import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One AMQP 0-9-1 connection to a broker.
///
/// Open channels with `openChannel()`; close with `close()`. The connection does not reconnect: when it is lost
/// (socket error, missed heartbeats, broker close), every channel, consumer and outstanding call fails with an
/// `AMQPError`, and `closed()` returns why. `AMQPSession` adds reconnection on top.
public final class AMQPConnection: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<AMQPConnectionHandler>
    let configuration: AMQPConnectionConfiguration
    let logger: Logger
    private let blockedState: NIOLockedValueBox<Bool>
    private let closedFuture: EventLoopFuture<AMQPError?>
    private let closedFlag = NIOLockedValueBox(false)

    /// connection.blocked / connection.unblocked as the broker sends them. One reader; it ends when the connection
    /// closes.
    public let events: AsyncStream<AMQPConnectionEvent>

    private init(
        channel: any Channel, handler: NIOLoopBound<AMQPConnectionHandler>, configuration: AMQPConnectionConfiguration,
        logger: Logger, blockedState: NIOLockedValueBox<Bool>, events: AsyncStream<AMQPConnectionEvent>,
        closedFuture: EventLoopFuture<AMQPError?>
    ) {
        self.channel = channel
        self.handler = handler
        self.configuration = configuration
        self.logger = logger
        self.blockedState = blockedState
        self.events = events
        self.closedFuture = closedFuture
        closedFuture.whenComplete { [closedFlag] _ in closedFlag.withLockedValue { $0 = true } }
    }

    /// Connects, runs the handshake and returns the open connection, all within `configuration.connectTimeout`.
    ///
    /// - Throws: `AMQPError` with `.connectionFailed`, `.connectTimeout`, `.authenticationFailed` (refused
    ///   credentials or vhost, reply code 403) or `.connectionClosed`.
    public static func connect(
        configuration: AMQPConnectionConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "ashlar.amqp")
    ) async throws -> AMQPConnection {
        let eventLoop = eventLoopGroup.next()
        let blockedState = NIOLockedValueBox(false)
        let (events, eventsContinuation) = AsyncStream<AMQPConnectionEvent>.makeStream()
        let deadline = NIODeadline.now() + configuration.connectTimeout
        // Kept from the initializer rather than looked up in the pipeline later: a broker that closes the
        // connection at once (a wrong password) has removed it from the pipeline by then.
        let created = NIOLockedValueBox<NIOLoopBound<AMQPConnectionHandler>?>(nil)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let limit = AMQPFrameLimit(frameMax: max(configuration.frameMax, AMQPFrame.minimumFrameMax))
                    let handler = AMQPConnectionHandler(
                        configuration: configuration, limit: limit, eventLoop: channel.eventLoop, logger: logger,
                        blockedState: blockedState, events: eventsContinuation)
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(AMQPFrameDecoder(limit: limit)),
                        MessageToByteHandler(AMQPFrameEncoder()),
                    ])
                    try channel.pipeline.syncOperations.addHandler(handler)
                    created.withLockedValue { $0 = NIOLoopBound(handler, eventLoop: channel.eventLoop) }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            var code = AMQPError.Code.connectionFailed
            if case .connectTimeout? = error as? ChannelError { code = .connectTimeout }
            throw AMQPError(code, message: "\(configuration.host):\(configuration.port)", underlying: error)
        }
        let (handler, connected, closed) = try await channel.eventLoop.submit {
            guard let handler = created.withLockedValue({ $0 })?.value else {
                throw AMQPError(.connectionFailed, message: "\(configuration.host):\(configuration.port)")
            }
            // The rest of the connect timeout is for the handshake.
            let timer = channel.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                handler.failConnect(AMQPError(.connectTimeout, message: "the AMQP handshake did not finish"))
            }
            let connected = handler.connectPromise.futureResult
            connected.whenComplete { _ in timer.cancel() }
            return (NIOLoopBound(handler, eventLoop: channel.eventLoop), connected, handler.closedPromise.futureResult)
        }.get()
        do {
            try await connected.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return AMQPConnection(
            channel: channel, handler: handler, configuration: configuration, logger: logger,
            blockedState: blockedState, events: events, closedFuture: closed)
    }

    /// Runs `body` with the handler on its event loop.
    func onLoop<T: Sendable>(
        _ body: @escaping @Sendable (AMQPConnectionHandler) -> EventLoopFuture<T>
    ) async throws -> T {
        let handler = self.handler
        return try await channel.eventLoop.flatSubmit { body(handler.value) }.get()
    }

    /// Opens a new channel.
    public func openChannel() async throws -> AMQPChannel {
        let (id, returns) = try await onLoop { $0.openChannel() }
        return AMQPChannel(connection: self, id: id, returns: returns)
    }

    /// Whether the broker has the connection blocked right now (connection.blocked); publishes wait meanwhile.
    public var isBlocked: Bool { blockedState.withLockedValue { $0 } }

    /// Whether the connection is still open.
    public var isOpen: Bool { !closedFlag.withLockedValue { $0 } }

    /// Waits until the connection is gone and returns why: nil after `close()`, else the error that ended it.
    public func closed() async -> AMQPError? {
        do {
            return try await closedFuture.get()
        } catch {
            return AMQPError(.connectionClosed, underlying: error)
        }
    }

    /// Closes the connection (connection.close, bounded by `closeTimeout`, then the socket in any case). Channels,
    /// consumers and outstanding calls fail with `.connectionClosed`.
    public func close() async {
        _ = try? await onLoop { $0.close() }
        _ = try? await channel.closeFuture.get()
    }
}
