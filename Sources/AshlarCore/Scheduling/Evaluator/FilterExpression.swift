import Foundation

/// Where a function's variables come from: `scope.key`, e.g. `stats.free_capacity_gb`.
public protocol FilterVariables {
    /// The raw value of `scope.key`; nil when there is no such scope or key.
    func value(scope: String, key: String) -> JSONValue?
}

/// Variables from nested dictionaries, `[scope: [key: value]]`.
public struct FilterVariableTable: FilterVariables, Sendable, Hashable {
    public var scopes: [String: [String: JSONValue]]
    public init(_ scopes: [String: [String: JSONValue]]) { self.scopes = scopes }
    public func value(scope: String, key: String) -> JSONValue? { scopes[scope]?[key] }
}

/// A parsed filter or goodness function (`cinder/scheduler/evaluator/evaluator.py`), evaluated against a set
/// of variables. Parse once with `init(parsing:)`, evaluate as often as needed.
///
/// Precedence, tightest first, as upstream's `operatorPrecedence` table: function calls `abs(x)`,
/// `max(a, b)`, `min(a, b)`; `^` (right-associative); unary `+ -`; `* /`; `+ -`; `not`/`NOT`/`!`;
/// comparisons `< <= > >= == != <>` (chained as in Python: `1 < x < 3`); `? :`; `and`/`AND`/`&&`;
/// `or`/`OR`/`||`. So `not 1 == 0` is `(not 1) == 0`, and `a and b ? c : d` is `a and (b ? c : d)`.
///
/// Operands: numbers (`10`, `2.5`), quoted strings (`'iSCSI'`, `"x"`), variables `scope.key`, and bare words,
/// which (as upstream) are the text itself: `stats.storage_protocol == iSCSI`. Every constant and variable is
/// read as upstream's `EvalConstant` does: numeric text is a number, a boolean is 1 or 0, and a float
/// variable is truncated to an integer.
///
/// `and` and `or` evaluate every operand (upstream does not short-circuit) and return Python's value:
/// the first falsy (for `and`) or truthy (for `or`) operand, else the last.
public indirect enum FilterExpression: Sendable, Hashable {
    case constant(FilterValue)
    case variable(scope: String, key: String)
    case unary(UnaryOperator, FilterExpression)
    case binary(BinaryOperator, FilterExpression, FilterExpression)
    /// `first op1 e1 op2 e2 …`, true when every adjacent pair compares true.
    case comparison(FilterExpression, [ComparisonStep])
    case ternary(FilterExpression, FilterExpression, FilterExpression)
    case and([FilterExpression])
    case or([FilterExpression])
    case call(Function, [FilterExpression])

    public enum UnaryOperator: String, Sendable, Hashable {
        case plus = "+", minus = "-", not = "not"
    }

    public enum BinaryOperator: String, Sendable, Hashable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", power = "^"
    }

    public enum ComparisonOperator: String, Sendable, Hashable, CaseIterable {
        case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=", equal = "==", notEqual = "!="
        case notEqualLegacy = "<>"
    }

    public struct ComparisonStep: Sendable, Hashable {
        public var op: ComparisonOperator
        public var operand: FilterExpression
        public init(_ op: ComparisonOperator, _ operand: FilterExpression) {
            self.op = op
            self.operand = operand
        }
    }

    public enum Function: String, Sendable, Hashable, CaseIterable {
        case abs, max, min
    }

    /// The value of the expression with `variables`.
    public func evaluate(with variables: some FilterVariables) throws(EvaluatorError) -> FilterValue {
        switch self {
        case .constant(let value):
            return value
        case .variable(let scope, let key):
            guard let raw = variables.value(scope: scope, key: key) else {
                throw EvaluatorError("unknown variable \(scope).\(key)")
            }
            return try FilterValue.variable(raw, named: "\(scope).\(key)")
        case .unary(let op, let operand):
            let value = try operand.evaluate(with: variables)
            switch op {
            case .not: return .bool(!value.isTruthy)
            case .plus, .minus:
                let negate = op == .minus
                if let i = value.integer {
                    if !negate { return .int(i) }
                    let (negated, overflow) = (0).subtractingReportingOverflow(i)
                    return overflow ? .double(-Double(i)) : .int(negated)
                }
                if case .double(let d) = value { return .double(negate ? -d : d) }
                throw EvaluatorError("bad operand type for unary \(op.rawValue): '\(value.typeName)'")
            }
        case .binary(let op, let lhs, let rhs):
            let left = try lhs.evaluate(with: variables)
            let right = try rhs.evaluate(with: variables)
            return try Self.apply(op, left, right)
        case .comparison(let first, let steps):
            var left = try first.evaluate(with: variables)
            for step in steps {
                let right = try step.operand.evaluate(with: variables)
                if !(try Self.compare(left, step.op, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .ternary(let condition, let then, let otherwise):
            return try condition.evaluate(with: variables).isTruthy
                ? then.evaluate(with: variables) : otherwise.evaluate(with: variables)
        case .and(let operands):
            var result: FilterValue? = nil
            for operand in operands {
                let value = try operand.evaluate(with: variables)
                if result == nil || result!.isTruthy { result = value }
            }
            return result ?? .bool(true)
        case .or(let operands):
            var result: FilterValue? = nil
            for operand in operands {
                let value = try operand.evaluate(with: variables)
                if result == nil || !result!.isTruthy { result = value }
            }
            return result ?? .bool(false)
        case .call(let function, let arguments):
            var values: [FilterValue] = []
            for argument in arguments { values.append(try argument.evaluate(with: variables)) }
            return try Self.call(function, values)
        }
    }

    /// Evaluates with no variables (a constant expression).
    public func evaluate() throws(EvaluatorError) -> FilterValue {
        try evaluate(with: FilterVariableTable([:]))
    }

    static func unsupported(_ op: String, _ a: FilterValue, _ b: FilterValue) -> EvaluatorError {
        EvaluatorError("unsupported operand types for \(op): '\(a.typeName)' and '\(b.typeName)'")
    }

    static func apply(_ op: BinaryOperator, _ a: FilterValue, _ b: FilterValue) throws(EvaluatorError) -> FilterValue {
        if op == .add, case .string(let x) = a, case .string(let y) = b { return .string(x + y) }
        guard let x = a.number, let y = b.number else { throw unsupported(op.rawValue, a, b) }
        let ints = a.integer.flatMap { i in b.integer.map { (i, $0) } }
        switch op {
        case .add:
            if let (i, j) = ints {
                let (r, o) = i.addingReportingOverflow(j)
                if !o { return .int(r) }
            }
            return .double(x + y)
        case .subtract:
            if let (i, j) = ints {
                let (r, o) = i.subtractingReportingOverflow(j)
                if !o { return .int(r) }
            }
            return .double(x - y)
        case .multiply:
            if let (i, j) = ints {
                let (r, o) = i.multipliedReportingOverflow(by: j)
                if !o { return .int(r) }
            }
            return .double(x * y)
        case .divide:
            guard y != 0 else { throw EvaluatorError("division by zero") }
            return .double(x / y)
        case .power:
            if x == 0 && y < 0 { throw EvaluatorError("0 cannot be raised to a negative power") }
            if let (i, j) = ints, j >= 0, let r = Self.integerPower(i, j) { return .int(r) }
            if x < 0 && y != y.rounded() { throw EvaluatorError("a negative number to a fractional power is complex") }
            let r = Foundation.pow(x, y)
            guard r.isFinite || !x.isFinite || !y.isFinite else {
                throw EvaluatorError("numerical result out of range")
            }
            return .double(r)
        }
    }

    /// `base ^ exponent` in integers by squaring; nil on overflow.
    static func integerPower(_ base: Int, _ exponent: Int) -> Int? {
        var result = 1
        var factor = base
        var e = exponent
        while e > 0 {
            if e & 1 == 1 {
                let (r, o) = result.multipliedReportingOverflow(by: factor)
                if o { return nil }
                result = r
            }
            e >>= 1
            if e > 0 {
                let (f, o) = factor.multipliedReportingOverflow(by: factor)
                if o { return nil }
                factor = f
            }
        }
        return result
    }

    static func compare(_ a: FilterValue, _ op: ComparisonOperator, _ b: FilterValue) throws(EvaluatorError) -> Bool {
        let order: ComparisonResult
        if let x = a.number, let y = b.number {
            if op == .equal { return x == y }
            if op == .notEqual || op == .notEqualLegacy { return x != y }
            order = x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
            if x.isNaN || y.isNaN { return false }
        } else if case .string(let x) = a, case .string(let y) = b {
            let (u, v) = (Array(x.unicodeScalars.map(\.value)), Array(y.unicodeScalars.map(\.value)))
            order = u.lexicographicallyPrecedes(v) ? .orderedAscending : (u == v ? .orderedSame : .orderedDescending)
        } else {
            // A number and a string: never equal, and not ordered (Python raises TypeError).
            switch op {
            case .equal: return false
            case .notEqual, .notEqualLegacy: return true
            default:
                throw EvaluatorError(
                    "'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
        }
        switch op {
        case .less: return order == .orderedAscending
        case .lessOrEqual: return order != .orderedDescending
        case .greater: return order == .orderedDescending
        case .greaterOrEqual: return order != .orderedAscending
        case .equal: return order == .orderedSame
        case .notEqual, .notEqualLegacy: return order != .orderedSame
        }
    }

    static func call(_ function: Function, _ values: [FilterValue]) throws(EvaluatorError) -> FilterValue {
        switch function {
        case .abs:
            guard values.count == 1 else {
                throw EvaluatorError("abs() takes exactly one argument (\(values.count) given)")
            }
            switch values[0] {
            case .double(let d): return .double(Swift.abs(d))
            case .string: throw EvaluatorError("bad operand type for abs(): 'str'")
            default:
                let i = values[0].integer!
                return i == .min ? .double(-Double(i)) : .int(Swift.abs(i))
            }
        case .max, .min:
            guard values.count >= 2 else {
                throw EvaluatorError("\(function.rawValue)() takes at least two arguments (\(values.count) given)")
            }
            // Python keeps the first of equal extremes.
            var best = values[0]
            for value in values.dropFirst() {
                let better = function == .max ? try compare(value, .greater, best) : try compare(value, .less, best)
                if better { best = value }
            }
            return best
        }
    }
}
