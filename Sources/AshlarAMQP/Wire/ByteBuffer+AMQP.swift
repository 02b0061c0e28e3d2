import NIOCore

// The AMQP primitive types on a ByteBuffer (network byte order throughout).
extension ByteBuffer {
    mutating func readAMQPInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws -> T {
        guard let value = readInteger(as: T.self) else { throw AMQPError.protocolViolation("truncated integer") }
        return value
    }

    /// A short string: one length octet, at most 255 bytes of UTF-8.
    mutating func readShortString() throws -> String {
        let length: UInt8 = try readAMQPInteger()
        guard let string = readString(length: Int(length)) else {
            throw AMQPError.protocolViolation("truncated short string")
        }
        return string
    }

    /// Writes a short string; refuses ones longer than 255 bytes rather than truncating them.
    mutating func writeShortString(_ string: String) throws {
        let count = string.utf8.count
        guard count <= 255 else {
            throw AMQPError(.invalidArgument, message: "short string of \(count) bytes (at most 255)")
        }
        writeInteger(UInt8(count))
        writeString(string)
    }

    /// A long string as bytes: a 32-bit length, then the bytes.
    mutating func readLongBytes() throws -> ByteBuffer {
        let length: UInt32 = try readAMQPInteger()
        guard let slice = readSlice(length: Int(length)) else {
            throw AMQPError.protocolViolation("truncated long string")
        }
        return slice
    }

    mutating func readLongString() throws -> String {
        let bytes = try readLongBytes()
        return String(buffer: bytes)
    }

    mutating func writeLongString(_ string: String) {
        writeInteger(UInt32(string.utf8.count))
        writeString(string)
    }

    mutating func writeLongBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    /// Reads `count` booleans packed into octets, least significant bit first.
    mutating func readBits(_ count: Int) throws -> [Bool] {
        var bits: [Bool] = []
        bits.reserveCapacity(count)
        var octet: UInt8 = 0
        for index in 0..<count {
            if index % 8 == 0 { octet = try readAMQPInteger() }
            bits.append(octet & (1 << UInt8(index % 8)) != 0)
        }
        return bits
    }

    /// Writes consecutive boolean arguments packed into octets, least significant bit first.
    mutating func writeBits(_ bits: Bool...) {
        var octet: UInt8 = 0
        for (index, bit) in bits.enumerated() {
            if bit { octet |= 1 << UInt8(index % 8) }
            if index % 8 == 7 || index == bits.count - 1 {
                writeInteger(octet)
                octet = 0
            }
        }
    }

    // MARK: Tables

    /// A field table: a 32-bit byte length, then (short string name, tagged value) pairs in any order.
    mutating func readTable() throws -> AMQPTable {
        var slice = try readLongBytes()
        var table = AMQPTable()
        while slice.readableBytes > 0 {
            let key = try slice.readShortString()
            table[key] = try slice.readFieldValue()
        }
        return table
    }

    mutating func writeTable(_ table: AMQPTable) throws {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        for (key, value) in table {
            try writeShortString(key)
            try writeFieldValue(value)
        }
        setInteger(UInt32(writerIndex - lengthIndex - 4), at: lengthIndex)
    }

    mutating func readFieldArray() throws -> [AMQPFieldValue] {
        var slice = try readLongBytes()
        var values: [AMQPFieldValue] = []
        while slice.readableBytes > 0 { values.append(try slice.readFieldValue()) }
        return values
    }

    mutating func writeFieldArray(_ values: [AMQPFieldValue]) throws {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        for value in values { try writeFieldValue(value) }
        setInteger(UInt32(writerIndex - lengthIndex - 4), at: lengthIndex)
    }

    mutating func readFieldValue() throws -> AMQPFieldValue {
        let tag: UInt8 = try readAMQPInteger()
        switch tag {
        case UInt8(ascii: "t"): return .bool(try readAMQPInteger(as: UInt8.self) != 0)
        case UInt8(ascii: "b"): return .int8(try readAMQPInteger())
        case UInt8(ascii: "B"): return .uint8(try readAMQPInteger())
        case UInt8(ascii: "s"): return .int16(try readAMQPInteger())
        case UInt8(ascii: "u"): return .uint16(try readAMQPInteger())
        case UInt8(ascii: "I"): return .int32(try readAMQPInteger())
        case UInt8(ascii: "i"): return .uint32(try readAMQPInteger())
        case UInt8(ascii: "l"): return .int64(try readAMQPInteger())
        case UInt8(ascii: "f"): return .float(Float(bitPattern: try readAMQPInteger()))
        case UInt8(ascii: "d"): return .double(Double(bitPattern: try readAMQPInteger()))
        case UInt8(ascii: "D"):
            let scale: UInt8 = try readAMQPInteger()
            return .decimal(scale: scale, value: try readAMQPInteger())
        case UInt8(ascii: "S"): return .string(try readLongString())
        case UInt8(ascii: "x"): return .bytes(Array(buffer: try readLongBytes()))
        case UInt8(ascii: "A"): return .array(try readFieldArray())
        case UInt8(ascii: "T"): return .timestamp(try readAMQPInteger())
        case UInt8(ascii: "F"): return .table(try readTable())
        case UInt8(ascii: "V"): return .void
        default: throw AMQPError.protocolViolation("unknown field type \(tag)")
        }
    }

    mutating func writeFieldValue(_ value: AMQPFieldValue) throws {
        writeInteger(value.tag)
        switch value {
        case .bool(let v): writeInteger(UInt8(v ? 1 : 0))
        case .int8(let v): writeInteger(v)
        case .uint8(let v): writeInteger(v)
        case .int16(let v): writeInteger(v)
        case .uint16(let v): writeInteger(v)
        case .int32(let v): writeInteger(v)
        case .uint32(let v): writeInteger(v)
        case .int64(let v): writeInteger(v)
        case .float(let v): writeInteger(v.bitPattern)
        case .double(let v): writeInteger(v.bitPattern)
        case .decimal(let scale, let v):
            writeInteger(scale)
            writeInteger(v)
        case .string(let v): writeLongString(v)
        case .bytes(let v): writeLongBytes(v)
        case .array(let v): try writeFieldArray(v)
        case .timestamp(let v): writeInteger(v)
        case .table(let v): try writeTable(v)
        case .void: break
        }
    }
}
