import NIOCore

/// The protocol logic of an AMQP connection (channel 0 and heartbeats), without I/O: events in, actions out.
///
/// Handshake: protocol header → start / start-ok (PLAIN) → tune / tune-ok → open / open-ok. Then it passes
/// frames of other channels through, tracks blocked/unblocked, answers a broker close with close-ok, and runs
/// the heartbeat clock from the times it is told (so tests drive it with made-up times).
struct ConnectionStateMachine {
    struct Configuration: Sendable {
        var user: String
        var password: String
        var virtualHost: String
        /// Seconds; 0 asks for no heartbeats.
        var heartbeat: UInt16
        var connectionName: String?
        var channelMax: UInt16 = 2047
        var frameMax: UInt32 = 131_072
    }

    /// What tune settled on.
    struct Negotiated: Sendable, Equatable {
        var channelMax: UInt16
        var frameMax: UInt32
        /// Seconds; 0 = no heartbeats.
        var heartbeat: UInt16
    }

    enum State: Equatable {
        case initial
        case awaitingStart
        case awaitingTune
        case awaitingOpenOk(Negotiated)
        case open(Negotiated)
        /// We sent connection.close.
        case closing
        case closed
    }

    enum Action: Sendable, Equatable {
        case sendProtocolHeader
        case send([AMQPFrame])
        /// open-ok: the connection is ready with these settings.
        case connected(Negotiated)
        /// A frame for channel n.
        case forward(AMQPFrame)
        case blocked(reason: String)
        case unblocked
        /// Close the socket (after what was sent) and fail everything with this error; nil = a clean client close.
        case closeConnection(AMQPError?)
    }

    let configuration: Configuration
    private(set) var state = State.initial
    private var lastReceived: NIODeadline = .uptimeNanoseconds(0)
    private var lastSent: NIODeadline = .uptimeNanoseconds(0)

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    var isHandshaking: Bool {
        switch state {
        case .initial, .awaitingStart, .awaitingTune, .awaitingOpenOk: true
        default: false
        }
    }

    /// The socket is up: say hello.
    mutating func connected(now: NIODeadline) -> [Action] {
        guard state == .initial else { return [] }
        state = .awaitingStart
        lastReceived = now
        lastSent = now
        return [.sendProtocolHeader]
    }

    /// Anything was written (heartbeats count as traffic the peer sees).
    mutating func frameSent(now: NIODeadline) {
        lastSent = now
    }

    mutating func frameReceived(_ frame: AMQPFrame, now: NIODeadline) -> [Action] {
        lastReceived = now
        if frame.channel != 0 {
            switch state {
            case .open: return [.forward(frame)]
            // After our close, the spec says to discard everything but close/close-ok.
            case .closing, .closed: return []
            default: return fail(.protocolViolation("frame on channel \(frame.channel) during the handshake"))
            }
        }
        switch frame.payload {
        case .heartbeat:
            return []
        case .method(let method):
            return methodReceived(method)
        case .header, .body:
            return fail(.protocolViolation("content on channel 0"))
        }
    }

