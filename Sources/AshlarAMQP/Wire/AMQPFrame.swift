import NIOCore

/// One AMQP frame, its payload already decoded.
struct AMQPFrame: Sendable, Hashable {
    enum Payload: Sendable, Hashable {
        case method(AMQPMethod)
        case header(AMQPContentHeader)
        case body(ByteBuffer)
        case heartbeat
    }

    var channel: UInt16
    var payload: Payload

    static let typeMethod: UInt8 = 1
    static let typeHeader: UInt8 = 2
    static let typeBody: UInt8 = 3
    static let typeHeartbeat: UInt8 = 8
    static let frameEnd: UInt8 = 0xCE
    /// Type, channel and size before the payload, plus the frame-end octet after it.
    static let overhead = 8
    /// The smallest frame_max a peer may impose (and the limit before tuning).
    static let minimumFrameMax: UInt32 = 4096
    /// `AMQP` 0 0 9 1.
    static let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]

    static func method(_ channel: UInt16, _ method: AMQPMethod) -> AMQPFrame {
        AMQPFrame(channel: channel, payload: .method(method))
    }

    static let heartbeat = AMQPFrame(channel: 0, payload: .heartbeat)

    /// The frames of a method with content: the method, the header, then the body cut into frames of at most
    /// frameMax − 8 bytes (none for an empty body).
    static func content(
        channel: UInt16, method: AMQPMethod, properties: AMQPBasicProperties, body: ByteBuffer, frameMax: UInt32
    ) -> [AMQPFrame] {
        var frames = [
            AMQPFrame.method(channel, method),
            AMQPFrame(
                channel: channel,
                payload: .header(AMQPContentHeader(bodySize: UInt64(body.readableBytes), properties: properties))),
        ]
        let chunk = Int(frameMax) - overhead
        var rest = body
        while rest.readableBytes > 0 {
            let slice = rest.readSlice(length: Swift.min(chunk, rest.readableBytes))!
            frames.append(AMQPFrame(channel: channel, payload: .body(slice)))
        }
        return frames
    }
}

/// What the encoder writes: the protocol header once, then frames.
enum AMQPOutbound: Sendable {
    case protocolHeader
    case frame(AMQPFrame)
}
