import NIOCore

/// The frame size limit, shared by the decoder and the connection handler that negotiates it.
///
/// Only touched on the connection's event loop.
final class AMQPFrameLimit: @unchecked Sendable {
    /// Largest frame accepted, overhead included.
    var frameMax: UInt32

    init(frameMax: UInt32 = 131_072) { self.frameMax = frameMax }
}

/// Cuts the byte stream into frames and decodes their payloads.
struct AMQPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = AMQPFrame

    let limit: AMQPFrameLimit

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.decodeFrame(from: &buffer, frameMax: limit.frameMax) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }

    /// One frame from the front of `buffer`, or nil (nothing consumed) until it is all there.
    static func decodeFrame(from buffer: inout ByteBuffer, frameMax: UInt32) throws -> AMQPFrame? {
        // A broker that does not speak our version answers with its own protocol header and closes.
        if buffer.readableBytes >= 4, buffer.getBytes(at: buffer.readerIndex, length: 4) == [0x41, 0x4D, 0x51, 0x50] {
            let version = buffer.getBytes(at: buffer.readerIndex + 4, length: min(4, buffer.readableBytes - 4)) ?? []
            throw AMQPError(.unsupportedProtocol, message: "the broker offers protocol \(version)")
        }
        guard buffer.readableBytes >= 7,
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let channel = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt16.self),
            let size = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt32.self)
        else { return nil }
        guard UInt64(size) + UInt64(AMQPFrame.overhead) <= UInt64(frameMax) else {
            throw AMQPError(.frameTooLarge, message: "frame of \(size) bytes, frame_max is \(frameMax)")
        }
        guard buffer.readableBytes >= 7 + Int(size) + 1 else { return nil }
        buffer.moveReaderIndex(forwardBy: 7)
        var payload = buffer.readSlice(length: Int(size))!
        let end: UInt8 = buffer.readInteger()!
        guard end == AMQPFrame.frameEnd else { throw AMQPError.protocolViolation("bad frame end \(end)") }
        switch type {
        case AMQPFrame.typeMethod:
            return .method(channel, try AMQPMethod.decode(from: &payload))
        case AMQPFrame.typeHeader:
            return AMQPFrame(channel: channel, payload: .header(try AMQPContentHeader.decode(from: &payload)))
        case AMQPFrame.typeBody:
            return AMQPFrame(channel: channel, payload: .body(payload))
        case AMQPFrame.typeHeartbeat:
            guard channel == 0 else { throw AMQPError.protocolViolation("heartbeat on channel \(channel)") }
            return .heartbeat
        default:
            throw AMQPError.protocolViolation("unknown frame type \(type)")
        }
    }
}

/// Writes the protocol header and frames.
struct AMQPFrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = AMQPOutbound

    func encode(data: AMQPOutbound, out: inout ByteBuffer) throws {
        switch data {
        case .protocolHeader: out.writeBytes(AMQPFrame.protocolHeader)
        case .frame(let frame): try Self.encode(frame, into: &out)
        }
    }

    static func encode(_ frame: AMQPFrame, into out: inout ByteBuffer) throws {
        let type: UInt8
        switch frame.payload {
        case .method: type = AMQPFrame.typeMethod
        case .header: type = AMQPFrame.typeHeader
        case .body: type = AMQPFrame.typeBody
        case .heartbeat: type = AMQPFrame.typeHeartbeat
        }
        out.writeInteger(type)
        out.writeInteger(frame.channel)
        let sizeIndex = out.writerIndex
        out.writeInteger(UInt32(0))
        switch frame.payload {
        case .method(let method): try method.encode(into: &out)
        case .header(let header): try header.encode(into: &out)
        case .body(var body): out.writeBuffer(&body)
        case .heartbeat: break
        }
        out.setInteger(UInt32(out.writerIndex - sizeIndex - 4), at: sizeIndex)
        out.writeInteger(AMQPFrame.frameEnd)
    }
}
