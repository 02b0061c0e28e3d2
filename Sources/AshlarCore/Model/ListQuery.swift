import Foundation

/// A list request after the API has validated it: which rows, in what order, which page.
public struct ListQuery: Sendable, Hashable {
    /// A comparison on one field.
    public enum Operator: String, Sendable, Hashable {
        case eq, neq, gt, gte, lt, lte
        /// SQL LIKE with `%value%` (the `~` filters of microversion 3.34).
        case like
    }

    /// A typed filter value.
    public enum Value: Sendable, Hashable {
        case string(String)
        case int(Int)
        case bool(Bool)
        case date(Date)
        case null
    }

    /// One filter condition.
    public struct Condition: Sendable, Hashable {
        public var field: String
        public var op: Operator
        public var value: Value
        public init(_ field: String, _ op: Operator, _ value: Value) {
            self.field = field
            self.op = op
            self.value = value
        }
    }

    /// One sort key.
    public struct SortKey: Sendable, Hashable {
        public var field: String
        public var ascending: Bool
        public init(_ field: String, ascending: Bool) {
            self.field = field
            self.ascending = ascending
        }
    }

    /// nil lists every project's resources (admin `all_tenants`).
    public var projectID: String?
    public var conditions: [Condition]
    /// Every pair must be present in the resource's metadata.
    public var metadata: [String: String]
    public var sort: [SortKey]
    public var limit: Int?
    public var marker: String?
    public var offset: Int?

    public init(
        projectID: String?, conditions: [Condition] = [], metadata: [String: String] = [:],
        sort: [SortKey] = [SortKey("created_at", ascending: false)], limit: Int? = nil, marker: String? = nil,
        offset: Int? = nil
    ) {
        self.projectID = projectID
        self.conditions = conditions
        self.metadata = metadata
        self.sort = sort
        self.limit = limit
        self.marker = marker
        self.offset = offset
    }
}
