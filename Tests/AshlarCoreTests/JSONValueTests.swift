import Foundation
import Testing

@testable import AshlarCore

@Suite("JSONValue")
struct JSONValueTests {
    static func parse(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Data(text.utf8))
    }

    @Test(
        arguments: [
            ("null", JSONValue.null),
            ("true", .bool(true)),
            ("false", .bool(false)),
            ("0", .int(0)),
            ("1", .int(1)),
            ("-42", .int(-42)),
            ("9223372036854775807", .int(Int64.max)),
            ("-9223372036854775808", .int(Int64.min)),
            ("1.5", .double(1.5)),
            ("-0.25", .double(-0.25)),
            ("2.5e-1", .double(0.25)),
            ("\"\"", .string("")),
            ("\"1\"", .string("1")),
            ("\"true\"", .string("true")),
            (#""caf\u00e9 \"q\" \n""#, .string("café \"q\" \n")),
            ("[]", .array([])),
            ("{}", .object([:])),
            ("[1, 1.5, true, \"x\", null]", .array([.int(1), .double(1.5), .bool(true), .string("x"), .null])),
            (#"{"a": {"b": [1, {"c": null}]}, "d": false}"#, ["a": ["b": [1, ["c": nil]]], "d": false]),
        ] as [(String, JSONValue)])
    func parses(_ text: String, _ expected: JSONValue) throws {
        #expect(try Self.parse(text) == expected)
    }

    @Test func numbersAndBooleansStayDistinct() throws {
        let value = try Self.parse(#"{"one": 1, "yes": true, "half": 0.5, "zero": 0, "no": false}"#)
        let object = try #require(value.objectValue)
        #expect(object["one"] == .int(1))
        #expect(object["yes"] == .bool(true))
        #expect(object["half"] == .double(0.5))
        #expect(object["zero"] == .int(0))
        #expect(object["no"] == .bool(false))
        #expect(object["one"] != object["yes"])
        #expect(object["zero"] != object["no"])
    }

    @Test func numberTooBigForInt64IsADouble() throws {
        #expect(try Self.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    @Test(
        arguments: [
            "", " ", "{", "}", "[1,", #"{"a":}"#, #"{"a" 1}"#, "{'a': 1}", "nope", "tru", "nul", "01x",
            #"{"a": 1"#, "\"unterminated", "[1 2]", "{1: 2}", "NaN",
        ])
    func malformedJSONIsInvalidInput(_ text: String) {
        let error = #expect(throws: AshlarError.self) { try Self.parse(text) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("not valid JSON") == true)
    }

    /// Python's json (and so Cinder) keeps `1.0` a float: a request with `"size": 1.0` is not an integer.
    @Test func numbersWrittenAsFloatsStayDoubles() throws {
        let one = try Self.parse("1.0")
        let two = try Self.parse("2e0")
        let zero = try Self.parse("-0.0")
        withKnownIssue("Foundation's JSONDecoder reads 1.0 as an integer; JSONValue.parse inherits it") {
            #expect(one == .double(1))
            #expect(two == .double(2))
            #expect(zero.typeName == "number")
        }
    }

    @Test func integralDoublesSurviveARoundTrip() throws {
        let data = try JSONEncoder().encode(JSONValue.array([.double(2), .double(100)]))
        let parsed = try JSONValue.parse(data)
        withKnownIssue("Foundation's JSONEncoder writes 2.0 as 2, which then reads back as an integer") {
            #expect(parsed == .array([.double(2), .double(100)]))
        }
    }

    /// RFC 8259 has no trailing commas; Python's json.loads refuses them, so Cinder answers 400.
    @Test(arguments: ["[1,]", #"{"a": 1,}"#, #"{"a": [true,],}"#])
    func trailingCommasAreNotJSON(_ text: String) {
        let parsed = try? Self.parse(text)
        withKnownIssue("Foundation's JSONDecoder accepts trailing commas") {
            #expect(parsed == nil)
        }
    }

    static let samples: [JSONValue] = [
        .null, true, false, 0, -7, .int(Int64.max), .double(1.5), .double(-1e-3), "", "naïve \"quoted\" \\ / \n\t",
        [], [:], [1, "a", nil, [true]],
        [
            "volume": ["size": 10, "name": "v", "metadata": ["k": "v"], "bootable": false, "ratio": .double(0.75)],
            "list": [[:], []],
        ],
    ]

    @Test(arguments: samples)
    func encodeThenParseRoundTrips(_ value: JSONValue) throws {
        let data = try JSONEncoder().encode(value)
        #expect(try JSONValue.parse(data) == value)
    }

    @Test func encodesAsPlainJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let value: JSONValue = ["b": [1, true, nil], "a": "x", "c": .double(0.5)]
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(text == #"{"a":"x","b":[1,true,null],"c":0.5}"#)
    }

    @Test(
        arguments: [
            (JSONValue.null, "None"), (true, "True"), (false, "False"), (42, "42"), (-1, "-1"), (.double(1.5), "1.5"),
            ("text", "text"), ("", ""), ([1, "a"], #"[1,"a"]"#), (["k": "v"], #"{"k":"v"}"#), ([], "[]"),
        ] as [(JSONValue, String)])
    func rendered(_ value: JSONValue, _ text: String) {
        #expect(value.rendered == text)
    }

    @Test(
        arguments: [
            (JSONValue.null, "null"), (true, "boolean"), (1, "integer"), (.double(1.5), "number"), ("s", "string"),
            ([], "array"), ([:], "object"),
        ] as [(JSONValue, String)])
    func typeName(_ value: JSONValue, _ name: String) {
        #expect(value.typeName == name)
    }

    @Test func accessors() {
        let object: JSONValue = ["a": 1]
        #expect(object.objectValue == ["a": .int(1)])
        #expect(JSONValue.string("x").objectValue == nil)
        #expect(JSONValue.string("x").stringValue == "x")
        #expect(JSONValue.int(1).stringValue == nil)
        #expect(JSONValue.null.isNull)
        #expect(!JSONValue.string("null").isNull)
        #expect(!JSONValue.bool(false).isNull)
    }

    @Test func literalsBuildTheExpectedCases() {
        let value: JSONValue = ["s": "x", "i": 3, "b": true, "n": nil, "a": [1, 2], "o": ["k": "v"]]
        #expect(
            value
                == .object([
                    "s": .string("x"), "i": .int(3), "b": .bool(true), "n": .null, "a": .array([.int(1), .int(2)]),
                    "o": .object(["k": .string("v")]),
                ]))
    }
}
