import NIOCore
import Testing

@testable import AshlarAMQP

@Suite struct ConnectionStateMachineTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine(heartbeat: UInt16 = 60) -> ConnectionStateMachine {
        ConnectionStateMachine(
            configuration: .init(
                user: "guest", password: "secret", virtualHost: "/", heartbeat: heartbeat, connectionName: "test"))
    }

    static let start = AMQPFrame.method(
        0,
        .connectionStart(
            versionMajor: 0, versionMinor: 9, serverProperties: [:], mechanisms: "AMQPLAIN PLAIN", locales: "en_US"))

    /// Runs the handshake against a broker proposing this tune.
    func handshake(
        _ m: inout ConnectionStateMachine, channelMax: UInt16 = 2047, frameMax: UInt32 = 131_072, heartbeat: UInt16 = 60
    ) -> [ConnectionStateMachine.Action] {
        _ = m.connected(now: t0)
        _ = m.frameReceived(Self.start, now: t0)
        let tune = m.frameReceived(
            .method(0, .connectionTune(channelMax: channelMax, frameMax: frameMax, heartbeat: heartbeat)), now: t0)
        let open = m.frameReceived(.method(0, .connectionOpenOk), now: t0)
        return tune + open
    }

    @Test func handshakeSendsHeaderStartOkTuneOkOpen() throws {
        var m = machine()
        #expect(m.connected(now: t0) == [.sendProtocolHeader])
        let startOk = m.frameReceived(Self.start, now: t0)
        guard case .send(let frames) = startOk.first,
            case .method(.connectionStartOk(let props, let mech, let response, _)) = frames.first?.payload
        else {
            Issue.record("no start-ok: \(startOk)")
            return
        }
        #expect(mech == "PLAIN")
        #expect(response == "\0guest\0secret")
        #expect(props["connection_name"] == "test")
        guard case .table(let caps)? = props["capabilities"] else { Issue.record("no capabilities"); return }
        for cap in [
            "publisher_confirms", "consumer_cancel_notify", "connection.blocked", "basic.nack",
            "authentication_failure_close",
        ] {
            #expect(caps[cap] == .bool(true), "\(cap)")
        }
        let tune = m.frameReceived(.method(0, .connectionTune(channelMax: 0, frameMax: 65536, heartbeat: 30)), now: t0)
        let negotiated = ConnectionStateMachine.Negotiated(channelMax: 2047, frameMax: 65536, heartbeat: 30)
        #expect(
            tune == [
                .send([
                    .method(0, .connectionTuneOk(channelMax: 2047, frameMax: 65536, heartbeat: 30)),
                    .method(0, .connectionOpen(virtualHost: "/")),
                ])
            ])
        #expect(m.frameReceived(.method(0, .connectionOpenOk), now: t0) == [.connected(negotiated)])
        #expect(m.state == .open(negotiated))
    }

    @Test func heartbeatIsTheLowerNonZero() {
        var a = machine(heartbeat: 10)
        #expect(
            handshake(&a, heartbeat: 60).last == .connected(.init(channelMax: 2047, frameMax: 131_072, heartbeat: 10)))
        var b = machine(heartbeat: 0)
        #expect(
            handshake(&b, heartbeat: 60).last == .connected(.init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)))
        var c = machine(heartbeat: 10)
        #expect(
            handshake(&c, heartbeat: 0).last == .connected(.init(channelMax: 2047, frameMax: 131_072, heartbeat: 10)))
    }

    @Test func refusedCredentialsAreAnAuthenticationError() {
        var m = machine()
        _ = m.connected(now: t0)
        _ = m.frameReceived(Self.start, now: t0)
        let actions = m.frameReceived(
            .method(0, .connectionClose(replyCode: 403, replyText: "ACCESS_REFUSED", classID: 10, methodID: 11)),
            now: t0)
        #expect(actions.count == 2)
        #expect(actions.first == .send([.method(0, .connectionCloseOk)]))
        guard case .closeConnection(let error?) = actions.last else { Issue.record("\(actions)"); return }
        #expect(error.code == .authenticationFailed)
        #expect(error.replyCode == 403)
        // A socket dropped right after start-ok is also reported, not hung on.
        var dropped = machine()
        _ = dropped.connected(now: t0)
        _ = dropped.frameReceived(Self.start, now: t0)
        guard case .closeConnection(let e?) = dropped.connectionLost(AMQPError(.connectionClosed)).first else {
            Issue.record("no close"); return
        }
        #expect(e.code == .connectionClosed)
    }

    @Test func brokerCloseIsAnsweredAndReported() {
        var m = machine()
        _ = handshake(&m)
        let actions = m.frameReceived(
            .method(0, .connectionClose(replyCode: 320, replyText: "CONNECTION_FORCED", classID: 0, methodID: 0)),
            now: t0)
        #expect(
            actions == [
                .send([.method(0, .connectionCloseOk)]),
                .closeConnection(AMQPError(.connectionClosed, replyCode: 320, replyText: "CONNECTION_FORCED")),
            ])
        #expect(m.state == .closed)
    }

    @Test func clientCloseWaitsForCloseOk() {
        var m = machine()
        _ = handshake(&m)
        #expect(
            m.close() == [
                .send([.method(0, .connectionClose(replyCode: 200, replyText: "OK", classID: 0, methodID: 0))])
            ])
        // Frames for channels are dropped while closing.
        #expect(m.frameReceived(.method(1, .basicQosOk), now: t0) == [])
        #expect(m.frameReceived(.method(0, .connectionCloseOk), now: t0) == [.closeConnection(nil)])
    }

    @Test func blockedAndUnblocked() {
        var m = machine()
        _ = handshake(&m)
        #expect(
            m.frameReceived(.method(0, .connectionBlocked(reason: "low on memory")), now: t0) == [
                .blocked(reason: "low on memory")
            ])
        #expect(m.frameReceived(.method(0, .connectionUnblocked), now: t0) == [.unblocked])
    }

    @Test func channelFramesAreForwardedOnlyWhenOpen() {
        var m = machine()
        _ = m.connected(now: t0)
        guard case .closeConnection(let e?) = m.frameReceived(.method(1, .channelOpenOk), now: t0).first else {
            Issue.record("accepted"); return
        }
        #expect(e.code == .protocolViolation)
        var open = machine()
        _ = handshake(&open)
        #expect(open.frameReceived(.method(1, .channelOpenOk), now: t0) == [.forward(.method(1, .channelOpenOk))])
    }

    @Test func heartbeatsGoOutAfterHalfAnIntervalOfSilence() {
        var m = machine(heartbeat: 10)
        _ = handshake(&m, heartbeat: 10)
        #expect(m.tick(now: t0 + .seconds(4)) == [])
        #expect(m.tick(now: t0 + .seconds(5)) == [.send([.heartbeat])])
        // Just sent: not again until another half interval.
        #expect(m.tick(now: t0 + .seconds(7)) == [])
        m.frameSent(now: t0 + .seconds(9))
        #expect(m.tick(now: t0 + .seconds(13)) == [])
        #expect(m.tick(now: t0 + .seconds(14)) == [.send([.heartbeat])])
    }

    @Test func silenceForTwoIntervalsKillsTheConnection() {
        var m = machine(heartbeat: 10)
        _ = handshake(&m, heartbeat: 10)
        _ = m.frameReceived(.heartbeat, now: t0 + .seconds(15))
        #expect(m.tick(now: t0 + .seconds(35)) == [.send([.heartbeat])])
        guard case .closeConnection(let error?) = m.tick(now: t0 + .seconds(36)).first else {
            Issue.record("still alive"); return
        }
        #expect(error.code == .heartbeatTimeout)
        #expect(m.tick(now: t0 + .seconds(60)) == [])
    }

    @Test func noHeartbeatsWhenDisabled() {
        var m = machine(heartbeat: 0)
        _ = handshake(&m, heartbeat: 0)
        #expect(m.tick(now: t0 + .seconds(3600)) == [])
    }
}
