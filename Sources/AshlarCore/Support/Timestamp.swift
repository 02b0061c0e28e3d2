import Foundation

/// Cinder's timestamps: naive UTC ISO 8601 with microseconds and no zone, e.g. `2018-11-29T06:50:07.770785`.
public enum Timestamp {
    /// Formats `date` the way Cinder's API and database show it.
    public static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var seconds = micros / 1_000_000
        var fraction = micros % 1_000_000
        if fraction < 0 {
            fraction += 1_000_000
            seconds -= 1
        }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        // Built by hand: String(format:) is slow on Linux and this runs for every timestamp in every view.
        var out = [UInt8](repeating: 0, count: 26)
        func put(_ value: Int, at index: Int, digits: Int) {
            var v = value
            for i in stride(from: index + digits - 1, through: index, by: -1) {
                out[i] = UInt8(48 + v % 10)
                v /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, at: 0, digits: 4)
        out[4] = 45
        put(Int(parts.tm_mon) + 1, at: 5, digits: 2)
        out[7] = 45
        put(Int(parts.tm_mday), at: 8, digits: 2)
        out[10] = 84
        put(Int(parts.tm_hour), at: 11, digits: 2)
        out[13] = 58
        put(Int(parts.tm_min), at: 14, digits: 2)
        out[16] = 58
        put(Int(parts.tm_sec), at: 17, digits: 2)
        out[19] = 46
        put(Int(fraction), at: 20, digits: 6)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses the formats clients send in filters: `2024-01-02`, `2024-01-02T03:04:05`, with optional fraction and
    /// an optional `Z` or `±hh:mm` zone. Returns nil when the text is not a timestamp.
    public static func parse(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= scalars.count else { return nil }
            var value = 0
            for c in scalars[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        guard let year = number(0, 4), scalars.count >= 10, scalars[4] == 45, let month = number(5, 2),
            scalars[7] == 45, let day = number(8, 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        var index = 10
        var offset = 0
        if index < scalars.count {
            guard scalars[index] == 84 || scalars[index] == 32, let h = number(index + 1, 2), scalars.count > index + 3,
                scalars[index + 3] == 58, let m = number(index + 4, 2), h < 24, m < 60
            else { return nil }
            hour = h
            minute = m
            index += 6
            if index < scalars.count, scalars[index] == 58 {
                guard let s = number(index + 1, 2), s < 61 else { return nil }
                second = s
                index += 3
            }
            if index < scalars.count, scalars[index] == 46 {
                var digits = 0
                var scale = 0.1
                index += 1
                while index < scalars.count, scalars[index] >= 48, scalars[index] <= 57 {
                    fraction += Double(scalars[index] - 48) * scale
                    scale /= 10
                    index += 1
                    digits += 1
                }
                guard digits > 0 else { return nil }
            }
            if index < scalars.count {
                if scalars[index] == 90 {
                    index += 1
                } else if scalars[index] == 43 || scalars[index] == 45 {
                    let sign = scalars[index] == 43 ? 1 : -1
                    guard let oh = number(index + 1, 2) else { return nil }
                    var om = 0
                    if index + 3 < scalars.count {
                        let colon = scalars[index + 3] == 58 ? 1 : 0
                        guard let m = number(index + 3 + colon, 2) else { return nil }
                        om = m
                        index += 3 + colon + 2
                    } else {
                        index += 3
                    }
                    offset = sign * (oh * 3600 + om * 60)
                }
            }
            guard index == scalars.count else { return nil }
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        // timegm rolls 2023-02-29 into March: refuse days the month does not have.
        var check = epoch
        var back = tm()
        gmtime_r(&check, &back)
        guard back.tm_mday == Int32(day), back.tm_mon == Int32(month - 1) else { return nil }
        return Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
    }
}
