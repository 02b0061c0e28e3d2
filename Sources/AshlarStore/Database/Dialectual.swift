import Foundation
import SQLKit

/// The few expressions SQLite and PostgreSQL spell differently, each decided where it is serialised, from the
/// statement's dialect. Everything else the stores write is the SQL both accept.
enum Dialectual {
    /// The text at `key` of a JSON object stored as text in `column`.
    struct JSONText: SQLExpression {
        let column: String
        let key: String

        func serialize(to serializer: inout SQLSerializer) {
            if serializer.dialect.name == "postgresql" {
                serializer.write("(CAST(")
                SQLIdentifier(column).serialize(to: &serializer)
                serializer.write(" AS jsonb) ->> ")
                serializer.write(bind: key)
                serializer.write(")")
            } else {
                serializer.write("json_extract(")
                SQLIdentifier(column).serialize(to: &serializer)
                serializer.write(", ")
                serializer.write(bind: "$.\"" + key.replacingOccurrences(of: "\"", with: "") + "\"")
                serializer.write(")")
            }
        }
    }

    /// `column` contains `text`, ignoring the case of ASCII letters (SQLite's LIKE; PostgreSQL's ILIKE), with
    /// `%`, `_` and `\` in `text` taken literally.
    struct Contains: SQLExpression {
        let column: String
        let text: String

        func serialize(to serializer: inout SQLSerializer) {
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            SQLIdentifier(column).serialize(to: &serializer)
            serializer.write(serializer.dialect.name == "postgresql" ? " ILIKE " : " LIKE ")
            serializer.write(bind: "%" + escaped + "%")
            serializer.write(" ESCAPE '\\'")
        }
    }
}
