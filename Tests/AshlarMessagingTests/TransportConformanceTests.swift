import AshlarCore
import AshlarTestSupport
import Foundation
import Logging
import Testing

@testable import AshlarMessaging

/// Which transport a conformance test runs on.
enum TransportKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inProcess, rabbitMQ
    var testDescription: String { rawValue }
}

/// What every transport must do the same way, run against the in-process bus and against RabbitMQ (a broker of
/// the suite's own).
@Suite("RPC transport conformance", .rabbitMQ, .timeLimit(.minutes(2)))
struct TransportConformanceTests {
    /// A transport of `kind`, closed after `body`; nil (skipped) when RabbitMQ is not installed outside CI.
    private func with(_ kind: TransportKind, _ body: (any RPCTransport) async throws -> Void) async throws {
        switch kind {
        case .inProcess:
            try await body(InProcessTransport())
        case .rabbitMQ:
            guard TestRabbitMQ.isAvailable else { return }
            let broker = try TestRabbitMQ.suiteBroker()
            let options = MessagingOptions(
                transportURL: TransportURL(hosts: [.init(host: "127.0.0.1", port: broker.amqpPort)]))
            let transport = try RabbitTransport(options: options, logger: .init(label: "test.rabbit"))
            await transport.start()
            do {
                try await body(transport)
            } catch {
                await transport.close()
                throw error
            }
            await transport.close()
        }
    }

    /// A topic no other test uses (queues outlive a test on the shared broker).
    private func topic() -> String { "test-" + UUID().uuidString.prefix(8).lowercased() }

    @Test("casts to a topic go round-robin to its servers, each message to one", arguments: TransportKind.allCases)
    func roundRobin(kind: TransportKind) async throws {
        try await with(kind) { transport in
            let recorder = Recorder()
            let t = topic()
            let servers = ["a", "b"].map {
                Server(topic: t, server: $0, endpoint: TestEndpoint(server: $0, recorder: recorder))
            }
            try await withServers(transport, servers) {
                for n in 0..<6 { try await transport.cast(message("work", n), to: RPCTarget(topic: t)) }
                let deliveries = await recorder.wait(for: 6)
                #expect(deliveries.map(\.n).sorted() == Array(0..<6))
                #expect(recorder.count(server: "a") == 3 && recorder.count(server: "b") == 3)
            }
        }
    }

    @Test("a cast to topic.server reaches that server only; a fanout reaches every server", arguments: TransportKind.allCases)
    func directAndFanout(kind: TransportKind) async throws {
        try await with(kind) { transport in
            let recorder = Recorder()
            let t = topic()
            let servers = ["a", "b", "c"].map {
                Server(topic: t, server: $0, endpoint: TestEndpoint(server: $0, recorder: recorder))
            }
            try await withServers(transport, servers) {
                for n in 0..<3 { try await transport.cast(message("work", n), to: RPCTarget(topic: t, server: "b")) }
                try await transport.fanout(message("report", 9), topic: t)
                let deliveries = await recorder.wait(for: 6)
                #expect(deliveries.filter { $0.method == "work" }.allSatisfy { $0.server == "b" })
                #expect(Set(deliveries.filter { $0.method == "report" }.map(\.server)) == ["a", "b", "c"])
            }
        }
    }

    @Test("a call returns the reply, null, or the server's AshlarError as it was", arguments: TransportKind.allCases)
    func calls(kind: TransportKind) async throws {
        try await with(kind) { transport in
            let recorder = Recorder()
            let t = topic()
            let target = RPCTarget(topic: t, server: "a")
            try await withServers(transport, [Server(topic: t, server: "a", endpoint: TestEndpoint(server: "a", recorder: recorder))]) {
                let echoed = try await transport.call(message("echo", 7), to: target, timeout: .seconds(10))
                let args = try #require(echoed.flatMap { try? JSONDecoder().decode([String: Int].self, from: $0) })
                #expect(args == ["n": 7])
                #expect(try await transport.call(message("nothing"), to: target, timeout: .seconds(10)) == nil)
                do {
                    _ = try await transport.call(message("fail", 3), to: target, timeout: .seconds(10))
                    Issue.record("the call should have failed")
                } catch let error as AshlarError {
                    #expect(error.code == .notFound)
                    #expect(error.message == "Volume vol-3 could not be found.")
                }
                do {
                    _ = try await transport.call(message("crash"), to: target, timeout: .seconds(10))
                    Issue.record("the call should have failed")
                } catch let error as AshlarError {
                    #expect(error.code == .internalError)
                    #expect(!error.message.contains("disk on fire"), "internal error text stays on the server")
                }
            }
        }
    }

    @Test("a call nobody answers fails with .unavailable within its timeout", arguments: TransportKind.allCases)
    func callTimeout(kind: TransportKind) async throws {
        try await with(kind) { transport in
            let started = ContinuousClock.now
            do {
                _ = try await transport.call(
                    message("ping"), to: RPCTarget(topic: topic(), server: "nobody"), timeout: .milliseconds(500))
                Issue.record("the call should have timed out")
            } catch let error as AshlarError {
                #expect(error.code == .unavailable)
            }
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test("a cast sent before its server starts is delivered once it does", arguments: TransportKind.allCases)
    func castBeforeServer(kind: TransportKind) async throws {
        try await with(kind) { transport in
            let recorder = Recorder()
            let t = topic()
            try await transport.cast(message("early", 1), to: RPCTarget(topic: t))
            try await withServers(transport, [Server(topic: t, server: "a", endpoint: TestEndpoint(server: "a", recorder: recorder))]) {
                let deliveries = await recorder.wait(for: 1, timeout: .seconds(10))
                #expect(deliveries.map(\.method) == ["early"])
            }
        }
    }
}
