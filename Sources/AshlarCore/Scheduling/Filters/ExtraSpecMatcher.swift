import Foundation

/// The operators of extra specs (`cinder/scheduler/filters/extra_specs_ops.py`): `=` (means >=), `==`, `!=`,
/// `>=`, `<=`, `s==`, `s!=`, `s<`, `s<=`, `s>`, `s>=`, `<in>`, `<all-in>`, `<is>`, `<or>`; anything else is
/// plain equality.
public enum ExtraSpecMatcher {
    static let knownOps: Set<String> = [
        "=", "==", "!=", ">=", "<=", "s==", "s!=", "s<", "s<=", "s>", "s>=", "<in>", "<all-in>", "<is>", "<or>",
    ]

    public static func matches(_ value: JSONValue, _ requirement: String) -> Bool {
        compile(requirement)(value)
    }

    /// The requirement parsed once, as a predicate on capability values.
    public static func compile(_ requirement: String) -> (JSONValue) -> Bool {
        let words = requirement.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let op = words.first, knownOps.contains(op) else {
            return { value in equalsPlain(value, requirement) }
        }
        let operands = Array(words.dropFirst())
        return { value in apply(op, operands, to: value) }
    }

    private static func apply(_ op: String, _ operands: [String], to value: JSONValue) -> Bool {
        if value.isNull { return false }
        let words = operands
        if op == "<or>" {
            // `<or> a <or> b`: the words at even positions are the alternatives.
            let options = words.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            return options.contains(text(value))
        }
        guard let operand = words.first else { return false }
        switch op {
        case "=", "==", "!=", ">=", "<=":
            guard let x = number(value), let y = Double(operand) else { return false }
            switch op {
            case "=", ">=": return x >= y
            case "==": return x == y
            case "!=": return x != y
            default: return x <= y
            }
        case "s==": return text(value) == operand
        case "s!=": return text(value) != operand
        case "s<": return text(value) < operand
        case "s<=": return text(value) <= operand
        case "s>": return text(value) > operand
        case "s>=": return text(value) >= operand
        case "<in>": return text(value).contains(operand)
        case "<all-in>":
            if case .array(let list) = value {
                let texts = Set(list.map(text))
                return words.allSatisfy { texts.contains($0) }
            }
            let t = text(value)
            return words.allSatisfy { t.contains($0) }
        case "<is>":
            guard let want = parseBool(operand) else { return false }
            if case .bool(let b) = value { return b == want }
            return parseBool(text(value)) == want
        default: return false
        }
    }

    /// Plain equality; a boolean capability compares to the spec read as a boolean.
    private static func equalsPlain(_ value: JSONValue, _ requirement: String) -> Bool {
        switch value {
        case .bool(let b): return parseBool(requirement) == b
        case .string(let s): return s == requirement
        default: return false
        }
    }

    private static func text(_ value: JSONValue) -> String {
        if case .string(let s) = value { return s }
        return value.rendered
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let i): Double(i)
        case .double(let d): d
        case .string(let s): Double(s)
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// oslo's `bool_from_string`.
    public static func parseBool(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "t", "true", "on", "y", "yes": true
        case "0", "f", "false", "off", "n", "no": false
        default: nil
        }
    }
}
