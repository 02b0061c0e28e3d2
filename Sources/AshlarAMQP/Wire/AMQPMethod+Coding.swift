import NIOCore

extension AMQPMethod {
    /// Writes class id, method id and the arguments (a method frame's payload).
    func encode(into buffer: inout ByteBuffer) throws {
        let (classID, methodID) = ids
        buffer.writeInteger(classID)
        buffer.writeInteger(methodID)
        switch self {
        case .connectionStart(let major, let minor, let properties, let mechanisms, let locales):
            buffer.writeInteger(major)
            buffer.writeInteger(minor)
            try buffer.writeTable(properties)
            buffer.writeLongString(mechanisms)
            buffer.writeLongString(locales)
        case .connectionStartOk(let properties, let mechanism, let response, let locale):
            try buffer.writeTable(properties)
            try buffer.writeShortString(mechanism)
            buffer.writeLongString(response)
            try buffer.writeShortString(locale)
        case .connectionSecure(let text), .connectionSecureOk(let text):
            buffer.writeLongString(text)
        case .connectionTune(let channelMax, let frameMax, let heartbeat),
            .connectionTuneOk(let channelMax, let frameMax, let heartbeat):
            buffer.writeInteger(channelMax)
            buffer.writeInteger(frameMax)
            buffer.writeInteger(heartbeat)
        case .connectionOpen(let vhost):
            try buffer.writeShortString(vhost)
            try buffer.writeShortString("")
            buffer.writeBits(false)
        case .connectionOpenOk:
            try buffer.writeShortString("")
        case .connectionClose(let code, let text, let classID, let methodID),
            .channelClose(let code, let text, let classID, let methodID):
            buffer.writeInteger(code)
            try buffer.writeShortString(text)
            buffer.writeInteger(classID)
            buffer.writeInteger(methodID)
        case .connectionCloseOk, .connectionUnblocked, .channelCloseOk, .exchangeDeclareOk, .exchangeDeleteOk,
            .queueBindOk, .queueUnbindOk, .basicQosOk, .confirmSelectOk:
            break
        case .connectionBlocked(let reason):
            try buffer.writeShortString(reason)
        case .channelOpen:
            try buffer.writeShortString("")
        case .channelOpenOk:
            buffer.writeLongString("")
        case .channelFlow(let active), .channelFlowOk(let active):
            buffer.writeBits(active)
        case .exchangeDeclare(
            let exchange, let type, let passive, let durable, let autoDelete, let isInternal,
            let noWait, let arguments):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(type)
            buffer.writeBits(passive, durable, autoDelete, isInternal, noWait)
            try buffer.writeTable(arguments)
        case .exchangeDelete(let exchange, let ifUnused, let noWait):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(exchange)
            buffer.writeBits(ifUnused, noWait)
        case .queueDeclare(
            let queue, let passive, let durable, let exclusive, let autoDelete, let noWait,
            let arguments):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            buffer.writeBits(passive, durable, exclusive, autoDelete, noWait)
            try buffer.writeTable(arguments)
        case .queueDeclareOk(let queue, let messageCount, let consumerCount):
            try buffer.writeShortString(queue)
            buffer.writeInteger(messageCount)
            buffer.writeInteger(consumerCount)
        case .queueBind(let queue, let exchange, let routingKey, let noWait, let arguments):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(routingKey)
            buffer.writeBits(noWait)
            try buffer.writeTable(arguments)
        case .queueUnbind(let queue, let exchange, let routingKey, let arguments):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(routingKey)
            try buffer.writeTable(arguments)
        case .queuePurge(let queue, let noWait):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            buffer.writeBits(noWait)
        case .queuePurgeOk(let count), .queueDeleteOk(let count):
            buffer.writeInteger(count)
        case .queueDelete(let queue, let ifUnused, let ifEmpty, let noWait):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            buffer.writeBits(ifUnused, ifEmpty, noWait)
        case .basicQos(let prefetchSize, let prefetchCount, let global):
            buffer.writeInteger(prefetchSize)
            buffer.writeInteger(prefetchCount)
            buffer.writeBits(global)
        case .basicConsume(let queue, let tag, let noLocal, let noAck, let exclusive, let noWait, let arguments):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            try buffer.writeShortString(tag)
            buffer.writeBits(noLocal, noAck, exclusive, noWait)
            try buffer.writeTable(arguments)
        case .basicConsumeOk(let tag), .basicCancelOk(let tag):
            try buffer.writeShortString(tag)
        case .basicCancel(let tag, let noWait):
            try buffer.writeShortString(tag)
            buffer.writeBits(noWait)
        case .basicPublish(let exchange, let routingKey, let mandatory, let immediate):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(routingKey)
            buffer.writeBits(mandatory, immediate)
        case .basicReturn(let code, let text, let exchange, let routingKey):
            buffer.writeInteger(code)
            try buffer.writeShortString(text)
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(routingKey)
        case .basicDeliver(let tag, let deliveryTag, let redelivered, let exchange, let routingKey):
            try buffer.writeShortString(tag)
            buffer.writeInteger(deliveryTag)
            buffer.writeBits(redelivered)
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(routingKey)
        case .basicGet(let queue, let noAck):
            buffer.writeInteger(UInt16(0))
            try buffer.writeShortString(queue)
            buffer.writeBits(noAck)
        case .basicGetOk(let deliveryTag, let redelivered, let exchange, let routingKey, let messageCount):
            buffer.writeInteger(deliveryTag)
            buffer.writeBits(redelivered)
            try buffer.writeShortString(exchange)
            try buffer.writeShortString(routingKey)
            buffer.writeInteger(messageCount)
        case .basicGetEmpty:
            try buffer.writeShortString("")
        case .basicAck(let tag, let multiple):
            buffer.writeInteger(tag)
            buffer.writeBits(multiple)
        case .basicReject(let tag, let requeue):
            buffer.writeInteger(tag)
            buffer.writeBits(requeue)
        case .basicNack(let tag, let multiple, let requeue):
            buffer.writeInteger(tag)
            buffer.writeBits(multiple, requeue)
        case .confirmSelect(let noWait):
            buffer.writeBits(noWait)
        }
    }

