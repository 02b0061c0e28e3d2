import AshlarCore
import Foundation
import Hummingbird

/// The query string of a list request, read the way Cinder's `api/common.py` reads it.
struct ListParameters {
    var params: [(String, String)]

    init(_ request: Request) {
        params = Self.parse(request.uri.query ?? "")
    }

    /// The pairs of a query string as a form decodes them (as webob does for Cinder): `+` is a space, then
    /// percent escapes. The openstack CLI sends `metadata={'a':+'b'}`.
    static func parse(_ query: String) -> [(String, String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    func value(_ key: String) -> String? { params.last(where: { $0.0 == key })?.1 }

    /// `limit` (capped at `osapi_max_limit`), `marker`, `offset`.
    func pagination(maxLimit: Int) throws(AshlarError) -> (limit: Int, marker: String?, offset: Int?) {
        var limit = maxLimit
        if let text = value("limit") {
            guard let n = Int(text) else { throw AshlarError(.invalidInput, "limit param must be an integer") }
            guard n >= 0 else { throw AshlarError(.invalidInput, "limit param must be positive") }
            limit = min(n, maxLimit)
        }
        var offset: Int?
        if let text = value("offset") {
            guard let n = Int(text) else { throw AshlarError(.invalidInput, "offset param must be an integer") }
            guard n >= 0 else { throw AshlarError(.invalidInput, "offset param must be positive") }
            offset = n
        }
        return (limit, value("marker"), offset)
    }

    /// One page of a list kept in memory, in its order: after the `marker` (404 when it is not there), past
    /// `offset`, at most `limit` (returned too); `more` when rows were left beyond the page.
    func page<Item>(
        _ items: [Item], id: (Item) -> String, maxLimit: Int
    ) throws(AshlarError) -> (items: [Item], more: Bool, limit: Int) {
        let page = try pagination(maxLimit: maxLimit)
        var rest = items[...]
        if let marker = page.marker {
            guard let index = rest.firstIndex(where: { id($0) == marker }) else {
                throw AshlarError(.notFound, "Marker \(marker) could not be found.")
            }
            rest = rest[(index + 1)...]
        }
        if let offset = page.offset { rest = rest.dropFirst(offset) }
        return (Array(rest.prefix(page.limit)), rest.count > page.limit, page.limit)
    }

    /// A boolean query parameter (`?force=true`); false when absent.
    func flag(_ key: String) throws(AshlarError) -> Bool {
        guard let text = value(key) else { return false }
        guard let b = ExtraSpecMatcher.parseBool(text) else {
            throw AshlarError(.invalidInput, "Invalid input received: \(key)='\(text)' is not a boolean.")
        }
        return b
    }

    /// `sort=k1:dir,k2` or the older `sort_key`/`sort_dir`; never both.
    func sortKeys(allowed: Set<String>) throws(AshlarError) -> [ListQuery.SortKey] {
        let sort = value("sort")
        let sortKey = value("sort_key")
        let sortDir = value("sort_dir")
        if sort != nil && (sortKey != nil || sortDir != nil) {
            throw AshlarError(
                .invalidInput,
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
        }
        var keys: [ListQuery.SortKey] = []
        func direction(_ text: String?) throws(AshlarError) -> Bool {
            guard let text, !text.isEmpty else { return false }
            switch text.lowercased() {
            case "asc": return true
            case "desc": return false
            default:
                throw AshlarError(
                    .invalidInput, "Invalid input received: Unknown sort direction \(text), must be 'desc' or 'asc'")
            }
        }
        if let sort {
            for item in sort.split(separator: ",") {
                let parts = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard let key = parts.first, !key.isEmpty else {
                    throw AshlarError(.invalidInput, "Invalid input received: Invalid sort key in '\(sort)'")
                }
                keys.append(.init(key, ascending: try direction(parts.count > 1 ? parts[1] : nil)))
            }
        } else if let sortKey {
            keys.append(.init(sortKey, ascending: try direction(sortDir)))
        } else if let sortDir {
            keys.append(.init("created_at", ascending: try direction(sortDir)))
        }
        for key in keys where !allowed.contains(key.field) {
            throw AshlarError(.invalidInput, "Invalid input received: Invalid sort key \(key.field)")
        }
        return keys.isEmpty ? [.init("created_at", ascending: false)] : keys
    }

    /// `with_count=true` (3.45).
    func withCount(_ context: APIRequestContext) throws(AshlarError) -> Bool {
        guard context.version >= APIVersion(3, 45), let text = value("with_count") else { return false }
        guard let b = ExtraSpecMatcher.parseBool(text) else {
            throw AshlarError(.invalidInput, "Invalid input received: with_count must be a boolean, not '\(text)'")
        }
        return b
    }

    /// Admin `all_tenants=1`: list every project's resources.
    func allTenants(_ context: APIRequestContext) -> Bool {
        guard context.caller.isAdmin, let text = value("all_tenants") else { return false }
        return ExtraSpecMatcher.parseBool(text) ?? true
    }

    /// Keys that steer the listing itself rather than filter it.
    static let reserved: Set<String> = [
        "limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count", "all_tenants", "detail",
    ]

    /// `metadata={'k': 'v'}`: a Python-literal dict, as the clients send it; JSON is accepted too.
    static func parseLiteralDict(_ text: String) -> [String: String]? {
        if let value = try? JSONValue.parse(Data(text.utf8)), case .object(let o) = value {
            return o.compactMapValues { $0.stringValue ?? $0.rendered }
        }
        var json = ""
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q {
                    json.append("\""); quote = nil
                } else if c == "\"" {
                    json.append("\\\"")
                } else {
                    json.append(c)
                }
            } else if c == "'" || c == "\"" {
                quote = c
                json.append("\"")
            } else {
                json.append(c)
            }
        }
        json = json.replacingOccurrences(of: "True", with: "true").replacingOccurrences(of: "False", with: "false")
            .replacingOccurrences(of: "None", with: "null")
        guard let value = try? JSONValue.parse(Data(json.utf8)), case .object(let o) = value else { return nil }
        return o.compactMapValues { $0.stringValue ?? $0.rendered }
    }

    /// `gt:2024-01-01T00:00:00,lte:…` (3.60) as conditions on `field`.
    static func timeConditions(field: String, text: String) throws(AshlarError) -> [ListQuery.Condition] {
        var result: [ListQuery.Condition] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            let opNames: [String: ListQuery.Operator] = [
                "gt": .gt, "gte": .gte, "eq": .eq, "neq": .neq, "lt": .lt, "lte": .lte,
            ]
            let op: ListQuery.Operator
            let dateText: String
            if parts.count == 2, let known = opNames[parts[0]] {
                op = known
                dateText = parts[1]
            } else {
                op = .eq
                dateText = String(item)
            }
            guard let date = Timestamp.parse(dateText) else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid input received: '\(item)' is not a valid time filter; use gt, gte, eq, neq, lt or lte with an ISO 8601 time, e.g. gte:2024-01-31T12:00:00"
                )
            }
            result.append(.init(field, op, .date(date)))
        }
        return result
    }
}
