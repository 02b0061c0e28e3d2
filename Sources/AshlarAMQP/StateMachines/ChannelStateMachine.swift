import NIOCore

/// The protocol logic of one AMQP channel, without I/O: frames in, actions out.
///
/// Synchronous requests are sent one at a time and paired with their replies in order (the protocol forbids a
/// second request before the first is answered); content (method, header, body frames) is assembled into
/// deliveries, returns and basic.get results; publisher confirm tags are counted from confirm.select-ok.
struct ChannelStateMachine {
    enum State: Equatable {
        /// channel.open sent.
        case opening
        case open
        /// channel.close sent, waiting for close-ok; everything else is discarded, as the spec says.
        case closing
        case closed
    }

    /// What a completed request produced.
    enum Response: Sendable, Equatable {
        case method(AMQPMethod)
        /// basic.get-ok with its content.
        case message(AMQPDeliveryBox)
    }

    enum Action: Sendable, Equatable {
        case send([AMQPFrame])
        /// channel.open-ok: the channel is usable.
        case opened
        /// The oldest outstanding request was answered.
        case succeedRequest(Response)
        case deliver(AMQPDeliveryBox)
        case returned(AMQPReturnedBox)
        /// Publisher confirms: these tags were acked (or nacked).
        case confirm(tags: [UInt64], ack: Bool)
        /// The broker cancelled this consumer.
        case consumerCancelled(String)
        /// The channel is gone: fail outstanding requests and confirms, end consumers. nil error = a clean client
        /// close.
        case closed(AMQPError?)
        /// The peer broke the protocol badly enough that the whole connection must go.
        case closeConnection(AMQPError)
    }

    private enum Content {
        case none
        case awaitingHeader(AMQPMethod)
        case awaitingBody(AMQPMethod, AMQPContentHeader, ByteBuffer)
    }

    let id: UInt16
    var frameMax: UInt32
    private(set) var state: State = .opening
    /// Requests not yet answered; the first one is on the wire.
    private var requests = CircularBuffer<AMQPMethod>()
    private var content = Content.none
    private(set) var confirmMode = false
    private var nextPublishTag: UInt64 = 1
    /// Published and not yet confirmed, ascending.
    private var unconfirmed = CircularBuffer<UInt64>()

    init(id: UInt16, frameMax: UInt32) {
        self.id = id
        self.frameMax = frameMax
    }

    /// Opens the channel: the first action.
    mutating func open() -> [Action] {
        [.send([.method(id, .channelOpen)])]
    }

    /// A synchronous request from the client. It is sent now or when the ones before it are answered.
    mutating func request(_ method: AMQPMethod) -> [Action] {
        requests.append(method)
        return requests.count == 1 && state == .open ? [.send([.method(id, method)])] : []
    }

    /// An asynchronous method (ack, nack, reject) from the client.
    mutating func send(_ method: AMQPMethod) -> [Action] {
        state == .open ? [.send([.method(id, method)])] : []
    }

    /// A publish; returns its confirm tag on a confirm channel.
    mutating func publish(
        exchange: String, routingKey: String, mandatory: Bool, properties: AMQPBasicProperties, body: ByteBuffer
    ) -> (actions: [Action], confirmTag: UInt64?) {
        let frames = AMQPFrame.content(
            channel: id,
            method: .basicPublish(exchange: exchange, routingKey: routingKey, mandatory: mandatory, immediate: false),
            properties: properties, body: body, frameMax: frameMax)
        var tag: UInt64? = nil
        if confirmMode {
            tag = nextPublishTag
            unconfirmed.append(nextPublishTag)
            nextPublishTag += 1
        }
        return ([.send(frames)], tag)
    }

    /// The client closes the channel.
    mutating func close() -> [Action] {
        switch state {
        case .opening, .open:
            state = .closing
            return [.send([.method(id, .channelClose(replyCode: 200, replyText: "OK", classID: 0, methodID: 0))])]
        case .closing, .closed:
            return []
        }
    }

    /// The connection went away under the channel.
    mutating func connectionClosed(_ error: AMQPError) -> [Action] {
        guard state != .closed else { return [] }
        state = .closed
        return [.closed(error)]
    }

