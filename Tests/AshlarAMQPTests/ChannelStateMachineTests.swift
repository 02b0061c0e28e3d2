import NIOCore
import Testing

@testable import AshlarAMQP

@Suite struct ChannelStateMachineTests {
    func openChannel(frameMax: UInt32 = 131_072) -> ChannelStateMachine {
        var m = ChannelStateMachine(id: 1, frameMax: frameMax)
        _ = m.open()
        _ = m.frameReceived(.method(1, .channelOpenOk))
        return m
    }

    let declare = AMQPMethod.queueDeclare(
        queue: "q", passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: [:])
    let bind = AMQPMethod.queueBind(queue: "q", exchange: "e", routingKey: "k", noWait: false, arguments: [:])

    @Test func opensAndSendsRequestsMadeWhileOpening() {
        var m = ChannelStateMachine(id: 1, frameMax: 4096)
        #expect(m.open() == [.send([.method(1, .channelOpen)])])
        #expect(m.request(declare) == [])
        #expect(m.frameReceived(.method(1, .channelOpenOk)) == [.opened, .send([.method(1, declare)])])
    }

    @Test func requestsGoOutOneAtATimeAndPairInOrder() {
        var m = openChannel()
        #expect(m.request(declare) == [.send([.method(1, declare)])])
        #expect(m.request(bind) == [])
        let ok = AMQPMethod.queueDeclareOk(queue: "q", messageCount: 0, consumerCount: 0)
        #expect(m.frameReceived(.method(1, ok)) == [.succeedRequest(.method(ok)), .send([.method(1, bind)])])
        #expect(m.frameReceived(.method(1, .queueBindOk)) == [.succeedRequest(.method(.queueBindOk))])
    }

    @Test func aReplyToNothingIsAProtocolViolation() {
        var m = openChannel()
        _ = m.request(declare)
        guard case .closeConnection(let error) = m.frameReceived(.method(1, .queueBindOk)).first else {
            Issue.record("accepted"); return
        }
        #expect(error.code == .protocolViolation)
    }

