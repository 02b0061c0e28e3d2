import Foundation

/// A capacity figure as drivers report it: a number of GiB, or `infinite`/`unknown`.
public enum Capacity: Sendable, Hashable, Codable, CustomStringConvertible {
    case gb(Double)
    case infinite
    case unknown

    public var description: String {
        switch self {
        case .gb(let v): v == v.rounded() ? String(Int(v)) : String(v)
        case .infinite: "infinite"
        case .unknown: "unknown"
        }
    }

    public var value: Double? {
        if case .gb(let v) = self { return v }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Double.self) {
            self = .gb(v)
        } else {
            let s = try c.decode(String.self)
            switch s {
            case "infinite": self = .infinite
            case "unknown": self = .unknown
            default: self = Double(s).map(Capacity.gb) ?? .unknown
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .gb(let v): try c.encode(v)
        case .infinite: try c.encode("infinite")
        case .unknown: try c.encode("unknown")
        }
    }
}
