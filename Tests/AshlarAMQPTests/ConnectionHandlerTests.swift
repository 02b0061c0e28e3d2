import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import AshlarAMQP

/// The handler on an EmbeddedChannel: frames in, frames out, time advanced by hand.
@Suite struct ConnectionHandlerTests {
    final class Harness {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let handler: AMQPConnectionHandler
        let events: AsyncStream<AMQPConnectionEvent>

        init() throws {
            channel = EmbeddedChannel(loop: loop)
            let (events, continuation) = AsyncStream<AMQPConnectionEvent>.makeStream()
            self.events = events
            handler = AMQPConnectionHandler(
                configuration: AMQPConnectionConfiguration(
                    heartbeat: 0, requestTimeout: .seconds(5), blockedPublishTimeout: .seconds(2)),
                limit: AMQPFrameLimit(), eventLoop: loop, logger: Logger(label: "test"),
                blockedState: NIOLockedValueBox(false), events: continuation)
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5672)).wait()
        }

        func outbound() throws -> [AMQPFrame] {
            var frames: [AMQPFrame] = []
            while let out = try channel.readOutbound(as: AMQPOutbound.self) {
                if case .frame(let frame) = out { frames.append(frame) }
            }
            return frames
        }

        func receive(_ frame: AMQPFrame) throws { try channel.writeInbound(frame) }

        /// Handshake and channel 1 open.
        func open() throws {
            #expect(
                try channel.readOutbound(as: AMQPOutbound.self).map {
                    if case .protocolHeader = $0 { true } else { false }
                } == true)
            try receive(
                .method(
                    0,
                    .connectionStart(
                        versionMajor: 0, versionMinor: 9, serverProperties: [:], mechanisms: "PLAIN", locales: "en_US"))
            )
            try receive(.method(0, .connectionTune(channelMax: 0, frameMax: 131_072, heartbeat: 0)))
            try receive(.method(0, .connectionOpenOk))
            _ = try outbound()
            let opened = handler.openChannel()
            #expect(try outbound() == [.method(1, .channelOpen)])
            try receive(.method(1, .channelOpenOk))
            #expect(try opened.wait().0 == 1)
        }
    }

    @Test func publishesWaitWhileBlockedAndFailWhenItLastsTooLong() throws {
        let h = try Harness()
        try h.open()
        try h.receive(.method(0, .connectionBlocked(reason: "low on memory")))
        let held = h.handler.publish(
            1, exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: ByteBuffer(string: "x"))
        #expect(try h.outbound().isEmpty)
        try h.receive(.method(0, .connectionUnblocked))
        let sent = try h.outbound()
        #expect(
            sent.first == .method(1, .basicPublish(exchange: "", routingKey: "q", mandatory: false, immediate: false)))
        try held.wait()

        try h.receive(.method(0, .connectionBlocked(reason: "disk")))
        let stuck = h.handler.publish(
            1, exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: ByteBuffer())
        h.loop.advanceTime(by: .seconds(3))
        #expect(throws: AMQPError.self) { try stuck.wait() }
        #expect(try h.outbound().isEmpty)
    }

    @Test func aTimedOutRequestKeepsThePairingOfLaterOnes() throws {
        let h = try Harness()
        try h.open()
        let first = h.handler.request(1, .basicQos(prefetchSize: 0, prefetchCount: 1, global: false))
        h.loop.advanceTime(by: .seconds(3))
        // Queued behind the first; its own five seconds run from now.
        let second = h.handler.request(1, .queuePurge(queue: "q", noWait: false))
        #expect(try h.outbound() == [.method(1, .basicQos(prefetchSize: 0, prefetchCount: 1, global: false))])
        h.loop.advanceTime(by: .seconds(3))
        do {
            _ = try first.wait()
            Issue.record("no timeout")
        } catch let error as AMQPError {
            #expect(error.code == .timeout)
        }
        // The late reply still belongs to the first request.
        try h.receive(.method(1, .basicQosOk))
        #expect(try h.outbound() == [.method(1, .queuePurge(queue: "q", noWait: false))])
        try h.receive(.method(1, .queuePurgeOk(messageCount: 4)))
        #expect(try second.wait() == .method(.queuePurgeOk(messageCount: 4)))
    }

    @Test func confirmsResolvePublishesAndNacksFailThem() throws {
        let h = try Harness()
        try h.open()
        let select = h.handler.request(1, .confirmSelect(noWait: false))
        try h.receive(.method(1, .confirmSelectOk))
        _ = try select.wait()
        let a = h.handler.publish(
            1, exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: ByteBuffer())
        let b = h.handler.publish(
            1, exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: ByteBuffer())
        let c = h.handler.publish(
            1, exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: ByteBuffer())
        try h.receive(.method(1, .basicAck(deliveryTag: 2, multiple: true)))
        try a.wait()
        try b.wait()
        try h.receive(.method(1, .basicNack(deliveryTag: 3, multiple: false, requeue: false)))
        #expect { try c.wait() } throws: { ($0 as? AMQPError)?.code == .publishNacked }
    }

    @Test func tooLongShortStringsAreRefusedBeforeSending() throws {
        let h = try Harness()
        try h.open()
        let long = String(repeating: "q", count: 300)
        #expect {
            _ = try h.handler.request(
                1,
                .queueDeclare(
                    queue: long, passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false,
                    arguments: [:])
            ).wait()
        } throws: {
            ($0 as? AMQPError)?.code == .invalidArgument
        }
        #expect(try h.outbound().isEmpty)
    }

    @Test func connectionLossFailsOutstandingWorkAndEndsConsumers() throws {
        let h = try Harness()
        try h.open()
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        _ = h.handler.consume(
            1,
            .basicConsume(
                queue: "q", consumerTag: "c", noLocal: false, noAck: false, exclusive: false, noWait: false,
                arguments: [:]), tag: "c", continuation: continuation)
        let pending = h.handler.request(1, .queuePurge(queue: "q", noWait: false))
        try h.receive(
            .method(0, .connectionClose(replyCode: 320, replyText: "CONNECTION_FORCED", classID: 0, methodID: 0)))
        #expect(try h.outbound().contains(.method(0, .connectionCloseOk)))
        #expect { _ = try pending.wait() } throws: { ($0 as? AMQPError)?.replyCode == 320 }
        #expect(try h.handler.closedPromise.futureResult.wait()?.replyCode == 320)
        _ = stream
    }
}
