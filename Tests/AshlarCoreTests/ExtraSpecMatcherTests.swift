import Foundation
import Testing

@testable import AshlarCore

/// One capability value against one extra-spec requirement.
struct MatchCase: Sendable, CustomTestStringConvertible {
    var value: JSONValue
    var requirement: String
    var matches: Bool
    init(_ value: JSONValue, _ requirement: String, _ matches: Bool) {
        self.value = value
        self.requirement = requirement
        self.matches = matches
    }
    var testDescription: String { "\(value.rendered) vs '\(requirement)' → \(matches)" }
}

@Suite("ExtraSpecMatcher")
struct ExtraSpecMatcherTests {
    static let numeric: [MatchCase] = [
        // `=` means greater-or-equal (sic, extra_specs_ops.py).
        .init(10, "= 10", true),
        .init(11, "= 10", true),
        .init(9, "= 10", false),
        .init(.double(10.5), "= 10", true),
        .init(.double(9.99), "= 10", false),
        .init("10", "= 10", true),
        .init("9", "= 10", false),
        .init("abc", "= 10", false),
        .init(10, "= abc", false),
        .init(10, "=", false),
        .init(.double(10), "== 10", true),
        .init(10, "== 10.0", true),
        .init("10.0", "== 10", true),
        .init(11, "== 10", false),
        .init("x", "== 10", false),
        .init(10, "!= 10", false),
        .init(11, "!= 10", true),
        .init(10, ">= 10", true),
        .init(11, ">= 10", true),
        .init(9, ">= 10", false),
        .init(10, "<= 10", true),
        .init(.double(2.5), "<= 3", true),
        .init(11, "<= 10", false),
        .init(-5, "<= -1", true),
        .init(true, ">= 1", true),
        .init(false, ">= 1", false),
    ]

    static let strings: [MatchCase] = [
        .init("iSCSI", "s== iSCSI", true),
        .init("iscsi", "s== iSCSI", false),
        .init("FC", "s!= iSCSI", true),
        .init("iSCSI", "s!= iSCSI", false),
        .init("abc", "s< abd", true),
        .init("abd", "s< abc", false),
        .init("abc", "s< abc", false),
        .init("abc", "s<= abc", true),
        .init("abd", "s<= abc", false),
        .init("b", "s> a", true),
        .init("a", "s> b", false),
        // String order, not numeric: "10" < "9".
        .init("10", "s> 9", false),
        .init("10", "s< 9", true),
        .init("abc", "s>= abc", true),
        .init("abb", "s>= abc", false),
        .init("Open Source", "<in> Source", true),
        .init("Open Source", "<in> Closed", false),
        .init("thin,thick", "<in> thick", true),
    ]

    static let sets: [MatchCase] = [
        .init(["a", "b", "c"], "<all-in> a c", true),
        .init(["a", "b", "c"], "<all-in> a", true),
        .init(["a", "b"], "<all-in> a d", false),
        .init("read write", "<all-in> read write", true),
        .init("read", "<all-in> read write", false),
        .init("iSCSI", "<or> FC <or> iSCSI", true),
        .init("FC", "<or> FC <or> iSCSI", true),
        .init("NFS", "<or> FC <or> iSCSI", false),
        .init("FC", "<or> FC", true),
        .init("iscsi", "<or> FC <or> iSCSI", false),
        // The keyword itself is not one of the alternatives.
        .init("<or>", "<or> FC <or> iSCSI", false),
    ]

    static let booleans: [MatchCase] = [
        .init(true, "<is> True", true),
        .init(true, "<is> true", true),
        .init(false, "<is> True", false),
        .init(false, "<is> False", true),
        .init(true, "<is> False", false),
        .init("True", "<is> True", true),
        .init("true", "<is> True", true),
        .init("yes", "<is> true", true),
        .init("False", "<is> True", false),
        .init(1, "<is> True", true),
        .init(0, "<is> False", true),
        .init(true, "<is>", false),
        // Plain equality: a boolean capability is compared as a boolean.
        .init(true, "True", true),
        .init(true, "true", true),
        .init(false, "False", true),
        .init(false, "false", true),
        .init(true, "False", false),
        .init(false, "True", false),
        .init(true, "maybe", false),
    ]

    static let plain: [MatchCase] = [
        .init("LVM", "LVM", true),
        .init("lvm", "LVM", false),
        .init("LVM", "LVM ", false),
        // An unknown first word means the whole text is compared.
        .init("LVM backend", "LVM backend", true),
        .init("LVM", "LVM backend", false),
        .init("", "", true),
        .init("x", "", false),
        // Plain equality is string equality: a number never equals its text.
        .init(10, "10", false),
        .init(.double(1.5), "1.5", false),
    ]

    static let nulls: [MatchCase] = [
        .init(nil, "<is> True", false),
        .init(nil, "= 1", false),
        .init(nil, "s== None", false),
        .init(nil, "<or> None", false),
        .init(nil, "LVM", false),
        .init(nil, "None", false),
    ]

    @Test("numeric operators", arguments: numeric)
    func numericOperators(_ c: MatchCase) {
        #expect(ExtraSpecMatcher.matches(c.value, c.requirement) == c.matches)
    }

    @Test("string operators", arguments: strings)
    func stringOperators(_ c: MatchCase) {
        #expect(ExtraSpecMatcher.matches(c.value, c.requirement) == c.matches)
    }

    @Test("<all-in> and <or>", arguments: sets)
    func setOperators(_ c: MatchCase) {
        #expect(ExtraSpecMatcher.matches(c.value, c.requirement) == c.matches)
    }

    @Test("<is> and boolean equality", arguments: booleans)
    func booleanOperators(_ c: MatchCase) {
        #expect(ExtraSpecMatcher.matches(c.value, c.requirement) == c.matches)
    }

    @Test("plain equality", arguments: plain)
    func plainEquality(_ c: MatchCase) {
        #expect(ExtraSpecMatcher.matches(c.value, c.requirement) == c.matches)
    }

    @Test("null capability matches no requirement", arguments: nulls)
    func nullCapability(_ c: MatchCase) {
        #expect(ExtraSpecMatcher.matches(c.value, c.requirement) == c.matches)
    }

    @Test func extraWhitespaceBetweenWordsIsIgnored() {
        #expect(ExtraSpecMatcher.matches(10, ">=   10"))
        #expect(ExtraSpecMatcher.matches(10, ">=\t10"))
        #expect(ExtraSpecMatcher.matches("b", "<or>  a  <or>  b"))
    }

    @Test(
        "parseBool is oslo's bool_from_string",
        arguments: [
            ("1", true), ("t", true), ("true", true), ("True", true), ("TRUE", true), ("on", true), ("y", true),
            ("yes", true), (" yes ", true), ("0", false), ("f", false), ("false", false), ("False", false),
            ("off", false), ("n", false), ("no", false),
        ])
    func parseBool(_ text: String, _ expected: Bool) {
        #expect(ExtraSpecMatcher.parseBool(text) == expected)
    }

    @Test(arguments: ["", "maybe", "2", "truthy", "<is> True", "nope"])
    func parseBoolRejectsOtherText(_ text: String) {
        #expect(ExtraSpecMatcher.parseBool(text) == nil)
    }
}
