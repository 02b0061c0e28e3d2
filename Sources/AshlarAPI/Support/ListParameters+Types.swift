import AshlarCore
import Foundation
import Hummingbird

/// What volume types and group types have in common for a listing: sorted, paged and filtered alike.
protocol ListedType {
    var id: String { get }
    var name: String { get }
    var description: String? { get }
    var isPublic: Bool { get }
    var createdAt: Date { get }
}

extension VolumeType: ListedType {}
extension GroupType: ListedType {}

extension ListParameters {
    /// `is_public` as upstream's `_parse_is_public` reads it: absent means public only, `None` means all.
    func isPublicFilter() throws(AshlarError) -> Bool? {
        guard let text = value("is_public") else { return true }
        if text.lowercased() == "none" { return nil }
        guard let b = ExtraSpecMatcher.parseBool(text) else {
            throw AshlarError(.invalidInput, "Invalid is_public filter [\(text)]")
        }
        return b
    }

    /// The types sorted by the request's `sort` (id, name, created_at, description, is_public), ties by id, and
    /// the page of them with its `<collection>_links` when there are more.
    func typePage<T: ListedType>(
        _ types: [T], maxLimit: Int, context: APIRequestContext, path: String, linksKey: String,
        view: (T) -> JSONValue, key: String
    ) throws(AshlarError) -> JSONValue {
        let sort = try sortKeys(allowed: ["id", "name", "created_at", "description", "is_public"])
        func sortValue(_ t: T, _ field: String) -> String {
            switch field {
            case "name": t.name
            case "description": t.description ?? ""
            case "is_public": t.isPublic ? "1" : "0"
            case "created_at": String(format: "%020.6f", t.createdAt.timeIntervalSince1970)
            default: t.id
            }
        }
        let sorted = types.sorted { a, b in
            for key in sort {
                let (x, y) = (sortValue(a, key.field), sortValue(b, key.field))
                if x != y { return key.ascending ? x < y : x > y }
            }
            return a.id < b.id
        }
        let (shown, more, limit) = try page(sorted, id: \.id, maxLimit: maxLimit)
        var body: [String: JSONValue] = [key: .array(shown.map(view))]
        if more || (shown.count == limit && value("limit") != nil), let last = shown.last {
            body[linksKey] = Links.next(context, path: path, parameters: self, lastID: last.id)
        }
        return .object(body)
    }
}
