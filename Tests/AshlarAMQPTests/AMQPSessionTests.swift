import AshlarAMQP
import AshlarTestSupport
import Foundation
import Logging
import NIOCore
import Testing

/// The reconnecting session against a broker of its own, which it restarts.
@Suite(
    .enabled(if: TestRabbitMQ.isAvailable, "\(TestRabbitMQ.unavailableReason)"), .rabbitMQ, .serialized,
    .timeLimit(.minutes(2)))
struct AMQPSessionTests {
    @Test func consumerResumesAcrossABrokerRestart() async throws {
        let broker = try TestRabbitMQ.suiteBroker()
        // A dead first endpoint: failover goes on to the next.
        var dead = broker.configuration(heartbeat: 2)
        dead.port = TestRabbitMQ.freeTCPPort()
        dead.connectTimeout = .seconds(1)
        let session = AMQPSession(
            configuration: .init(
                endpoints: [dead, broker.configuration(heartbeat: 2)], initialBackoff: .milliseconds(100),
                maximumBackoff: .milliseconds(500), unavailableTimeout: .seconds(60)))
        await session.start()
        try await session.exchangeDeclare("ashlar-restart", type: "topic", durable: false)
        let queue = try await session.queueDeclare("", exclusive: true)
        try await session.queueBind(queue: queue, exchange: "ashlar-restart", routingKey: "volume.#")
        try await session.basicQos(prefetchCount: 10)
        let consumer = try await session.consume(queue: queue)
        let received = ReceivedBox()
        let reader = Task {
            for try await delivery in consumer {
                await received.add(String(buffer: delivery.body))
                try await session.ack(delivery)
            }
        }
        try await session.publish(
            exchange: "ashlar-restart", routingKey: "volume.create", body: ByteBuffer(string: "before"))
        #expect(await received.wait(for: "before", seconds: 10))
        #expect(await session.connectionCount == 1)

        // Stop the broker by PID, start it again on the same port and data.
        await broker.stopServer()
        // During the outage, a publish with a short patience fails as unavailable.
        let impatient = AMQPSession(
            configuration: .init(endpoints: [broker.configuration()], unavailableTimeout: .milliseconds(300)))
        await #expect {
            try await impatient.publish(routingKey: "x", body: ByteBuffer(string: "x"))
        } throws: { ($0 as? AMQPError)?.code == .unavailable }
        await impatient.close()
        try await broker.startServer()

        // Published after the restart (waits for the session to be back), consumed by the same sequence.
        try await session.publish(
            exchange: "ashlar-restart", routingKey: "volume.delete", body: ByteBuffer(string: "after"))
        #expect(await received.wait(for: "after", seconds: 30))
        #expect(await session.connectionCount >= 2)
        // The exclusive server-named queue died with the broker; the session declared a new one and followed it.
        #expect(await session.queueName(queue) != queue)
        await session.close()
        reader.cancel()
        _ = await reader.result
    }

    @Test func unackedDeliveriesComeAgainAfterAConnectionLossAndStaleAcksAreNoOps() async throws {
        let broker = try TestRabbitMQ.suiteBroker()
        let session = AMQPSession(configuration: .init(endpoints: [broker.configuration()]))
        let queue = "ashlar-redeliver-\(UInt32.random(in: 0...UInt32.max))"
        try await session.queueDeclare(queue, autoDelete: false)
        let consumer = try await session.consume(queue: queue)
        try await session.publish(routingKey: queue, body: ByteBuffer(string: "once"))
        // The suite is serialized: the restart test would otherwise take this non-durable queue with it.
        let iterator = SessionIteratorBox(consumer.makeAsyncIterator())
        let first = try #require(try await withTimeout(10) { try await iterator.next() } ?? nil)
        #expect(!first.redelivered)
        // A method the broker refuses (amq.* is reserved: 403) closes the session's channel; the session
        // reconnects, and the unacked delivery is requeued by the broker and comes again on the new connection.
        await #expect(throws: AMQPError.self) { try await session.exchangeDeclare("amq.direct", type: "fanout") }
        let second = try #require(try await withTimeout(20) { try await iterator.next() } ?? nil)
        #expect(second.redelivered)
        #expect(String(buffer: second.body) == "once")
        #expect(second.generation != first.generation)
        try await session.ack(first)  // stale: does nothing
        try await session.ack(second)
        try await session.queueDelete(queue)
        await session.close()
    }
}

/// What the reader task received, waited on with a bound.
actor ReceivedBox {
    private var values: [String] = []
    func add(_ value: String) { values.append(value) }
    func wait(for value: String, seconds: Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if values.contains(value) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// Moves a session consumer's iterator into a timed child task and back.
final class SessionIteratorBox: @unchecked Sendable {
    var iterator: AMQPSessionConsumer.AsyncIterator
    init(_ iterator: AMQPSessionConsumer.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> AMQPSessionDelivery? { try await iterator.next() }
}
