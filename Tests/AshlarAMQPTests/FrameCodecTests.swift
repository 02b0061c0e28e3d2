import NIOCore
import Testing

@testable import AshlarAMQP

@Suite struct FrameCodecTests {
    func roundTrip(_ frame: AMQPFrame, frameMax: UInt32 = 131_072) throws -> AMQPFrame? {
        var buffer = ByteBuffer()
        try AMQPFrameEncoder.encode(frame, into: &buffer)
        let decoded = try AMQPFrameDecoder.decodeFrame(from: &buffer, frameMax: frameMax)
        #expect(buffer.readableBytes == 0)
        return decoded
    }

    @Test func everyMethodRoundTrips() throws {
        let table: AMQPTable = ["a": .int32(1), "b": "x"]
        let methods: [AMQPMethod] = [
            .connectionStart(
                versionMajor: 0, versionMinor: 9, serverProperties: table, mechanisms: "PLAIN AMQPLAIN",
                locales: "en_US"),
            .connectionStartOk(
                clientProperties: table, mechanism: "PLAIN", response: "\0guest\0guest", locale: "en_US"),
            .connectionSecure(challenge: "c"), .connectionSecureOk(response: "r"),
            .connectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
            .connectionTuneOk(channelMax: 2047, frameMax: 131_072, heartbeat: 30),
            .connectionOpen(virtualHost: "/"), .connectionOpenOk,
            .connectionClose(replyCode: 320, replyText: "CONNECTION_FORCED", classID: 0, methodID: 0),
            .connectionCloseOk, .connectionBlocked(reason: "low memory"), .connectionUnblocked,
            .channelOpen, .channelOpenOk, .channelFlow(active: true), .channelFlowOk(active: false),
            .channelClose(replyCode: 406, replyText: "PRECONDITION_FAILED", classID: 40, methodID: 10), .channelCloseOk,
            .exchangeDeclare(
                exchange: "e", type: "topic", passive: false, durable: true, autoDelete: false, internal: true,
                noWait: false, arguments: table),
            .exchangeDeclareOk, .exchangeDelete(exchange: "e", ifUnused: true, noWait: false), .exchangeDeleteOk,
            .queueDeclare(
                queue: "q", passive: false, durable: true, exclusive: true, autoDelete: false, noWait: true,
                arguments: ["x-expires": 1000]),
            .queueDeclareOk(queue: "q", messageCount: 3, consumerCount: 1),
            .queueBind(queue: "q", exchange: "e", routingKey: "k", noWait: false, arguments: [:]), .queueBindOk,
            .queueUnbind(queue: "q", exchange: "e", routingKey: "k", arguments: [:]), .queueUnbindOk,
            .queuePurge(queue: "q", noWait: false), .queuePurgeOk(messageCount: 5),
            .queueDelete(queue: "q", ifUnused: false, ifEmpty: true, noWait: false), .queueDeleteOk(messageCount: 2),
            .basicQos(prefetchSize: 0, prefetchCount: 10, global: true), .basicQosOk,
            .basicConsume(
                queue: "q", consumerTag: "t", noLocal: false, noAck: true, exclusive: true, noWait: false,
                arguments: [:]),
            .basicConsumeOk(consumerTag: "t"), .basicCancel(consumerTag: "t", noWait: true),
            .basicCancelOk(consumerTag: "t"),
            .basicPublish(exchange: "e", routingKey: "k", mandatory: true, immediate: false),
            .basicReturn(replyCode: 312, replyText: "NO_ROUTE", exchange: "e", routingKey: "k"),
            .basicDeliver(consumerTag: "t", deliveryTag: 1 << 40, redelivered: true, exchange: "e", routingKey: "k"),
            .basicGet(queue: "q", noAck: true),
            .basicGetOk(deliveryTag: 7, redelivered: false, exchange: "", routingKey: "q", messageCount: 9),
            .basicGetEmpty,
            .basicAck(deliveryTag: 3, multiple: true), .basicReject(deliveryTag: 4, requeue: true),
            .basicNack(deliveryTag: 5, multiple: false, requeue: true),
            .confirmSelect(noWait: false), .confirmSelectOk,
        ]
        for method in methods {
            #expect(try roundTrip(.method(3, method)) == .method(3, method), "\(method)")
        }
    }

    @Test func bitsArePackedLeastSignificantFirst() throws {
        var buffer = ByteBuffer()
        try AMQPMethod.queueDeclare(
            queue: "", passive: true, durable: false, exclusive: true, autoDelete: false, noWait: true, arguments: [:]
        ).encode(into: &buffer)
        // class, method, reserved short, empty short string, then one octet of bits 0, 2 and 4.
        #expect(buffer.getInteger(at: 7, as: UInt8.self) == 0b10101)
        var nine = ByteBuffer()
        nine.writeBits(true, false, false, false, false, false, false, false, true)
        #expect(Array(buffer: nine) == [1, 1])
        #expect(try nine.readBits(9) == [true, false, false, false, false, false, false, false, true])
    }

