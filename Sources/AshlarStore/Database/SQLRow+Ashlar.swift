import Foundation
import SQLKit

extension SQLRow {
    /// Decodes a timestamp column stored as seconds since 1970.
    func date(_ column: String) throws -> Date {
        Date(timeIntervalSince1970: try decode(column: column, as: Double.self))
    }

    func optionalDate(_ column: String) throws -> Date? {
        try optional(column, Double.self).map(Date.init(timeIntervalSince1970:))
    }

    /// A nullable column. Checked for NULL first: decoding `T?` directly takes the drivers' slow generic path.
    func optional<T: Decodable>(_ column: String, _ type: T.Type) throws -> T? {
        try decodeNil(column: column) ? nil : decode(column: column, as: T.self)
    }

    /// Decodes a string map stored as JSON text.
    func stringMap(_ column: String) throws -> [String: String] {
        let text = try decode(column: column, as: String.self)
        if text == "{}" { return [:] }  // the common case, without a decoder
        return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }
}

/// Encodes a string map as canonical JSON text for a TEXT column.
func encodeMap(_ map: [String: String]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: (try? encoder.encode(map)) ?? Data("{}".utf8), as: UTF8.self)
}

extension Date {
    /// The stored form of a timestamp.
    var stored: Double { timeIntervalSince1970 }
}
