import AshlarCore
import Foundation
import Logging
import Synchronization

/// The bus of `ashlar serve`: queues in memory with RabbitMQ's routing — shared topic queues served
/// round-robin, a queue per server, fanout to all — so that the services behave as they do when distributed.
///
/// Messages are passed as the same JSON that would go on the wire.
public final class InProcessTransport: RPCTransport {
    private struct Consumer: Sendable {
        let id: Int
        let continuation: AsyncStream<Delivery>.Continuation
    }

    private struct Delivery: Sendable {
        let message: RPCMessage
        let reply: (@Sendable (Result<Data?, AshlarError>) -> Void)?
    }

    private struct State {
        var nextID = 0
        /// Consumers per queue name; topic queues rotate for round-robin.
        var queues: [String: [Consumer]] = [:]
        /// Messages sent to a queue nobody consumes yet, delivered when a consumer arrives (as a broker keeps
        /// them in a declared queue).
        var pending: [String: [Delivery]] = [:]
    }

    private let state = Mutex(State())
    private let logger: Logger
    public let responseTimeout: Duration

    public init(logger: Logger = Logger(label: "ashlar.bus"), responseTimeout: Duration = .seconds(60)) {
        self.logger = logger
        self.responseTimeout = responseTimeout
    }

    public func cast(_ message: RPCMessage, to target: RPCTarget) async throws {
        deliver(Delivery(message: message, reply: nil), queue: target.routingKey)
    }

    public func call(_ message: RPCMessage, to target: RPCTarget, timeout: Duration) async throws -> Data? {
        let replyBox = ReplySlot()
        let finish: @Sendable (Result<Data?, AshlarError>) -> Void = { result in
            replyBox.finish(result.mapError { $0 as any Error })
        }
        return try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    replyBox.put(continuation)
                    self.deliver(Delivery(message: message, reply: finish), queue: target.routingKey)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                let error = AshlarError(.unavailable, "No reply from \(target) to \(message.method) within \(timeout).")
                finish(.failure(error))
                throw error
            }
            let result = try await group.next()!
            group.cancelAll()
            return result
        }
    }

    public func fanout(_ message: RPCMessage, topic: String) async throws {
        let consumers = state.withLock { $0.queues[topic + "_fanout"] ?? [] }
        for consumer in consumers {
            consumer.continuation.yield(Delivery(message: message, reply: nil))
        }
    }

    public func serve(topic: String, server: String, endpoint: any RPCEndpoint) async throws {
        let (stream, continuation) = AsyncStream<Delivery>.makeStream()
        let names = [topic, "\(topic).\(server)", topic + "_fanout"]
        let id = state.withLock { state -> Int in
            state.nextID += 1
            let consumer = Consumer(id: state.nextID, continuation: continuation)
            for name in names {
                state.queues[name, default: []].append(consumer)
                for delivery in state.pending.removeValue(forKey: name) ?? [] { continuation.yield(delivery) }
            }
            return state.nextID
        }
        defer {
            state.withLock { state in
                for name in names { state.queues[name]?.removeAll { $0.id == id } }
            }
            continuation.finish()
        }
        await withDiscardingTaskGroup { group in
            for await delivery in stream {
                group.addTask { await Self.handle(delivery, endpoint: endpoint, logger: self.logger) }
            }
        }
    }

    private func deliver(_ delivery: Delivery, queue: String) {
        let consumer = state.withLock { state -> Consumer? in
            guard var consumers = state.queues[queue], !consumers.isEmpty else {
                state.pending[queue, default: []].append(delivery)
                return nil
            }
            let first = consumers.removeFirst()
            consumers.append(first)
            state.queues[queue] = consumers
            return first
        }
        consumer?.continuation.yield(delivery)
    }

    private static func handle(_ delivery: Delivery, endpoint: any RPCEndpoint, logger: Logger) async {
        let result = await endpoint.answer(delivery.message, isCall: delivery.reply != nil, logger: logger)
        delivery.reply?(result)
    }
}

/// Meets a call's reply (or timeout) with its continuation, in whichever order they arrive: a result that comes
/// before the continuation is kept and handed over as soon as the continuation is stored.
private final class ReplySlot: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Data?, any Error>)
        case done(Result<Data?, any Error>)
        case finished
    }

    private let state = Mutex(State.empty)

    func put(_ continuation: CheckedContinuation<Data?, any Error>) {
        let early = state.withLock { state -> Result<Data?, any Error>? in
            if case .done(let result) = state {
                state = .finished
                return result
            }
            state = .waiting(continuation)
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// Delivers the first result; later ones are ignored.
    func finish(_ result: Result<Data?, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<Data?, any Error>? in
            switch state {
            case .empty:
                state = .done(result)
                return nil
            case .waiting(let continuation):
                state = .finished
                return continuation
            case .done, .finished:
                return nil
            }
        }
        continuation?.resume(with: result)
    }
}
