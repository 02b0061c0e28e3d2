import AshlarCore
import NIOCore

extension JSONValue {
    /// Writes compact JSON straight into a buffer: the API's hot path, without Codable's overhead.
    func write(to buffer: inout ByteBuffer) {
        switch self {
        case .null: buffer.writeStaticString("null")
        case .bool(let b): b ? buffer.writeStaticString("true") : buffer.writeStaticString("false")
        case .int(let i): buffer.writeString(String(i))
        case .double(let d):
            if d.isFinite {
                buffer.writeString(d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) + ".0" : String(d))
            } else {
                buffer.writeStaticString("null")
            }
        case .string(let s): Self.writeString(s, to: &buffer)
        case .array(let a):
            buffer.writeInteger(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                v.write(to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let o):
            buffer.writeInteger(UInt8(ascii: "{"))
            var first = true
            for (k, v) in o {
                if !first { buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                Self.writeString(k, to: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                v.write(to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ s: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for (i, c) in bytes.enumerated() where c < 0x20 || c == 0x22 || c == 0x5C {
                if start < i {
                    buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<i])))
                }
                switch c {
                case 0x22: buffer.writeStaticString("\\\"")
                case 0x5C: buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(c >> 4)])
                    buffer.writeInteger(hex[Int(c & 0xF)])
                }
                start = i + 1
            }
            if start < bytes.count {
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start...])))
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// The serialized text, for hashing and tests.
    var serialized: String {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return String(buffer: buffer)
    }
}
