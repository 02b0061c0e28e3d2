import AshlarAMQP
import AshlarTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

/// Against a real rabbitmq-server (one for the suite).
@Suite(.enabled(if: TestRabbitMQ.isAvailable, "\(TestRabbitMQ.unavailableReason)"), .rabbitMQ, .timeLimit(.minutes(1)))
struct AMQPIntegrationTests {
    func connect(heartbeat: UInt16 = 60) async throws -> AMQPConnection {
        let broker = try TestRabbitMQ.suiteBroker()
        return try await AMQPConnection.connect(configuration: broker.configuration(heartbeat: heartbeat))
    }

    func unique(_ prefix: String) -> String { "\(prefix)-\(UInt32.random(in: 0...UInt32.max))" }

    @Test func declareBindPublishWithConfirmsConsumeAndAck() async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        let exchange = unique("ex")
        try await channel.exchangeDeclare(exchange, type: "direct", autoDelete: true)
        let queue = try await channel.queueDeclare(unique("q"))
        try await channel.queueBind(queue: queue.name, exchange: exchange, routingKey: "key")
        try await channel.confirmSelect()
        for i in 0..<3 {
            try await channel.basicPublish(
                exchange: exchange, routingKey: "key", body: ByteBuffer(string: "m\(i)"),
                properties: AMQPBasicProperties(
                    contentType: "text/plain", headers: ["n": .int32(Int32(i))], correlationID: "c\(i)"))
        }
        let consumer = try await channel.basicConsume(queue: queue.name)
        var iterator = consumer.makeAsyncIterator()
        for i in 0..<3 {
            let delivery = try await nextDelivery(&iterator)
            #expect(String(buffer: delivery.body) == "m\(i)")
            #expect(delivery.properties.correlationID == "c\(i)")
            #expect(delivery.properties.headers?["n"] == .int32(Int32(i)))
            #expect(delivery.exchange == exchange)
            #expect(delivery.routingKey == "key")
            #expect(!delivery.redelivered)
            try await channel.basicAck(deliveryTag: delivery.deliveryTag)
        }
        try await consumer.cancel()
        #expect(try await iterator.next() == nil)
        try await channel.queueUnbind(queue: queue.name, exchange: exchange, routingKey: "key")
        #expect(try await channel.queuePurge(queue.name) == 0)
        try await channel.queueDelete(queue.name)
        try await channel.exchangeDelete(exchange)
        try await channel.close()
        await connection.close()
        #expect(await connection.closed() == nil)
    }

    func nextDelivery(_ iterator: inout AMQPConsumer.AsyncIterator, seconds: Int = 10) async throws -> AMQPDelivery {
        let box = IteratorBox(iterator)
        let delivery = try await withTimeout(seconds) { try await box.next() }
        iterator = box.iterator
        guard let delivery = delivery ?? nil else { throw BrokerError("no delivery within \(seconds) s") }
        return delivery
    }

    @Test func nackWithRequeueRedelivers() async throws {
        let connection = try await connect()
        defer { Task { await connection.close() } }
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare(exclusive: true)
        try await channel.basicPublish(routingKey: queue.name, body: ByteBuffer(string: "again"))
        var iterator = try await channel.basicConsume(queue: queue.name).makeAsyncIterator()
        let first = try await nextDelivery(&iterator)
        #expect(!first.redelivered)
        try await channel.basicNack(deliveryTag: first.deliveryTag, requeue: true)
        let second = try await nextDelivery(&iterator)
        #expect(second.redelivered)
        #expect(String(buffer: second.body) == "again")
        try await channel.basicReject(deliveryTag: second.deliveryTag, requeue: false)
        #expect(try await channel.basicGet(queue: queue.name) == nil)
        await connection.close()
    }

    @Test func qosPrefetchLimitsUnackedDeliveries() async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare(exclusive: true)
        for i in 0..<5 { try await channel.basicPublish(routingKey: queue.name, body: ByteBuffer(string: "\(i)")) }
        try await channel.basicQos(prefetchCount: 2)
        var iterator = try await channel.basicConsume(queue: queue.name).makeAsyncIterator()
        _ = try await nextDelivery(&iterator)
        let b = try await nextDelivery(&iterator)
        // The other three stay ready in the queue until some are acked.
        try await Task.sleep(for: .milliseconds(500))
        let probe = try await connection.openChannel()
        #expect(try await probe.queueDeclare(queue.name, passive: true).messageCount == 3)
        try await channel.basicAck(deliveryTag: b.deliveryTag, multiple: true)
        let c = try await nextDelivery(&iterator)
        #expect(String(buffer: c.body) == "2")
        await connection.close()
    }

    @Test func exclusiveServerNamedQueueWithExpiry() async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare(exclusive: true, arguments: ["x-expires": .int32(60_000)])
        #expect(queue.name.hasPrefix("amq.gen-"))
        #expect(queue.messageCount == 0)
        // Another connection may not use it: 405 RESOURCE_LOCKED closes that channel.
        let other = try await connect()
        let otherChannel = try await other.openChannel()
        do {
            try await otherChannel.queueDeclare(queue.name, passive: true)
            Issue.record("an exclusive queue was usable from another connection")
        } catch let error as AMQPError {
            #expect(error.code == .channelClosed)
            #expect(error.replyCode == 405)
        }
        // A queue with x-expires goes away on its own.
        let expiring = unique("expiring")
        try await channel.queueDeclare(expiring, arguments: ["x-expires": .int32(300)])
        try await Task.sleep(for: .milliseconds(1500))
        let probe = try await connection.openChannel()
        do {
            try await probe.queueDeclare(expiring, passive: true)
            Issue.record("the queue did not expire")
        } catch let error as AMQPError {
            #expect(error.replyCode == 404)
        }
        await other.close()
        await connection.close()
    }

    @Test func unroutableMandatoryPublishIsReturned() async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        try await channel.basicPublish(
            routingKey: unique("nowhere"), body: ByteBuffer(string: "lost"), properties: .init(messageID: "m1"),
            mandatory: true)
        var returns = channel.returns.makeAsyncIterator()
        let box = UnsafeSendableBox(returns)
        let returned = try await withTimeout(5) { await box.value.next() }
        returns = box.value
        #expect(returned??.replyCode == 312)
        #expect(returned??.properties.messageID == "m1")
        #expect(String(buffer: returned??.body ?? ByteBuffer()) == "lost")
        await connection.close()
    }

    @Test func serverChannelCloseBecomesAnErrorWithTheReplyCode() async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        let exchange = unique("typed")
        try await channel.exchangeDeclare(exchange, type: "direct", autoDelete: true)
        let queue = try await channel.queueDeclare(exclusive: true)
        let consumer = try await channel.basicConsume(queue: queue.name)
        do {
            try await channel.exchangeDeclare(exchange, type: "fanout", autoDelete: true)
            Issue.record("redeclaring with another type succeeded")
        } catch let error as AMQPError {
            #expect(error.code == .channelClosed)
            #expect(error.replyCode == 406)
            #expect(error.replyText?.contains("PRECONDITION_FAILED") == true)
        }
        // The channel stays closed, its consumer ended with the error; the connection is fine.
        await #expect(throws: AMQPError.self) { try await channel.queueDeclare(exclusive: true) }
        var iterator = consumer.makeAsyncIterator()
        await #expect(throws: AMQPError.self) { _ = try await nextDelivery(&iterator) }
        let again = try await connection.openChannel()
        try await again.exchangeDelete(exchange)
        await connection.close()
    }

    @Test func wrongPasswordIsAnAuthenticationError() async throws {
        let broker = try TestRabbitMQ.suiteBroker()
        let started = ContinuousClock.now
        do {
            _ = try await AMQPConnection.connect(configuration: broker.configuration(password: "wrong"))
            Issue.record("connected with a wrong password")
        } catch let error as AMQPError {
            #expect(error.code == .authenticationFailed)
            #expect(error.replyCode == 403)
        }
        #expect(ContinuousClock.now - started < .seconds(8))
    }

    @Test func shortHeartbeatKeepsAnIdleConnectionAlive() async throws {
        let connection = try await connect(heartbeat: 1)
        let channel = try await connection.openChannel()
        // More than three intervals of silence from us; the broker would drop a connection without heartbeats.
        try await Task.sleep(for: .milliseconds(3500))
        #expect(connection.isOpen)
        try await channel.queueDeclare(exclusive: true)
        await connection.close()
    }

    @Test func largeBodiesSpanFrames() async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare(exclusive: true)
        try await channel.confirmSelect()
        let body = ByteBuffer(bytes: (0..<300_000).map { UInt8(truncatingIfNeeded: $0) })
        try await channel.basicPublish(routingKey: queue.name, body: body)
        let got = try await channel.basicGet(queue: queue.name, noAck: true)
        #expect(got?.body == body)
        await connection.close()
    }
}

/// Races `body` against a deadline; nil when the deadline wins.
func withTimeout<T: Sendable>(_ seconds: Int, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
}

/// Moves an iterator into a child task and back (the tests own it throughout).
final class IteratorBox: @unchecked Sendable {
    var iterator: AMQPConsumer.AsyncIterator
    init(_ iterator: AMQPConsumer.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> AMQPDelivery? { try await iterator.next() }
}

final class UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
