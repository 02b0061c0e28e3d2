import Foundation
import Testing

@testable import AshlarCore

@Suite("FilterExpression")
struct FilterExpressionTests {
    static let variables = FilterVariableTable([
        "stats": ["free_capacity_gb": .double(40.7), "total_capacity_gb": .int(100), "vendor_name": "Open Source",
                  "QoS_support": .bool(true), "nothing": .null, "list": .array([1]), "huge": .double(.infinity)],
        "extra": ["tier": "gold", "iops": "500"],
        "volume": ["size": .int(10)],
    ])

    static func value(_ text: String) throws -> FilterValue {
        try FilterExpression(parsing: text).evaluate(with: variables)
    }

    @Test(arguments: [
        // Numbers and strings.
        ("42", FilterValue.int(42)), ("2.5", .double(2.5)), ("'abc'", .string("abc")), (#""a b""#, .string("a b")),
        ("'7'", .int(7)), ("iSCSI", .string("iSCSI")),
        // Arithmetic and precedence.
        ("1 + 2 * 3", .int(7)), ("(1 + 2) * 3", .int(9)), ("10 - 4 - 3", .int(3)), ("7 / 2", .double(3.5)),
        ("8 / 4", .double(2)), ("2 * 3 / 4", .double(1.5)), ("2 ^ 3", .int(8)), ("2 ^ 3 ^ 2", .int(512)),
        ("2 ^ -1", .double(0.5)), ("-2 ^ 2", .int(-4)), ("(-2) ^ 2", .int(4)), ("4 ^ 0.5", .double(2)),
        ("-3", .int(-3)), ("+3", .int(3)), ("- -3", .int(3)), ("-2.5", .double(-2.5)), ("2 * -3", .int(-6)),
        ("1.5 + 1", .double(2.5)), ("'a' + 'b'", .string("ab")),
        // Booleans are 1 and 0.
        ("(1 < 2) + 1", .int(2)), ("-(1 < 2)", .int(-1)),
        // not binds looser than arithmetic, tighter than comparison.
        ("not 0", .bool(true)), ("! 1", .bool(false)), ("NOT ''", .bool(true)), ("not 1 + 1", .bool(false)),
        ("not 1 == 0", .bool(true)), ("not not 3", .bool(true)),
        // Comparisons, chained as in Python.
        ("1 < 2", .bool(true)), ("2 < 2", .bool(false)), ("2 <= 2", .bool(true)), ("3 > 2", .bool(true)),
        ("2 >= 3", .bool(false)), ("2 == 2.0", .bool(true)), ("2 != 2", .bool(false)), ("2 <> 3", .bool(true)),
        ("1 < 2 < 3", .bool(true)), ("1 < 3 < 2", .bool(false)), ("'abc' < 'abd'", .bool(true)),
        ("'a' == 'a'", .bool(true)), ("1 == 'a'", .bool(false)), ("1 != 'a'", .bool(true)),
        ("1 + 1 == 2", .bool(true)),
        // Ternary: below comparison, above and/or; left-associative.
        ("1 ? 2 : 3", .int(2)), ("0 ? 2 : 3", .int(3)), ("1 > 2 ? 'y' : 'n'", .string("n")),
        ("1 ? 0 : 1 ? 5 : 6", .int(6)), ("0 and 1 ? 2 : 3", .int(0)), ("1 and 0 ? 2 : 3", .int(3)),
        // and/or return Python's operand.
        ("1 and 2", .int(2)), ("0 and 2", .int(0)), ("1 && 0", .int(0)), ("1 AND 2 AND 3", .int(3)),
        ("1 and 2 and 0", .int(0)), ("0 or 2", .int(2)), ("1 || 2", .int(1)), ("0 OR 0", .int(0)),
        ("0 or 0 or 5", .int(5)),
        // and binds tighter than or.
        ("1 or 0 and 0", .int(1)), ("(1 or 0) and 0", .int(0)), ("0 and 1 or 2", .int(2)),
        // Functions.
        ("abs(-3)", .int(3)), ("abs(-2.5)", .double(2.5)), ("abs(1 - 4) * 2", .int(6)), ("max(1, 2)", .int(2)),
        ("min(1, 2)", .int(1)), ("max(2.5, 2)", .double(2.5)), ("min(3, 1, 2)", .int(1)), ("max('a', 'b')", .string("b")),
        ("max(1, 1 < 2)", .int(1)), ("-abs(-2) ^ 2", .int(-4)),
        // Variables: numeric text becomes a number, booleans 1/0, floats truncate as upstream's int().
        ("stats.free_capacity_gb", .int(40)), ("stats.total_capacity_gb / 4", .double(25)),
        ("stats.vendor_name", .string("Open Source")), ("stats.vendor_name == 'Open Source'", .bool(true)),
        ("stats.QoS_support", .int(1)), ("extra.tier == gold", .bool(true)), ("extra.iops > 100", .bool(true)),
        ("volume.size * 2 <= stats.free_capacity_gb", .bool(true)),
        ("stats.free_capacity_gb > 40", .bool(false)),
    ])
    func evaluates(_ text: String, _ expected: FilterValue) throws {
        #expect(try Self.value(text) == expected, "\(text)")
    }

    @Test(arguments: [
        // Parse errors.
        ("", "unexpected end"), ("1 +", "unexpected end"), ("(1 + 2", "expected ')'"), ("1 2", "unexpected '2'"),
        ("1 = 2", "unexpected character '='"), ("'abc", "unterminated string"), ("1 ? 2", "expected ':'"),
        ("max(1,)", "unexpected ')'"), ("and 1", "unexpected 'and'"), ("1 # 2", "unexpected character '#'"),
        ("stats.", "is not a variable"),
        // Evaluation errors.
        ("stats.missing", "unknown variable stats.missing"), ("qos.max_iops", "unknown variable qos.max_iops"),
        ("nope.x > 1", "unknown variable nope.x"), ("stats.nothing", "is None"), ("stats.list", "is a array"),
        ("stats.huge", "cannot be converted"), ("1 / 0", "division by zero"), ("1 / (2 - 2.0)", "division by zero"),
        ("0 ^ -1", "negative power"), ("(-8) ^ 0.5", "complex"), ("1 < 'a'", "not supported"),
        ("'a' - 1", "unsupported operand"), ("-'a'", "bad operand"), ("abs('a')", "bad operand"),
        ("abs(1, 2)", "exactly one"), ("max(1)", "at least two"), ("max(1, 'a')", "not supported"),
        ("10.0 ^ 400", "out of range"),
        // Both sides of and/or are evaluated, as upstream.
        ("0 and stats.missing", "unknown variable"), ("1 or qos.x", "unknown variable"),
    ])
    func fails(_ text: String, _ message: String) {
        #expect(throws: EvaluatorError.self, "\(text)") { try Self.value(text) }
        do {
            _ = try Self.value(text)
        } catch {
            #expect((error as? EvaluatorError)?.message.contains(message) == true, "\(text): \(error)")
        }
    }

    @Test func parsesToAValueTree() throws {
        let parsed = try FilterExpression(parsing: "stats.free_capacity_gb >= volume.size * 2 ? 1 : 0")
        #expect(
            parsed
                == .ternary(
                    .comparison(
                        .variable(scope: "stats", key: "free_capacity_gb"),
                        [.init(.greaterOrEqual, .binary(.multiply, .variable(scope: "volume", key: "size"), .constant(.int(2))))]),
                    .constant(.int(1)), .constant(.int(0))))
        // Parsed once, evaluated against different variables.
        let small = FilterVariableTable(["stats": ["free_capacity_gb": 5], "volume": ["size": 10]])
        #expect(try parsed.evaluate(with: small) == .int(0))
        #expect(try parsed.evaluate(with: Self.variables) == .int(1))
    }
}
