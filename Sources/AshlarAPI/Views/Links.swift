import AshlarCore
import Foundation

/// Resource and collection links, as Cinder's view builders make them.
enum Links {
    static func resource(_ context: APIRequestContext, collection: String, id: String) -> JSONValue {
        [
            ["rel": "self", "href": .string("\(context.baseURL)/v3/\(context.linkProject)/\(collection)/\(id)")],
            ["rel": "bookmark", "href": .string("\(context.baseURL)/\(context.linkProject)/\(collection)/\(id)")],
        ]
    }

    /// The `next` link when a page is full: the same query with `marker` set to the last id.
    static func next(
        _ context: APIRequestContext, path: String, parameters: ListParameters, lastID: String
    ) -> JSONValue {
        var query = parameters.params.filter { $0.0 != "marker" }
        query.append(("marker", lastID))
        let text = query.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
        return [["rel": "next", "href": .string("\(context.baseURL)/v3/\(context.linkProject)/\(path)?\(text)")]]
    }

    private static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