    private mutating func methodReceived(_ method: AMQPMethod) -> [Action] {
        switch (state, method) {
        case (.awaitingStart, .connectionStart(let major, let minor, _, let mechanisms, _)):
            guard major == 0, minor == 9 else {
                return fail(AMQPError(.unsupportedProtocol, message: "broker speaks \(major)-\(minor)"))
            }
            guard mechanisms.split(separator: " ").contains("PLAIN") else {
                return fail(AMQPError(.authenticationFailed, message: "the broker offers no PLAIN (\(mechanisms))"))
            }
            state = .awaitingTune
            let response = "\u{0}\(configuration.user)\u{0}\(configuration.password)"
            return [
                .send([
                    .method(
                        0,
                        .connectionStartOk(
                            clientProperties: clientProperties, mechanism: "PLAIN", response: response,
                            locale: "en_US"))
                ])
            ]
        case (.awaitingTune, .connectionSecure):
            return fail(
                AMQPError(.authenticationFailed, message: "the broker asked for a SASL challenge PLAIN has none of"))
        case (.awaitingTune, .connectionTune(let channelMax, let frameMax, let heartbeat)):
            let negotiated = Negotiated(
                channelMax: Self.lowerNonZero(configuration.channelMax, channelMax),
                frameMax: Self.lowerNonZero(configuration.frameMax, frameMax),
                heartbeat: Self.lowerNonZero(configuration.heartbeat, heartbeat))
            state = .awaitingOpenOk(negotiated)
            return [
                .send([
                    .method(
                        0,
                        .connectionTuneOk(
                            channelMax: negotiated.channelMax, frameMax: negotiated.frameMax,
                            heartbeat: negotiated.heartbeat)),
                    .method(0, .connectionOpen(virtualHost: configuration.virtualHost)),
                ])
            ]
        case (.awaitingOpenOk(let negotiated), .connectionOpenOk):
            state = .open(negotiated)
            return [.connected(negotiated)]
        case (.open, .connectionBlocked(let reason)):
            return [.blocked(reason: reason)]
        case (.open, .connectionUnblocked):
            return [.unblocked]
        case (.closing, .connectionCloseOk):
            state = .closed
            return [.closeConnection(nil)]
        case (.closed, _):
            return []
        case (_, .connectionClose(let code, let text, let classID, let methodID)):
            // During the handshake 403 (ACCESS_REFUSED) means bad credentials or no access to the vhost.
            let kind: AMQPError.Code = isHandshaking && code == 403 ? .authenticationFailed : .connectionClosed
            state = .closed
            return [
                .send([.method(0, .connectionCloseOk)]),
                .closeConnection(
                    .closedByServer(kind, replyCode: code, replyText: text, classID: classID, methodID: methodID)),
            ]
        case (.closing, _):
            return []
        default:
            return fail(.protocolViolation("unexpected \(method) on channel 0"))
        }
    }

    /// The client closes the connection.
    mutating func close() -> [Action] {
        switch state {
        case .open, .awaitingOpenOk:
            state = .closing
            return [.send([.method(0, .connectionClose(replyCode: 200, replyText: "OK", classID: 0, methodID: 0))])]
        case .initial, .awaitingStart, .awaitingTune:
            state = .closed
            return [.closeConnection(nil)]
        case .closing, .closed:
            return []
        }
    }

    /// The socket closed or failed.
    mutating func connectionLost(_ error: AMQPError) -> [Action] {
        switch state {
        case .closed:
            return []
        case .closing:
            state = .closed
            return [.closeConnection(nil)]
        case .awaitingTune, .awaitingOpenOk:
            // Brokers without authentication_failure_close just drop the socket after a refused start-ok.
            state = .closed
            var failure = error
            failure.message = "the broker closed the socket during the handshake (refused credentials?)"
            return [.closeConnection(failure)]
        default:
            state = .closed
            return [.closeConnection(error)]
        }
    }

    /// The heartbeat clock: call it regularly (every quarter interval or so).
    mutating func tick(now: NIODeadline) -> [Action] {
        guard case .open(let negotiated) = state, negotiated.heartbeat > 0 else { return [] }
        let interval = TimeAmount.seconds(Int64(negotiated.heartbeat))
        if now - lastReceived > interval * 2 {
            return fail(AMQPError(.heartbeatTimeout, message: "nothing received for \(2 * Int(negotiated.heartbeat))s"))
        }
        if now - lastSent >= TimeAmount.nanoseconds(interval.nanoseconds / 2) {
            lastSent = now
            return [.send([.heartbeat])]
        }
        return []
    }

    private mutating func fail(_ error: AMQPError) -> [Action] {
        state = .closed
        return [.closeConnection(error)]
    }

    private var clientProperties: AMQPTable {
        var properties: AMQPTable = [
            "product": "Ashlar AMQP", "platform": "Swift", "version": "1",
            "capabilities": .table([
                "publisher_confirms": true, "consumer_cancel_notify": true, "connection.blocked": true,
                "basic.nack": true, "authentication_failure_close": true, "exchange_exchange_bindings": true,
            ]),
        ]
        if let name = configuration.connectionName { properties["connection_name"] = .string(name) }
        return properties
    }

    /// The lower of two limits where 0 means "no limit".
    static func lowerNonZero<T: FixedWidthInteger>(_ a: T, _ b: T) -> T {
        if a == 0 { return b }
        if b == 0 { return a }
        return Swift.min(a, b)
    }
}