    @Test func deliveriesAreAssembledFromHeaderAndBodyFrames() {
        var m = openChannel()
        #expect(
            m.frameReceived(
                .method(
                    1,
                    .basicDeliver(consumerTag: "c", deliveryTag: 5, redelivered: true, exchange: "e", routingKey: "k")))
                == [])
        let properties = AMQPBasicProperties(contentType: "text/plain", correlationID: "id")
        #expect(
            m.frameReceived(AMQPFrame(channel: 1, payload: .header(.init(bodySize: 6, properties: properties)))) == [])
        #expect(m.frameReceived(AMQPFrame(channel: 1, payload: .body(ByteBuffer(string: "hel")))) == [])
        let actions = m.frameReceived(AMQPFrame(channel: 1, payload: .body(ByteBuffer(string: "lo!"))))
        let expected = AMQPDelivery(
            body: ByteBuffer(string: "hello!"), properties: properties, deliveryTag: 5, redelivered: true,
            exchange: "e", routingKey: "k", consumerTag: "c")
        #expect(actions == [.deliver(AMQPDeliveryBox(expected))])
    }

    @Test func emptyBodiesCompleteAtTheHeader() {
        var m = openChannel()
        _ = m.frameReceived(
            .method(
                1, .basicDeliver(consumerTag: "c", deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q")))
        let actions = m.frameReceived(AMQPFrame(channel: 1, payload: .header(.init(bodySize: 0, properties: .init()))))
        guard case .deliver(let box) = actions.first else { Issue.record("\(actions)"); return }
        #expect(box.delivery.body.readableBytes == 0)
    }

    @Test func aMethodInsideContentIsAProtocolViolation() {
        var m = openChannel()
        _ = m.frameReceived(
            .method(
                1, .basicDeliver(consumerTag: "c", deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q")))
        guard case .closeConnection(let error) = m.frameReceived(.method(1, .basicQosOk)).first else {
            Issue.record("accepted"); return
        }
        #expect(error.code == .protocolViolation)
    }

    @Test func basicGetOkAndGetEmptyAnswerTheGet() {
        var m = openChannel()
        _ = m.request(.basicGet(queue: "q", noAck: false))
        _ = m.frameReceived(
            .method(1, .basicGetOk(deliveryTag: 9, redelivered: false, exchange: "", routingKey: "q", messageCount: 2)))
        let actions =
            m.frameReceived(AMQPFrame(channel: 1, payload: .header(.init(bodySize: 1, properties: .init()))))
            + m.frameReceived(AMQPFrame(channel: 1, payload: .body(ByteBuffer(string: "x"))))
        guard case .succeedRequest(.message(let box)) = actions.first else { Issue.record("\(actions)"); return }
        #expect(box.delivery.deliveryTag == 9)
        #expect(box.delivery.messageCount == 2)
        _ = m.request(.basicGet(queue: "q", noAck: false))
        #expect(m.frameReceived(.method(1, .basicGetEmpty)) == [.succeedRequest(.method(.basicGetEmpty))])
    }

    @Test func returnsAreAssembled() {
        var m = openChannel()
        _ = m.frameReceived(
            .method(1, .basicReturn(replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: "nowhere")))
        _ = m.frameReceived(AMQPFrame(channel: 1, payload: .header(.init(bodySize: 2, properties: .init()))))
        let actions = m.frameReceived(AMQPFrame(channel: 1, payload: .body(ByteBuffer(string: "hi"))))
        guard case .returned(let box) = actions.first else { Issue.record("\(actions)"); return }
        #expect(box.message.replyCode == 312)
        #expect(box.message.routingKey == "nowhere")
    }

    @Test func publishesAreSplitAtFrameMax() {
        var m = openChannel(frameMax: 4096)
        let (actions, tag) = m.publish(
            exchange: "", routingKey: "q", mandatory: false, properties: .init(),
            body: ByteBuffer(repeating: 1, count: 5000))
        #expect(tag == nil)
        guard case .send(let frames) = actions.first else { Issue.record("\(actions)"); return }
        #expect(frames.count == 4)
    }

    @Test func confirmTagsCountFromSelectOkAndSettleSinglyOrMultiply() {
        var m = openChannel()
        _ = m.request(.confirmSelect(noWait: false))
        #expect(m.frameReceived(.method(1, .confirmSelectOk)) == [.succeedRequest(.method(.confirmSelectOk))])
        let tags = (0..<5).map { _ in
            m.publish(exchange: "", routingKey: "q", mandatory: false, properties: .init(), body: ByteBuffer())
                .confirmTag
        }
        #expect(tags == [1, 2, 3, 4, 5])
        #expect(
            m.frameReceived(.method(1, .basicAck(deliveryTag: 2, multiple: false))) == [.confirm(tags: [2], ack: true)])
        #expect(
            m.frameReceived(.method(1, .basicAck(deliveryTag: 3, multiple: true))) == [
                .confirm(tags: [1, 3], ack: true)
            ])
        #expect(
            m.frameReceived(.method(1, .basicNack(deliveryTag: 4, multiple: false, requeue: false))) == [
                .confirm(tags: [4], ack: false)
            ])
        #expect(
            m.frameReceived(.method(1, .basicAck(deliveryTag: 0, multiple: true))) == [.confirm(tags: [5], ack: true)])
    }

    @Test func brokerCloseIsAnsweredWithCloseOkAndCarriesTheReplyCode() {
        var m = openChannel()
        _ = m.request(
            .exchangeDeclare(
                exchange: "e", type: "fanout", passive: false, durable: false, autoDelete: false, internal: false,
                noWait: false, arguments: [:]))
        let actions = m.frameReceived(
            .method(
                1,
                .channelClose(
                    replyCode: 406, replyText: "PRECONDITION_FAILED - inequivalent arg 'type'", classID: 40,
                    methodID: 10)))
        #expect(actions.first == .send([.method(1, .channelCloseOk)]))
        guard case .closed(let error?) = actions.last else { Issue.record("\(actions)"); return }
        #expect(error.code == .channelClosed)
        #expect(error.replyCode == 406)
        #expect(error.failingMethod?.classID == 40)
        #expect(m.state == .closed)
        #expect(m.frameReceived(.method(1, .basicQosOk)) == [])
    }

    @Test func clientCloseDiscardsEverythingButTheCloseHandshake() {
        var m = openChannel()
        #expect(
            m.close() == [.send([.method(1, .channelClose(replyCode: 200, replyText: "OK", classID: 0, methodID: 0))])])
        #expect(
            m.frameReceived(
                .method(
                    1,
                    .basicDeliver(consumerTag: "c", deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q")))
                == [])
        #expect(m.frameReceived(.method(1, .channelCloseOk)) == [.closed(nil)])
    }

    @Test func brokerCancelIsReportedAndAnswered() {
        var m = openChannel()
        #expect(
            m.frameReceived(.method(1, .basicCancel(consumerTag: "c", noWait: false))) == [
                .send([.method(1, .basicCancelOk(consumerTag: "c"))]), .consumerCancelled("c"),
            ])
        #expect(m.frameReceived(.method(1, .basicCancel(consumerTag: "d", noWait: true))) == [.consumerCancelled("d")])
    }

    @Test func flowIsAcknowledged() {
        var m = openChannel()
        #expect(
            m.frameReceived(.method(1, .channelFlow(active: false))) == [
                .send([.method(1, .channelFlowOk(active: false))])
            ])
    }
}