    @Test func fieldTablesOfEveryRabbitMQType() throws {
        let table: AMQPTable = [
            "t": .bool(true), "b": .int8(-3), "B": .uint8(200), "s": .int16(-300), "u": .uint16(60000),
            "I": .int32(-70000), "i": .uint32(4_000_000_000), "l": .int64(-1 << 40), "f": .float(1.5),
            "d": .double(-2.25), "D": .decimal(scale: 2, value: 12345), "S": .string("héllo"),
            "x": .bytes([0, 255, 7]), "A": .array([.int32(1), .string("two"), .array([.void])]),
            "T": .timestamp(1_700_000_000), "F": .table(["inner": .bool(false)]), "V": .void,
        ]
        var buffer = ByteBuffer()
        try buffer.writeTable(table)
        let decoded = try buffer.readTable()
        #expect(decoded == table)
        #expect(decoded.entries.map(\.key) == table.entries.map(\.key))
        // The wire tags are RabbitMQ's.
        var one = ByteBuffer()
        try one.writeTable(["k": .uint32(1)])
        #expect(one.getInteger(at: 6, as: UInt8.self) == UInt8(ascii: "i"))
    }

    @Test func tablesDecodeInAnyOrderAndCompareUnordered() throws {
        var a = ByteBuffer()
        try a.writeTable(["x": 1, "y": 2])
        var b = ByteBuffer()
        try b.writeTable(["y": 2, "x": 1])
        #expect(try a.readTable() == b.readTable())
    }

    @Test func shortStringsLongerThan255AreRefused() throws {
        var buffer = ByteBuffer()
        #expect(throws: AMQPError.self) { try buffer.writeShortString(String(repeating: "a", count: 256)) }
        try buffer.writeShortString(String(repeating: "a", count: 255))
        #expect(buffer.readableBytes == 256)
    }

    @Test func contentHeaderWithAllProperties() throws {
        let properties = AMQPBasicProperties(
            contentType: "application/json", contentEncoding: "utf-8", headers: ["h": 1], deliveryMode: 2,
            priority: 5, correlationID: "c", replyTo: "r", expiration: "1000", messageID: "m", timestamp: 42,
            type: "t", userID: "guest", appID: "ashlar")
        let frame = AMQPFrame(channel: 1, payload: .header(AMQPContentHeader(bodySize: 10, properties: properties)))
        #expect(try roundTrip(frame) == frame)
        let empty = AMQPFrame(channel: 1, payload: .header(AMQPContentHeader(bodySize: 0, properties: .init())))
        #expect(try roundTrip(empty) == empty)
    }

    @Test func bodiesAreSplitAtFrameMaxMinusEight() {
        let body = ByteBuffer(repeating: 7, count: 10_000)
        let frames = AMQPFrame.content(
            channel: 1, method: .basicPublish(exchange: "", routingKey: "q", mandatory: false, immediate: false),
            properties: .init(), body: body, frameMax: 4096)
        #expect(frames.count == 2 + 3)
        let sizes = frames.dropFirst(2).map { frame -> Int in
            if case .body(let b) = frame.payload { return b.readableBytes } else { return -1 }
        }
        #expect(sizes == [4088, 4088, 1824])
        let none = AMQPFrame.content(
            channel: 1, method: .basicPublish(exchange: "", routingKey: "q", mandatory: false, immediate: false),
            properties: .init(), body: ByteBuffer(), frameMax: 4096)
        #expect(none.count == 2)
    }

    @Test func framesAboveFrameMaxAreRejected() throws {
        var buffer = ByteBuffer()
        try AMQPFrameEncoder.encode(
            AMQPFrame(channel: 1, payload: .body(ByteBuffer(repeating: 0, count: 4089))), into: &buffer)
        #expect(throws: AMQPError.self) { _ = try AMQPFrameDecoder.decodeFrame(from: &buffer, frameMax: 4096) }
    }

    @Test func partialFramesWaitAndBadEndsFail() throws {
        var full = ByteBuffer()
        try AMQPFrameEncoder.encode(.heartbeat, into: &full)
        #expect(Array(buffer: full) == [8, 0, 0, 0, 0, 0, 0, 0xCE])
        var partial = full.getSlice(at: 0, length: 5)!
        #expect(try AMQPFrameDecoder.decodeFrame(from: &partial, frameMax: 4096) == nil)
        #expect(partial.readableBytes == 5)
        var bad = ByteBuffer(bytes: [8, 0, 0, 0, 0, 0, 0, 0xCD])
        #expect(throws: AMQPError.self) { _ = try AMQPFrameDecoder.decodeFrame(from: &bad, frameMax: 4096) }
        var header = ByteBuffer(bytes: AMQPFrame.protocolHeader)
        #expect(throws: AMQPError.self) { _ = try AMQPFrameDecoder.decodeFrame(from: &header, frameMax: 4096) }
    }
}