    /// Reads a method frame's payload.
    static func decode(from buffer: inout ByteBuffer) throws -> AMQPMethod {
        let classID: UInt16 = try buffer.readAMQPInteger()
        let methodID: UInt16 = try buffer.readAMQPInteger()
        func short() throws -> String { try buffer.readShortString() }
        func long() throws -> String { try buffer.readLongString() }
        func table() throws -> AMQPTable { try buffer.readTable() }
        func bits(_ n: Int) throws -> [Bool] { try buffer.readBits(n) }
        func int<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T { try buffer.readAMQPInteger() }
        func skipReservedShort() throws { _ = try int(UInt16.self) }

        switch (classID, methodID) {
        case (10, 10):
            return .connectionStart(
                versionMajor: try int(), versionMinor: try int(), serverProperties: try table(),
                mechanisms: try long(), locales: try long())
        case (10, 11):
            return .connectionStartOk(
                clientProperties: try table(), mechanism: try short(), response: try long(), locale: try short())
        case (10, 20): return .connectionSecure(challenge: try long())
        case (10, 21): return .connectionSecureOk(response: try long())
        case (10, 30): return .connectionTune(channelMax: try int(), frameMax: try int(), heartbeat: try int())
        case (10, 31): return .connectionTuneOk(channelMax: try int(), frameMax: try int(), heartbeat: try int())
        case (10, 40):
            let vhost = try short()
            _ = try short()
            _ = try bits(1)
            return .connectionOpen(virtualHost: vhost)
        case (10, 41):
            _ = try short()
            return .connectionOpenOk
        case (10, 50):
            return .connectionClose(
                replyCode: try int(), replyText: try short(), classID: try int(), methodID: try int())
        case (10, 51): return .connectionCloseOk
        case (10, 60): return .connectionBlocked(reason: buffer.readableBytes > 0 ? try short() : "")
        case (10, 61): return .connectionUnblocked
        case (20, 10):
            _ = try short()
            return .channelOpen
        case (20, 11):
            _ = try long()
            return .channelOpenOk
        case (20, 20): return .channelFlow(active: try bits(1)[0])
        case (20, 21): return .channelFlowOk(active: try bits(1)[0])
        case (20, 40):
            return .channelClose(replyCode: try int(), replyText: try short(), classID: try int(), methodID: try int())
        case (20, 41): return .channelCloseOk
        case (40, 10):
            try skipReservedShort()
            let exchange = try short()
            let type = try short()
            let b = try bits(5)
            return .exchangeDeclare(
                exchange: exchange, type: type, passive: b[0], durable: b[1], autoDelete: b[2], internal: b[3],
                noWait: b[4], arguments: try table())
        case (40, 11): return .exchangeDeclareOk
        case (40, 20):
            try skipReservedShort()
            let exchange = try short()
            let b = try bits(2)
            return .exchangeDelete(exchange: exchange, ifUnused: b[0], noWait: b[1])
        case (40, 21): return .exchangeDeleteOk
        case (50, 10):
            try skipReservedShort()
            let queue = try short()
            let b = try bits(5)
            return .queueDeclare(
                queue: queue, passive: b[0], durable: b[1], exclusive: b[2], autoDelete: b[3], noWait: b[4],
                arguments: try table())
        case (50, 11): return .queueDeclareOk(queue: try short(), messageCount: try int(), consumerCount: try int())
        case (50, 20):
            try skipReservedShort()
            let queue = try short()
            let exchange = try short()
            let routingKey = try short()
            let b = try bits(1)
            return .queueBind(
                queue: queue, exchange: exchange, routingKey: routingKey, noWait: b[0], arguments: try table())
        case (50, 21): return .queueBindOk
        case (50, 30):
            try skipReservedShort()
            let queue = try short()
            return .queuePurge(queue: queue, noWait: try bits(1)[0])
        case (50, 31): return .queuePurgeOk(messageCount: try int())
        case (50, 40):
            try skipReservedShort()
            let queue = try short()
            let b = try bits(3)
            return .queueDelete(queue: queue, ifUnused: b[0], ifEmpty: b[1], noWait: b[2])
        case (50, 41): return .queueDeleteOk(messageCount: try int())
        case (50, 50):
            try skipReservedShort()
            return .queueUnbind(
                queue: try short(), exchange: try short(), routingKey: try short(), arguments: try table())
        case (50, 51): return .queueUnbindOk
        case (60, 10):
            return .basicQos(prefetchSize: try int(), prefetchCount: try int(), global: try bits(1)[0])
        case (60, 11): return .basicQosOk
        case (60, 20):
            try skipReservedShort()
            let queue = try short()
            let tag = try short()
            let b = try bits(4)
            return .basicConsume(
                queue: queue, consumerTag: tag, noLocal: b[0], noAck: b[1], exclusive: b[2], noWait: b[3],
                arguments: try table())
        case (60, 21): return .basicConsumeOk(consumerTag: try short())
        case (60, 30):
            let tag = try short()
            return .basicCancel(consumerTag: tag, noWait: try bits(1)[0])
        case (60, 31): return .basicCancelOk(consumerTag: try short())
        case (60, 40):
            try skipReservedShort()
            let exchange = try short()
            let routingKey = try short()
            let b = try bits(2)
            return .basicPublish(exchange: exchange, routingKey: routingKey, mandatory: b[0], immediate: b[1])
        case (60, 50):
            return .basicReturn(
                replyCode: try int(), replyText: try short(), exchange: try short(), routingKey: try short())
        case (60, 60):
            let tag = try short()
            let deliveryTag: UInt64 = try int()
            let redelivered = try bits(1)[0]
            return .basicDeliver(
                consumerTag: tag, deliveryTag: deliveryTag, redelivered: redelivered, exchange: try short(),
                routingKey: try short())
        case (60, 70):
            try skipReservedShort()
            let queue = try short()
            return .basicGet(queue: queue, noAck: try bits(1)[0])
        case (60, 71):
            let deliveryTag: UInt64 = try int()
            let redelivered = try bits(1)[0]
            return .basicGetOk(
                deliveryTag: deliveryTag, redelivered: redelivered, exchange: try short(), routingKey: try short(),
                messageCount: try int())
        case (60, 72):
            _ = try short()
            return .basicGetEmpty
        case (60, 80):
            let tag: UInt64 = try int()
            return .basicAck(deliveryTag: tag, multiple: try bits(1)[0])
        case (60, 90):
            let tag: UInt64 = try int()
            return .basicReject(deliveryTag: tag, requeue: try bits(1)[0])
        case (60, 120):
            let tag: UInt64 = try int()
            let b = try bits(2)
            return .basicNack(deliveryTag: tag, multiple: b[0], requeue: b[1])
        case (85, 10): return .confirmSelect(noWait: try bits(1)[0])
        case (85, 11): return .confirmSelectOk
        default:
            throw AMQPError.protocolViolation("unknown method \(classID).\(methodID)")
        }
    }
}
