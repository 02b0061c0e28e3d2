import AshlarCore
import Foundation

extension ListParameters {
    /// What a resource's own handling made of one filter.
    enum FilterHandling {
        /// Done: it changed the query.
        case handled
        /// The filter can match nothing (a field the resource never has a value for).
        case matchesNothing
        /// Not special: matched as text against the resource's column.
        case generic
    }

    /// The project, sort and filters of a list request, read as every Cinder listing reads them: `~` (LIKE) from
    /// 3.34, `display_name` for `name`, `project_id` for admins only, a filter outside `userFilters` refused to
    /// users from 3.31 (dropped before), `metadata` as a Python-literal dict, `consumes_quota` as a boolean, and
    /// the rest matched as text against `columns` once `special` has passed on it. Nil when a filter can match
    /// nothing (a field the resource does not have gives an admin an empty list, as Cinder's database layer does).
    func listQuery(
        _ context: APIRequestContext, userFilters: Set<String>, columns: [String: String],
        special: (_ key: String, _ value: String, _ query: inout ListQuery) async throws -> FilterHandling = { _, _, _ in
            .generic
        }
    ) async throws -> ListQuery? {
        var query = ListQuery(projectID: allTenants(context) ? nil : context.caller.projectID)
        query.sort = try sortKeys(allowed: Set(columns.keys))
        var matchesNothing = false
        for (rawKey, value) in params where !Self.reserved.contains(rawKey) {
            var key = rawKey
            var like = false
            if key.hasSuffix("~") {
                guard context.version >= APIVersion(3, 34) else { continue }
                key.removeLast()
                like = true
            }
            if key == "display_name" { key = "name" }
            if key == "project_id" {
                if context.caller.isAdmin { query.projectID = value }
                continue
            }
            if !userFilters.contains(key) && !context.caller.isAdmin {
                if context.version >= APIVersion(3, 31) {
                    throw AshlarError(
                        .invalidInput, "Invalid input received: Invalid filters \(rawKey) are found in query options.")
                }
                continue
            }
            switch try await special(key, value, &query) {
            case .handled: continue
            case .matchesNothing:
                matchesNothing = true
                continue
            case .generic: break
            }
            switch key {
            case "metadata":
                guard let pairs = Self.parseLiteralDict(value) else {
                    throw AshlarError(
                        .invalidInput,
                        "Invalid input received: metadata filter '\(value)' is not a dictionary, e.g. {'key': 'value'}")
                }
                query.metadata.merge(pairs) { _, new in new }
            case "consumes_quota", "multiattach", "encrypted":
                guard let b = ExtraSpecMatcher.parseBool(value) else {
                    throw AshlarError(.invalidInput, "Invalid input received: \(key)={\(value)} is not a boolean.")
                }
                query.conditions.append(.init(key, .eq, .bool(b)))
            default:
                if columns[key] != nil {
                    query.conditions.append(.init(key, like ? .like : .eq, .string(value)))
                } else {
                    matchesNothing = true
                }
            }
        }
        return matchesNothing ? nil : query
    }
}

extension ListQuery {
    /// The same query, limited to one page (`ListParameters.pagination`).
    func paged(_ page: (limit: Int, marker: String?, offset: Int?)) -> ListQuery {
        var query = self
        query.limit = page.limit
        query.marker = page.marker
        query.offset = page.offset
        return query
    }
}
