import Foundation

/// Why a filter or goodness function cannot be parsed or evaluated.
public struct EvaluatorError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A value of Cinder's function evaluator (`cinder/scheduler/evaluator/evaluator.py`), with Python's meaning:
/// booleans are the numbers 1 and 0 in arithmetic and comparisons, strings compare by text.
public enum FilterValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)

    /// Python's truth value.
    public var isTruthy: Bool {
        switch self {
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .bool(let b): b
        case .string(let s): !s.isEmpty
        }
    }

    /// The value as a number (booleans as 1 and 0); nil for a string.
    public var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .bool(let b): b ? 1 : 0
        case .string: nil
        }
    }

    /// The value as an integer when it is one (booleans included).
    var integer: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// Python's `repr`: `True`, `3`, `2.5`, `'text'`.
    public var description: String {
        switch self {
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): b ? "True" : "False"
        case .string(let s): "'\(s)'"
        }
    }

    var typeName: String {
        switch self {
        case .int: "int"
        case .double: "float"
        case .bool: "bool"
        case .string: "str"
        }
    }

    /// A constant or a variable's value as upstream's `EvalConstant` reads it: `int(x)`, else `float(x)`, else
    /// the text. So numeric text becomes a number, a boolean becomes 1 or 0, and a float variable is
    /// truncated toward zero (Python's `int(10.7)` is 10).
    static func constant(_ text: String) -> FilterValue {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let i = Int(trimmed) { return .int(i) }
        // Python's float() takes decimal and exponent forms, inf, infinity and nan, but not hex.
        if !trimmed.lowercased().contains("x"), let d = Double(trimmed) { return .double(d) }
        return .string(text)
    }

    /// A variable's JSON value read as upstream does (see `constant(_:)`); null, lists and objects cannot be.
    static func variable(_ json: JSONValue, named name: String) throws(EvaluatorError) -> FilterValue {
        switch json {
        case .bool(let b): return .int(b ? 1 : 0)
        case .int(let i): return .int(Int(i))
        case .double(let d):
            if d.isNaN { return .double(d) }
            guard d.isFinite else { throw EvaluatorError("\(name) is \(d), which cannot be converted to an integer") }
            let truncated = d.rounded(.towardZero)
            if let i = Int(exactly: truncated) { return .int(i) }
            return .double(truncated)
        case .string(let s): return constant(s)
        case .null: throw EvaluatorError("\(name) is None")
        case .array, .object: throw EvaluatorError("\(name) is a \(json.typeName), not a number or a string")
        }
    }
}
