/// Equatable wrappers so actions can be compared in tests (deliveries compare by their metadata and body).
struct AMQPDeliveryBox: Sendable, Equatable {
    var delivery: AMQPDelivery
    init(_ delivery: AMQPDelivery) { self.delivery = delivery }
    static func == (a: Self, b: Self) -> Bool {
        a.delivery.body == b.delivery.body && a.delivery.deliveryTag == b.delivery.deliveryTag
            && a.delivery.properties == b.delivery.properties && a.delivery.consumerTag == b.delivery.consumerTag
            && a.delivery.routingKey == b.delivery.routingKey && a.delivery.exchange == b.delivery.exchange
            && a.delivery.redelivered == b.delivery.redelivered && a.delivery.messageCount == b.delivery.messageCount
    }
}

struct AMQPReturnedBox: Sendable, Equatable {
    var message: AMQPReturnedMessage
    init(_ message: AMQPReturnedMessage) { self.message = message }
    static func == (a: Self, b: Self) -> Bool {
        a.message.body == b.message.body && a.message.replyCode == b.message.replyCode
            && a.message.routingKey == b.message.routingKey && a.message.properties == b.message.properties
    }
}
