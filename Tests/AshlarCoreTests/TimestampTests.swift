import Foundation
import Testing

@testable import AshlarCore

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        arguments: [
            (0.0, "1970-01-01T00:00:00.000000"),
            (1_543_474_207.770785, "2018-11-29T06:50:07.770785"),
            (1_704_164_645, "2024-01-02T03:04:05.000000"),
            (1_704_164_645.5, "2024-01-02T03:04:05.500000"),
            (1_704_164_645.000001, "2024-01-02T03:04:05.000001"),
            (951_782_400, "2000-02-29T00:00:00.000000"),
            (-0.5, "1969-12-31T23:59:59.500000"),
            (-86_400, "1969-12-31T00:00:00.000000"),
            (1_704_153_599.9999996, "2024-01-02T00:00:00.000000"),
        ] as [(Double, String)])
    func format(_ seconds: Double, _ text: String) {
        #expect(Timestamp.format(Date(timeIntervalSince1970: seconds)) == text)
    }

    @Test func formatIsNaiveUTCWithSixFractionDigits() {
        let text = Timestamp.format(Date())
        // yyyy-mm-ddThh:mm:ss.ffffff, no zone.
        let shape = "dddd-dd-ddTdd:dd:dd.dddddd"
        #expect(text.count == shape.count, "\(text)")
        for (c, s) in zip(text, shape) {
            if s == "d" {
                #expect(c.isASCII && c.isNumber, "\(text)")
            } else {
                #expect(c == s, "\(text)")
            }
        }
    }

    @Test(
        arguments: [
            ("2024-01-02", 1_704_153_600),
            ("2024-01-02T03:04:05", 1_704_164_645),
            ("2024-01-02 03:04:05", 1_704_164_645),
            ("2024-01-02T03:04", 1_704_164_640),
            ("2024-01-02T03:04:05.5", 1_704_164_645.5),
            ("2024-01-02T03:04:05.000001", 1_704_164_645.000001),
            ("2018-11-29T06:50:07.770785", 1_543_474_207.770785),
            ("2024-01-02T03:04:05Z", 1_704_164_645),
            ("2024-01-02T03:04:05.25Z", 1_704_164_645.25),
            ("2024-01-02T03:04Z", 1_704_164_640),
            ("2024-01-02T03:04:05+02:00", 1_704_164_645 - 7200),
            ("2024-01-02T03:04:05-05:30", 1_704_164_645 + 19_800),
            ("2024-01-02T03:04:05.5+01:00", 1_704_164_645.5 - 3600),
            ("2024-01-02T03:04:05+0200", 1_704_164_645 - 7200),
            ("2024-01-02T03:04:05+02", 1_704_164_645 - 7200),
            ("2024-01-02T03:04:05+00:00", 1_704_164_645),
            ("2024-02-29T12:00:00", 1_709_208_000),
            ("1970-01-01T00:00:00", 0),
        ] as [(String, Double)])
    func parse(_ text: String, _ seconds: Double) throws {
        let date = try #require(Timestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6, "\(text) → \(date.timeIntervalSince1970)")
    }

    @Test(
        arguments: [
            "", "garbage", "2024", "2024-01", "2024-1-02", "2024/01/02", "24-01-02", "2024-01-2", "2024-13-01",
            "2024-00-10", "2024-01-32", "2024-01-00", "abcd-ef-gh", "2024-01-02T", "2024-01-02T3:04:05",
            "2024-01-02T24:00:00", "2024-01-02T03:60:00", "2024-01-02T03:04:61", "2024-01-02T03:04:5",
            "2024-01-02T03:04:05.", "2024-01-02T03:04:05Zjunk", "2024-01-02T03:04:05+5", "2024-01-02T03:04:05+05:3",
            "2024-01-02T03:04:05+05:30x", "2024-01-02X03:04:05", "2024-01-02T03:04:05 ", " 2024-01-02",
            "2024-01-02T03-04-05", "2024-01-02T03:04:05.12a", "2024-01-02T03:04:05ZZ", "2024-01-02junk",
        ])
    func parseRejects(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    /// Dates that do not exist are not timestamps (Python's datetime and iso8601 refuse them).
    @Test(arguments: ["2023-02-29", "2024-02-30", "2024-04-31", "2023-02-29T00:00:00"])
    func parseRejectsDaysTheMonthDoesNotHave(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func offsetsAndZuluAgree() throws {
        let zulu = try #require(Timestamp.parse("2024-06-30T23:30:00Z"))
        #expect(Timestamp.parse("2024-07-01T01:30:00+02:00") == zulu)
        #expect(Timestamp.parse("2024-06-30T18:30:00-05:00") == zulu)
        #expect(Timestamp.parse("2024-06-30T23:30:00") == zulu)
        #expect(Timestamp.format(zulu) == "2024-06-30T23:30:00.000000")
    }

    @Test(arguments: [0.0, 1_543_474_207.770785, 1_704_164_645.123456, 2_000_000_000.999999, -12_345.25])
    func formatThenParseRoundTrips(_ seconds: Double) throws {
        let date = Date(timeIntervalSince1970: seconds)
        let parsed = try #require(Timestamp.parse(Timestamp.format(date)))
        #expect(abs(parsed.timeIntervalSince1970 - seconds) < 1e-6)
    }
}
