import AshlarCore
import Foundation
import Testing

@testable import AshlarMessaging

@Suite("InProcessTransport", .timeLimit(.minutes(1)))
struct InProcessTransportTests {
    let transport = InProcessTransport()
    let recorder = Recorder()

    func server(_ topic: String, _ name: String) -> Server {
        Server(topic: topic, server: name, endpoint: TestEndpoint(server: name, recorder: recorder))
    }

    @Test func castToATopicIsRoundRobinAcrossItsServers() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a"), server("cinder-scheduler", "b")]) {
            for n in 0..<6 {
                try await transport.cast(message("work", n), to: RPCTarget(topic: "cinder-scheduler"))
            }
            let deliveries = await recorder.wait(for: 6)
            #expect(deliveries.count == 6)
            #expect(recorder.count(server: "a") == 3)
            #expect(recorder.count(server: "b") == 3)
            // Each message went to exactly one server.
            #expect(deliveries.map(\.n).sorted() == Array(0..<6))
        }
    }

    @Test func roundRobinCoversThreeServers() async throws {
        let servers = ["a", "b", "c"].map { server("cinder-scheduler", $0) }
        try await withServers(transport, servers) {
            for n in 0..<9 {
                try await transport.cast(message("work", n), to: .scheduler)
            }
            await recorder.wait(for: 9)
            #expect(["a", "b", "c"].map { recorder.count(server: $0) } == [3, 3, 3])
        }
    }

    @Test func castToTopicDotServerReachesOnlyThatServer() async throws {
        try await withServers(transport, [server("cinder-volume.node1@lvm", "a"), server("cinder-volume.node1@lvm", "b")]) {
            for n in 0..<4 {
                try await transport.cast(message("work", n), to: RPCTarget(topic: "cinder-volume.node1@lvm", server: "b"))
            }
            await recorder.wait(for: 4)
            try await Task.sleep(for: .milliseconds(50))
            #expect(recorder.count(server: "b") == 4)
            #expect(recorder.count(server: "a") == 0)
        }
    }

    @Test func castsDoNotCrossTopics() async throws {
        try await withServers(transport, [server("topic-a", "x"), server("topic-b", "y")]) {
            try await transport.cast(message("work", 1), to: RPCTarget(topic: "topic-b"))
            try await transport.cast(message("work", 2), to: RPCTarget(topic: "topic-b", server: "y"))
            try await transport.cast(message("work", 3), to: RPCTarget(topic: "topic-a", server: "y"))
            await recorder.wait(for: 2)
            try await Task.sleep(for: .milliseconds(50))
            #expect(recorder.all.sorted { $0.n < $1.n } == [
                Delivery(server: "y", method: "work", n: 1), Delivery(server: "y", method: "work", n: 2),
            ])
        }
    }

    @Test func fanoutReachesEveryServerOfTheTopic() async throws {
        let servers = [server("cinder-scheduler", "a"), server("cinder-scheduler", "b"), server("cinder-volume", "c")]
        try await withServers(transport, servers) {
            try await transport.fanout(message("update", 7), topic: "cinder-scheduler")
            await recorder.wait(for: 2)
            try await Task.sleep(for: .milliseconds(50))
            #expect(recorder.all.map(\.server).sorted() == ["a", "b"])
            #expect(recorder.all.allSatisfy { $0.method == "update" && $0.n == 7 })
        }
    }

    @Test func fanoutWithNobodyListeningIsDropped() async throws {
        try await transport.fanout(message("update"), topic: "cinder-scheduler")
        try await withServers(transport, [server("cinder-scheduler", "late")]) {
            try await Task.sleep(for: .milliseconds(50))
            #expect(recorder.all.isEmpty)
        }
    }

    @Test func castsSentBeforeAnyConsumerAreDeliveredWhenOneStarts() async throws {
        try await transport.cast(message("early", 1), to: RPCTarget(topic: "cinder-volume.node1@lvm"))
        try await transport.cast(message("early", 2), to: RPCTarget(topic: "cinder-volume.node1@lvm", server: "node1"))
        #expect(recorder.all.isEmpty)
        let task = Task {
            try await transport.serve(
                topic: "cinder-volume.node1@lvm", server: "node1",
                endpoint: TestEndpoint(server: "node1", recorder: recorder))
        }
        defer { task.cancel() }
        let deliveries = await recorder.wait(for: 2)
        #expect(deliveries.map(\.n).sorted() == [1, 2])
        #expect(deliveries.allSatisfy { $0.server == "node1" })
        task.cancel()
        #expect(await finishes(task, within: .seconds(30)))
    }

    @Test func callReturnsTheEndpointsReply() async throws {
        try await withServers(transport, [server("cinder-volume.node1@lvm", "node1")]) {
            let target = RPCTarget.volume(host: "node1@lvm#pool")
            let echoed = try await transport.call(message("echo", 42), to: target, timeout: .seconds(5))
            let reply = try #require(echoed)
            #expect(try JSONDecoder().decode([String: Int].self, from: reply) == ["n": 42])
            let other = try await transport.call(message("other", 1), to: target, timeout: .seconds(5))
            #expect(other == Data(#"{"handled_by":"node1"}"#.utf8))
        }
    }

    @Test func callWithANilReplyReturnsNil() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a")]) {
            let reply = try await transport.call(message("nothing"), to: .scheduler, timeout: .seconds(5))
            #expect(reply == nil)
            #expect(recorder.all.map(\.method) == ["nothing"])
        }
    }

    @Test func callToATopicIsServedByOneServer() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a"), server("cinder-scheduler", "b")]) {
            var handlers: [String] = []
            for n in 0..<4 {
                let reply = try #require(try await transport.call(message("other", n), to: .scheduler, timeout: .seconds(5)))
                handlers.append(try JSONDecoder().decode([String: String].self, from: reply)["handled_by"] ?? "")
            }
            #expect(handlers.sorted() == ["a", "a", "b", "b"])
            #expect(recorder.all.count == 4)
        }
    }

    @Test func anAshlarErrorTravelsBackWithItsCodeAndMessage() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a")]) {
            let error = await #expect(throws: AshlarError.self) {
                try await transport.call(message("fail", 9), to: .scheduler, timeout: .seconds(5))
            }
            #expect(error?.code == .notFound)
            #expect(error?.message == "Volume vol-9 could not be found.")
        }
    }

    @Test func anyOtherErrorBecomesAnInternalError() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a")]) {
            let error = await #expect(throws: AshlarError.self) {
                try await transport.call(message("crash"), to: .scheduler, timeout: .seconds(5))
            }
            #expect(error?.code == .internalError)
            #expect(error?.message.contains("crash") == true)
        }
    }

    @Test func aFailingCastDoesNotStopTheServer() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a")]) {
            try await transport.cast(message("crash", 1), to: .scheduler)
            try await transport.cast(message("fail", 2), to: .scheduler)
            let reply = try await transport.call(message("echo", 3), to: .scheduler, timeout: .seconds(5))
            #expect(reply != nil)
            await recorder.wait(for: 3)
            #expect(recorder.all.map(\.n).sorted() == [1, 2, 3])
        }
    }

    @Test func callWithNoConsumerTimesOutAsUnavailable() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: AshlarError.self) {
            try await transport.call(
                message("echo"), to: RPCTarget(topic: "cinder-volume.nowhere@lvm", server: "nowhere"),
                timeout: .milliseconds(100))
        }
        let elapsed = clock.now - start
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("echo") == true)
        #expect(elapsed >= .milliseconds(100))
        #expect(elapsed < .seconds(30))
    }

    @Test func callToASlowEndpointTimesOutAsUnavailable() async throws {
        try await withServers(transport, [server("cinder-scheduler", "a")]) {
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: AshlarError.self) {
                try await transport.call(message("slow"), to: .scheduler, timeout: .milliseconds(100))
            }
            #expect(error?.code == .unavailable)
            #expect(clock.now - start < .seconds(30))
            // The server is still there for the next call.
            let next = try await transport.call(message("nothing"), to: .scheduler, timeout: .seconds(5))
            #expect(next == nil)
        }
    }

    @Test func cancellingServeStopsDelivery() async throws {
        let target = RPCTarget(topic: "cinder-scheduler", server: "a")
        let task = Task {
            try await transport.serve(
                topic: "cinder-scheduler", server: "a", endpoint: TestEndpoint(server: "a", recorder: recorder))
        }
        defer { task.cancel() }
        #expect(try await transport.call(message("ping"), to: target, timeout: .seconds(5)) != nil)
        try await transport.cast(message("work", 1), to: target)
        await recorder.wait(for: 1)
        #expect(recorder.all.count == 1)

        task.cancel()
        #expect(await finishes(task, within: .seconds(30)), "serve did not return after cancellation")

        try await transport.cast(message("work", 2), to: target)
        try await transport.cast(message("work", 3), to: .scheduler)
        try await transport.fanout(message("work", 4), topic: "cinder-scheduler")
        try await Task.sleep(for: .milliseconds(100))
        #expect(recorder.all.map(\.n) == [1])
        let error = await #expect(throws: AshlarError.self) {
            try await transport.call(message("echo", 5), to: target, timeout: .milliseconds(100))
        }
        #expect(error?.code == .unavailable)
    }

    @Test func aStoppedServerLeavesTheRoundRobinToTheOthers() async throws {
        let stopping = Task {
            try await transport.serve(
                topic: "cinder-scheduler", server: "gone", endpoint: TestEndpoint(server: "gone", recorder: recorder))
        }
        defer { stopping.cancel() }
        _ = try await transport.call(
            message("ping"), to: RPCTarget(topic: "cinder-scheduler", server: "gone"), timeout: .seconds(5))
        try await withServers(transport, [server("cinder-scheduler", "stays")]) {
            stopping.cancel()
            #expect(await finishes(stopping, within: .seconds(5)))
            for n in 0..<4 {
                try await transport.cast(message("work", n), to: .scheduler)
            }
            await recorder.wait(for: 4)
            #expect(recorder.count(server: "stays") == 4)
            #expect(recorder.count(server: "gone") == 0)
        }
    }

    @Test func messagesArriveAsSent() async throws {
        let seen = Locked<[RPCMessage]>([])
        struct Capture: RPCEndpoint {
            let seen: @Sendable (RPCMessage) -> Void
            func handle(_ message: RPCMessage) async throws -> Data? {
                if message.method == "ping" { return Data("true".utf8) }
                seen(message)
                return nil
            }
        }
        let context = CallerContext(requestID: "req-abc", userID: "u", projectID: "p", isAdmin: true)
        let sent = try RPCMessage(method: "create_volume", version: "3.7", context: context, arguments: ["n": 5])
        let endpoint = Capture { message in seen.update { $0.append(message) } }
        try await withServers(transport, [Server(topic: "cinder-scheduler", server: "a", endpoint: endpoint)]) {
            _ = try await transport.call(sent, to: .scheduler, timeout: .seconds(5))
        }
        let received = try #require(seen.value.first { $0.method == "create_volume" })
        #expect(received.version == "3.7")
        #expect(received.context == context)
        #expect(received.args == sent.args)
    }

    /// A timeout that fires before the call has parked its continuation must still end the call: the reply
    /// slot forgets the timeout, the continuation is parked afterwards and nothing ever resumes it.
    @Test func callsWithATinyTimeoutAllEnd() async throws {
        let target = RPCTarget(topic: "cinder-volume.nobody@lvm", server: "nobody")
        let finished = Locked(0)
        let unavailable = Locked(0)
        let count = 200
        var tasks: [Task<Void, Never>] = []
        for n in 0..<count {
            tasks.append(
                Task {
                    do {
                        _ = try await transport.call(message("echo", n), to: target, timeout: .zero)
                    } catch let error as AshlarError where error.code == .unavailable {
                        unavailable.update { $0 += 1 }
                    } catch {}
                    finished.update { $0 += 1 }
                })
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(30))
        while clock.now < deadline, finished.value < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        let endedInTime = finished.value
        #expect(endedInTime == count)
        #expect(unavailable.value == count)
        // Release any call still parked: a consumer answers the queued messages, so every task ends.
        try await withServers(transport, [server("cinder-volume.nobody@lvm", "nobody")]) {
            let deadline = clock.now.advanced(by: .seconds(30))
            while clock.now < deadline, finished.value < count {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(finished.value == count)
        for task in tasks { task.cancel() }
    }
}
