import AshlarCore
import Foundation
import Synchronization
import Testing

@testable import AshlarMessaging

let testContext = CallerContext(requestID: "req-test", userID: "user-1", projectID: "project-1", isAdmin: false)

/// A message whose arguments are `{"n": n}`.
func message(_ method: String, _ n: Int = 0) throws -> RPCMessage {
    try RPCMessage(method: method, context: testContext, arguments: ["n": n])
}

/// What every test endpoint records: who handled which message.
struct Delivery: Sendable, Equatable {
    var server: String
    var method: String
    var n: Int
}

/// Collects deliveries across servers; waits for them with a deadline so no test can hang.
final class Recorder: Sendable {
    private let entries = Mutex<[Delivery]>([])

    func record(_ delivery: Delivery) {
        entries.withLock { $0.append(delivery) }
    }

    var all: [Delivery] { entries.withLock { $0 } }

    func count(server: String) -> Int { all.filter { $0.server == server }.count }

    /// The deliveries once there are at least `count`, or whatever arrived by the deadline.
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(30)) async -> [Delivery] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            let current = all
            if current.count >= count { return current }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return all
    }
}

/// A value shared between tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func update(_ change: (inout Value) -> Void) { mutex.withLock { change(&$0) } }
}

struct TestError: Error, CustomStringConvertible {
    var description: String { "disk on fire" }
}

/// An endpoint with a behaviour per method:
/// `ping` answers its server name (unrecorded); `echo` returns the arguments; `nothing` returns nil;
/// `fail` throws an AshlarError; `crash` throws another error; `slow` sleeps 120 s (cancellably); anything else is recorded.
struct TestEndpoint: RPCEndpoint {
    var server: String
    var recorder: Recorder

    func handle(_ message: RPCMessage) async throws -> Data? {
        if message.method == "ping" { return Data("\"\(server)\"".utf8) }
        let n = (try? message.arguments([String: Int].self))?["n"] ?? -1
        recorder.record(Delivery(server: server, method: message.method, n: n))
        switch message.method {
        case "echo": return message.args
        case "nothing": return nil
        case "fail": throw AshlarError(.notFound, "Volume vol-\(n) could not be found.")
        case "crash": throw TestError()
        case "slow":
            try await Task.sleep(for: .seconds(120))
            return nil
        default: return Data("{\"handled_by\":\"\(server)\"}".utf8)
        }
    }
}

/// One `serve` to start: its topic, its server name and what handles its messages.
struct Server {
    var topic: String
    var server: String
    var endpoint: any RPCEndpoint
}

/// Whether `task` finishes within `timeout` (never waits longer).
func finishes(_ task: Task<Void, any Error>, within timeout: Duration) async -> Bool {
    let done = Locked(false)
    let watcher = Task {
        _ = try? await task.value
        done.update { $0 = true }
    }
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if done.value { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    watcher.cancel()
    return done.value
}

/// Starts the servers, waits until each consumes (a `ping` call to its own queue answers), runs `body`, then
/// cancels them and checks that they stop.
func withServers<R>(
    _ transport: any RPCTransport, _ servers: [Server], _ body: () async throws -> R
) async throws -> R {
    let tasks = servers.map { server in
        Task { try await transport.serve(topic: server.topic, server: server.server, endpoint: server.endpoint) }
    }
    defer { for task in tasks { task.cancel() } }
    for server in servers {
        let reply = try await transport.call(
            message("ping"), to: RPCTarget(topic: server.topic, server: server.server), timeout: .seconds(5))
        #expect(reply != nil)
    }
    let result = try await body()
    for task in tasks { task.cancel() }
    for task in tasks {
        #expect(await finishes(task, within: .seconds(30)), "serve did not stop when cancelled")
    }
    return result
}
