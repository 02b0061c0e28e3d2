import AshlarAMQP
import AshlarCore
import AshlarMessaging
import Foundation
import Logging
import NIOCore

/// RPC over one RabbitMQ with Ashlar's client: a server on topic `bench` answers `echo`, and one client in the same
/// process calls it `calls` times one after another (round trip p50/p99) and casts `casts` messages as fast as
/// the broker confirms them (casts/s, counted when the server has handled them all).
///
///   RPCBench rabbit://guest:guest@127.0.0.1:PORT/ [calls] [casts]
/// Prints one line of JSON. `bench/rpc` runs it beside oslo.messaging's Python client on the same broker.
@main
struct RPCBench {
    struct Echo: RPCEndpoint {
        let received: Counter
        func handle(_ message: RPCMessage) async throws -> Data? {
            if message.method == "note" {
                await received.add()
                return nil
            }
            return message.args
        }
    }

    actor Counter {
        var count = 0
        func add() { count += 1 }
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// Runs `body` `warmup + count` times and returns the last `count` durations in milliseconds, sorted.
    static func timed(_ count: Int, warmup: Int = 100, _ body: @Sendable () async throws -> Void) async rethrows -> [Double] {
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for n in 0..<(warmup + count) {
            let start = ContinuousClock.now
            try await body()
            if n >= warmup { samples.append(milliseconds(ContinuousClock.now - start)) }
        }
        return samples.sorted()
    }

    /// `count` publishes through `session` to `queue`, each timed until `consumer` has a delivery (after 100
    /// untimed), in milliseconds, sorted.
    static func roundTrips(
        _ count: Int, session: AMQPSession, to queue: String, answeredOn consumer: AMQPSessionConsumer
    ) async throws -> [Double] {
        var deliveries = consumer.makeAsyncIterator()
        let ping = ByteBuffer(string: "ping")
        var samples: [Double] = []
        for n in 0..<(100 + count) {
            let start = ContinuousClock.now
            try await session.publish(routingKey: queue, body: ping)
            _ = try await deliveries.next()
            if n >= 100 { samples.append(milliseconds(ContinuousClock.now - start)) }
        }
        return samples.sorted()
    }

    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: RPCBench rabbit://user:pass@host:port/ [calls] [casts]\n".utf8))
            exit(2)
        }
        let calls = arguments.count > 2 ? Int(arguments[2]) ?? 2000 : 2000
        let casts = arguments.count > 3 ? Int(arguments[3]) ?? 5000 : 5000
        var logger = Logger(label: "rpcbench")
        logger.logLevel = .warning
        var options = MessagingOptions()
        options.transportURL = try TransportURL(arguments[1])
        let server = try RabbitTransport(options: options, logger: logger)
        let client = try RabbitTransport(options: options, logger: logger)
        await server.start()
        await client.start()
        let received = Counter()
        let serving = Task { try await server.serve(topic: "bench", server: "s1", endpoint: Echo(received: received)) }
        let context = CallerContext.service(requestID: "req-bench")
        let target = RPCTarget(topic: "bench")
        let message = try RPCMessage(method: "echo", context: context, arguments: ["n": 1])
        // What the envelope costs: a request and its reply encoded and decoded, as a call does.
        let codecStart = ContinuousClock.now
        for _ in 0..<1000 {
            let body = try OsloWire.encode(message, uniqueID: "u", reply: ("m", "reply_q"))
            let request = try OsloWire.decodeRequest(body)
            let reply = try OsloWire.encodeReply(.success(request.message.args), messageID: "m", uniqueID: "u")
            _ = try OsloWire.decodeReply(reply)
        }
        let codecMS = milliseconds(ContinuousClock.now - codecStart) / 1000
        // After 100 warm-up calls (the server's queues exist once a call is answered).
        let samples = try await timed(calls) { _ = try await client.call(message, to: target, timeout: .seconds(10)) }

        let note = try RPCMessage(method: "note", context: context, arguments: ["n": 1])
        let castStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            // 32 in flight: each waits for the broker's confirm.
            for lane in 0..<32 {
                group.addTask {
                    var n = lane
                    while n < casts {
                        try await client.cast(note, to: target)
                        n += 32
                    }
                }
            }
            try await group.waitForAll()
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while await received.count < casts, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let castSeconds = milliseconds(ContinuousClock.now - castStart) / 1000
        let handled = await received.count

        // The floor under a call: one confirmed publish to a queue and its delivery to a consumer, through
        // AMQPSession alone (no oslo envelope, no RPC), on one connection.
        let host = try TransportURL(arguments[1]).hosts[0]
        func newSession() async -> AMQPSession {
            let session = AMQPSession(
                configuration: .init(endpoints: [
                    AMQPConnectionConfiguration(host: host.host, port: host.port, user: host.user, password: host.password)
                ]), logger: logger)
            await session.start()
            return session
        }
        let session = await newSession()
        try await session.queueDeclare("bench-ping", durable: false, exclusive: false, autoDelete: true)
        let hops = try await roundTrips(
            calls, session: session, to: "bench-ping",
            answeredOn: try await session.consume(queue: "bench-ping", noAck: true))
        // The floor under a call across two connections: a request through one session to a consumer on a
        // second, which publishes the answer back; no envelope, no RPC layer.
        let echo = await newSession()
        try await echo.queueDeclare("bench-req", durable: false, exclusive: false, autoDelete: true)
        try await session.queueDeclare("bench-rep", durable: false, exclusive: false, autoDelete: true)
        let requests = try await echo.consume(queue: "bench-req", noAck: true)
        let echoing = Task {
            for try await delivery in requests {
                try await echo.publish(routingKey: "bench-rep", body: delivery.body)
            }
        }
        let pairs = try await roundTrips(
            calls, session: session, to: "bench-req",
            answeredOn: try await session.consume(queue: "bench-rep", noAck: true))
        echoing.cancel()
        await echo.close()
        await session.close()

        func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
        let result: [String: Any] = [
            "client": "ashlar", "calls": calls, "call_p50_ms": percentile(0.5), "call_p99_ms": percentile(0.99),
            "casts": casts, "casts_handled": handled, "casts_per_s": Double(handled) / castSeconds,
            "hop_p50_ms": hops[hops.count / 2], "pair_p50_ms": pairs[pairs.count / 2], "codec_ms": codecMS,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        serving.cancel()
        await client.close()
        await server.close()
    }
}