    mutating func frameReceived(_ frame: AMQPFrame) -> [Action] {
        switch state {
        case .closed:
            return []
        case .closing:
            // Only the close handshake matters now.
            guard case .method(let method) = frame.payload else { return [] }
            switch method {
            case .channelCloseOk:
                state = .closed
                return [.closed(nil)]
            case .channelClose(let code, let text, let classID, let methodID):
                state = .closed
                return [
                    .send([.method(id, .channelCloseOk)]),
                    .closed(
                        .closedByServer(
                            .channelClosed, replyCode: code, replyText: text, classID: classID, methodID: methodID)),
                ]
            default:
                return []
            }
        case .opening, .open:
            break
        }

        switch (content, frame.payload) {
        case (.none, .method(let method)):
            return methodReceived(method)
        case (.awaitingHeader(let method), .header(let header)):
            if header.bodySize == 0 { return contentComplete(method, header, ByteBuffer()) }
            content = .awaitingBody(method, header, ByteBuffer())
            return []
        case (.awaitingBody(let method, let header, var body), .body(var chunk)):
            body.writeBuffer(&chunk)
            if body.readableBytes > header.bodySize {
                return fail(.protocolViolation("body longer than its header's \(header.bodySize) bytes"))
            }
            if body.readableBytes == header.bodySize { return contentComplete(method, header, body) }
            content = .awaitingBody(method, header, body)
            return []
        case (.none, _):
            return fail(.protocolViolation("content frame without a method on channel \(id)"))
        case (.awaitingHeader, _), (.awaitingBody, _):
            return fail(.protocolViolation("unexpected frame inside content on channel \(id)"))
        }
    }

    private mutating func fail(_ error: AMQPError) -> [Action] {
        state = .closed
        return [.closeConnection(error)]
    }

    private mutating func methodReceived(_ method: AMQPMethod) -> [Action] {
        if method.hasContent {
            content = .awaitingHeader(method)
            return []
        }
        switch method {
        case .channelOpenOk where state == .opening:
            state = .open
            // Requests made while opening go out now.
            return [.opened] + (requests.first.map { [.send([.method(id, $0)])] } ?? [])
        case .channelClose(let code, let text, let classID, let methodID):
            state = .closed
            return [
                .send([.method(id, .channelCloseOk)]),
                .closed(
                    .closedByServer(
                        .channelClosed, replyCode: code, replyText: text, classID: classID, methodID: methodID)),
            ]
        case .channelFlow(let active):
            return [.send([.method(id, .channelFlowOk(active: active))])]
        case .basicAck(let tag, let multiple):
            return [.confirm(tags: settle(tag, multiple: multiple), ack: true)]
        case .basicNack(let tag, let multiple, _):
            return [.confirm(tags: settle(tag, multiple: multiple), ack: false)]
        case .basicCancel(let tag, let noWait):
            // consumer_cancel_notify: the broker cancelled the consumer.
            var actions: [Action] = [.consumerCancelled(tag)]
            if !noWait { actions.insert(.send([.method(id, .basicCancelOk(consumerTag: tag))]), at: 0) }
            return actions
        default:
            guard state == .open, let request = requests.first, request.accepts(method) else {
                return fail(.protocolViolation("unexpected \(method) on channel \(id)"))
            }
            if case .confirmSelectOk = method { confirmMode = true }
            return completeRequest(.method(method))
        }
    }

    private mutating func completeRequest(_ response: Response) -> [Action] {
        requests.removeFirst()
        var actions: [Action] = [.succeedRequest(response)]
        if let next = requests.first { actions.append(.send([.method(id, next)])) }
        return actions
    }

    private mutating func contentComplete(
        _ method: AMQPMethod, _ header: AMQPContentHeader, _ body: ByteBuffer
    )
        -> [Action]
    {
        content = .none
        switch method {
        case .basicDeliver(let consumerTag, let deliveryTag, let redelivered, let exchange, let routingKey):
            return [
                .deliver(
                    AMQPDeliveryBox(
                        AMQPDelivery(
                            body: body, properties: header.properties, deliveryTag: deliveryTag,
                            redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                            consumerTag: consumerTag)))
            ]
        case .basicGetOk(let deliveryTag, let redelivered, let exchange, let routingKey, let messageCount):
            guard let request = requests.first, request.accepts(method) else {
                return fail(.protocolViolation("basic.get-ok without basic.get on channel \(id)"))
            }
            return completeRequest(
                .message(
                    AMQPDeliveryBox(
                        AMQPDelivery(
                            body: body, properties: header.properties, deliveryTag: deliveryTag,
                            redelivered: redelivered, exchange: exchange, routingKey: routingKey, consumerTag: "",
                            messageCount: messageCount))))
        case .basicReturn(let code, let text, let exchange, let routingKey):
            return [
                .returned(
                    AMQPReturnedBox(
                        AMQPReturnedMessage(
                            replyCode: code, replyText: text, exchange: exchange, routingKey: routingKey, body: body,
                            properties: header.properties)))
            ]
        default:
            return fail(.protocolViolation("content after \(method)"))
        }
    }

    /// Removes and returns the unconfirmed tags an ack/nack covers.
    private mutating func settle(_ tag: UInt64, multiple: Bool) -> [UInt64] {
        if multiple {
            var settled: [UInt64] = []
            // Tag 0 with multiple means everything outstanding.
            while let first = unconfirmed.first, tag == 0 || first <= tag {
                settled.append(unconfirmed.removeFirst())
            }
            return settled
        }
        guard let index = unconfirmed.firstIndex(of: tag) else { return [] }
        unconfirmed.remove(at: index)
        return [tag]
    }
}
