import NIOCore

/// The properties of a message (the basic class's content header properties).
public struct AMQPBasicProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable?
    /// 1 = transient, 2 = persistent.
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a decimal string (RabbitMQ's convention).
    public var expiration: String?
    public var messageID: String?
    /// Seconds since the Unix epoch.
    public var timestamp: UInt64?
    public var type: String?
    public var userID: String?
    public var appID: String?

    /// Properties with the given values; all nil by default.
    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable? = nil,
        deliveryMode: UInt8? = nil, priority: UInt8? = nil, correlationID: String? = nil, replyTo: String? = nil,
        expiration: String? = nil, messageID: String? = nil, timestamp: UInt64? = nil, type: String? = nil,
        userID: String? = nil, appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }

    /// Persistent delivery (delivery mode 2), the usual choice for durable queues.
    public static let persistent = AMQPBasicProperties(deliveryMode: 2)
}

/// A content header frame's payload: class, body size and properties.
struct AMQPContentHeader: Sendable, Hashable {
    var classID: UInt16 = 60
    var bodySize: UInt64
    var properties: AMQPBasicProperties

    func encode(into buffer: inout ByteBuffer) throws {
        buffer.writeInteger(classID)
        buffer.writeInteger(UInt16(0))  // weight
        buffer.writeInteger(bodySize)
        let p = properties
        // Bit 15 is the first property; the fields follow in flag order.
        var flags: UInt16 = 0
        let present: [Bool] = [
            p.contentType != nil, p.contentEncoding != nil, p.headers != nil, p.deliveryMode != nil,
            p.priority != nil, p.correlationID != nil, p.replyTo != nil, p.expiration != nil, p.messageID != nil,
            p.timestamp != nil, p.type != nil, p.userID != nil, p.appID != nil,
        ]
        for (index, isPresent) in present.enumerated() where isPresent { flags |= 1 << UInt16(15 - index) }
        buffer.writeInteger(flags)
        if let v = p.contentType { try buffer.writeShortString(v) }
        if let v = p.contentEncoding { try buffer.writeShortString(v) }
        if let v = p.headers { try buffer.writeTable(v) }
        if let v = p.deliveryMode { buffer.writeInteger(v) }
        if let v = p.priority { buffer.writeInteger(v) }
        if let v = p.correlationID { try buffer.writeShortString(v) }
        if let v = p.replyTo { try buffer.writeShortString(v) }
        if let v = p.expiration { try buffer.writeShortString(v) }
        if let v = p.messageID { try buffer.writeShortString(v) }
        if let v = p.timestamp { buffer.writeInteger(v) }
        if let v = p.type { try buffer.writeShortString(v) }
        if let v = p.userID { try buffer.writeShortString(v) }
        if let v = p.appID { try buffer.writeShortString(v) }
    }

    static func decode(from buffer: inout ByteBuffer) throws -> AMQPContentHeader {
        let classID: UInt16 = try buffer.readAMQPInteger()
        _ = try buffer.readAMQPInteger(as: UInt16.self)
        let bodySize: UInt64 = try buffer.readAMQPInteger()
        var flags: UInt16 = try buffer.readAMQPInteger()
        // Bit 0 set means another flags word follows; basic has only 14 properties, so later words are all zero.
        var more = flags & 1 != 0
        while more {
            let next: UInt16 = try buffer.readAMQPInteger()
            more = next & 1 != 0
        }
        func has(_ index: Int) -> Bool { flags & (1 << UInt16(15 - index)) != 0 }
        var p = AMQPBasicProperties()
        if has(0) { p.contentType = try buffer.readShortString() }
        if has(1) { p.contentEncoding = try buffer.readShortString() }
        if has(2) { p.headers = try buffer.readTable() }
        if has(3) { p.deliveryMode = try buffer.readAMQPInteger() }
        if has(4) { p.priority = try buffer.readAMQPInteger() }
        if has(5) { p.correlationID = try buffer.readShortString() }
        if has(6) { p.replyTo = try buffer.readShortString() }
        if has(7) { p.expiration = try buffer.readShortString() }
        if has(8) { p.messageID = try buffer.readShortString() }
        if has(9) { p.timestamp = try buffer.readAMQPInteger() }
        if has(10) { p.type = try buffer.readShortString() }
        if has(11) { p.userID = try buffer.readShortString() }
        if has(12) { p.appID = try buffer.readShortString() }
        if has(13) { _ = try buffer.readShortString() }  // the deprecated cluster-id
        flags = 0
        return AMQPContentHeader(classID: classID, bodySize: bodySize, properties: p)
    }
}
