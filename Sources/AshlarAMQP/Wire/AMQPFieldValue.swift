/// One value of an AMQP field table or array, with RabbitMQ's type tags (which differ from the 0-9-1 spec's
/// errata for a few integer types).
public enum AMQPFieldValue: Sendable, Hashable {
    /// `t`
    case bool(Bool)
    /// `b`
    case int8(Int8)
    /// `B`
    case uint8(UInt8)
    /// `s`
    case int16(Int16)
    /// `u`
    case uint16(UInt16)
    /// `I`
    case int32(Int32)
    /// `i`
    case uint32(UInt32)
    /// `l`
    case int64(Int64)
    /// `f`
    case float(Float)
    /// `d`
    case double(Double)
    /// `D`: the value is `value / 10^scale`.
    case decimal(scale: UInt8, value: UInt32)
    /// `S`: a long string. Bytes that are not UTF-8 are replaced when decoding; use `bytes` for binary.
    case string(String)
    /// `x`: a byte array.
    case bytes([UInt8])
    /// `A`
    case array([AMQPFieldValue])
    /// `T`: seconds since the Unix epoch.
    case timestamp(UInt64)
    /// `F`
    case table(AMQPTable)
    /// `V`
    case void

    /// The one-byte type tag on the wire.
    var tag: UInt8 {
        switch self {
        case .bool: UInt8(ascii: "t")
        case .int8: UInt8(ascii: "b")
        case .uint8: UInt8(ascii: "B")
        case .int16: UInt8(ascii: "s")
        case .uint16: UInt8(ascii: "u")
        case .int32: UInt8(ascii: "I")
        case .uint32: UInt8(ascii: "i")
        case .int64: UInt8(ascii: "l")
        case .float: UInt8(ascii: "f")
        case .double: UInt8(ascii: "d")
        case .decimal: UInt8(ascii: "D")
        case .string: UInt8(ascii: "S")
        case .bytes: UInt8(ascii: "x")
        case .array: UInt8(ascii: "A")
        case .timestamp: UInt8(ascii: "T")
        case .table: UInt8(ascii: "F")
        case .void: UInt8(ascii: "V")
        }
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Integer literals become `int32` when they fit (what brokers expect for e.g. `x-expires`), else `int64`.
    public init(integerLiteral value: Int64) {
        self = Int32(exactly: value).map { .int32($0) } ?? .int64(value)
    }
}
