import AshlarCore
import AshlarMessaging
import AshlarTestSupport
import Foundation
import Logging
import Testing

/// The wire proven against the real thing: a Python oslo.messaging client calls and casts to an Ashlar RPC
/// server, and an Ashlar client calls a Python oslo.messaging server, on one RabbitMQ broker.
@Suite(
    .serialized, .rabbitMQ, .timeLimit(.minutes(3)),
    .enabled(if: TestRabbitMQ.isAvailable, "needs rabbitmq-server (scripts/setup-test-env installs it as root)"))
struct OsloInteropTests {
    static let script = #"""
        import json, sys, threading, time
        import oslo_messaging as messaging
        from oslo_config import cfg

        mode, url = sys.argv[1], sys.argv[2]
        conf = cfg.CONF
        conf([], project="interop")
        transport = messaging.get_rpc_transport(conf, url=url)

        if mode == "client":
            client = messaging.get_rpc_client(transport, messaging.Target(topic="interop", server="ashlar"), timeout=20)
            out = {"echo": client.call({"user_id": "py-user", "project_id": "py-project", "request_id": "req-py"}, "echo", n=5)}
            client.cast({}, "record", n=1)
            try:
                client.call({}, "fail", n=7)
                out["fail"] = None
            except messaging.RemoteError as e:
                out["fail"] = {"type": e.exc_type, "value": e.value}
            shared = messaging.get_rpc_client(transport, messaging.Target(topic="interop"), timeout=20)
            out["shared"] = shared.call({}, "ping")
            print(json.dumps(out), flush=True)
        else:
            class Endpoint(object):
                target = messaging.Target(version="3.0")
                def add(self, ctxt, a, b):
                    return {"sum": a + b, "user": ctxt.get("user_id"), "project": ctxt.get("project_id")}
                def boom(self, ctxt):
                    raise ValueError("the python side broke")
            server = messaging.get_rpc_server(
                transport, messaging.Target(topic="pyserver", server="py"), [Endpoint()])
            server.start()
            print("ready", flush=True)
            deadline = time.time() + 60
            while time.time() < deadline and sys.stdin.readline():
                pass
            server.stop()
            server.wait()
        """#

    private func python(_ arguments: [String]) -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.venv + "/bin/python")
        process.arguments = ["-c", Self.script] + arguments
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("oslo-\(arguments[0]).err")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try? FileHandle(forWritingTo: errors)
        return (process, input, output)
    }

    private func transport(_ broker: TestRabbitMQ) throws -> RabbitTransport {
        try RabbitTransport(
            options: MessagingOptions(transportURL: TransportURL(hosts: [.init(host: "127.0.0.1", port: broker.amqpPort)])),
            logger: Logger(label: "test.interop"))
    }

    /// An Ashlar endpoint: `echo` returns its arguments and the caller it saw, `ping` its name, `fail` a 404 error.
    struct Endpoint: RPCEndpoint {
        let seen: Locked
        func handle(_ message: RPCMessage) async throws -> Data? {
            seen.append(message.method)
            switch message.method {
            case "echo":
                let n = try message.arguments([String: Int].self)["n"] ?? -1
                return try JSONEncoder().encode([
                    "n": "\(n)", "user": message.context.userID, "project": message.context.projectID,
                    "request": message.context.requestID,
                ])
            case "ping": return Data(#""ashlar""#.utf8)
            case "fail": throw AshlarError(.notFound, "Volume vol-7 could not be found.")
            default: return nil
            }
        }
    }

    final class Locked: @unchecked Sendable {
        private let lock = NSLock()
        private var methods: [String] = []
        func append(_ method: String) { lock.withLock { methods.append(method) } }
        var all: [String] { lock.withLock { methods } }
    }

    @Test func aPythonClientCallsAndCastsToAnAshlarServer() async throws {
        let broker = try TestRabbitMQ.suiteBroker()
        let ashlar = try transport(broker)
        await ashlar.start()
        let seen = Locked()
        let serving = Task { try await ashlar.serve(topic: "interop", server: "ashlar", endpoint: Endpoint(seen: seen)) }
        defer { serving.cancel() }
        // Serving once its own ping call answers.
        #expect(
            try await ashlar.call(
                RPCMessage(method: "ping", context: .service(requestID: "req-t"), args: Data("{}".utf8)),
                to: RPCTarget(topic: "interop", server: "ashlar"), timeout: .seconds(10)) != nil)

        let (process, _, output) = python(["client", "rabbit://guest:guest@127.0.0.1:\(broker.amqpPort)/"])
        try process.run()
        let deadline = ContinuousClock.now + .seconds(90)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "python said: \(text) \((try? String(contentsOfFile: NSTemporaryDirectory() + "/oslo-client.err", encoding: .utf8)) ?? "")")
        let echo = try #require(result["echo"] as? [String: String])
        #expect(echo == ["n": "5", "user": "py-user", "project": "py-project", "request": "req-py"])
        let fail = try #require(result["fail"] as? [String: String])
        #expect(fail["type"] == "NotFound" && fail["value"] == "Volume vol-7 could not be found.")
        #expect(result["shared"] as? String == "ashlar")
        // The cast arrives too.
        let castDeadline = ContinuousClock.now + .seconds(10)
        while !seen.all.contains("record"), ContinuousClock.now < castDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(seen.all.contains("record"))
        await ashlar.close()
    }

    @Test func anAshlarClientCallsAPythonServer() async throws {
        let broker = try TestRabbitMQ.suiteBroker()
        let (process, input, output) = python(["server", "rabbit://guest:guest@127.0.0.1:\(broker.amqpPort)/"])
        try process.run()
        defer {
            try? input.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
        }
        // "ready" once the Python server consumes.
        let reader = Task { String(decoding: output.fileHandleForReading.availableData, as: UTF8.self) }
        let ready = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await reader.value.contains("ready") }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        try #require(ready, "the python oslo.messaging server did not start")

        let ashlar = try transport(broker)
        await ashlar.start()
        let caller = CallerContext(requestID: "req-a", userID: "ashlar-user", projectID: "ashlar-project", isAdmin: false)
        let target = RPCTarget(topic: "pyserver", server: "py")
        let reply = try await ashlar.call(
            try RPCMessage(method: "add", context: caller, arguments: ["a": 2, "b": 3]), to: target, timeout: .seconds(20))
        let sum = try #require(try reply.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
        #expect(sum["sum"] as? Int == 5)
        #expect(sum["user"] as? String == "ashlar-user" && sum["project"] as? String == "ashlar-project")
        do {
            _ = try await ashlar.call(
                RPCMessage(method: "boom", context: caller, args: Data("{}".utf8)), to: target, timeout: .seconds(20))
            Issue.record("the call should have failed")
        } catch let error as AshlarError {
            #expect(error.code == .internalError)
            #expect(error.message == "the python side broke")
        }
        await ashlar.close()
    }
}
