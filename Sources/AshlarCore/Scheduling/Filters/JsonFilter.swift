import Foundation

/// Keeps pools that satisfy the `query` scheduler hint, a JSON text such as
/// `["and", [">=", "$free_capacity_gb", 10], ["=", "$backend_id", "h@b#p"]]`
/// (`cinder/scheduler/filters/json_filter.py`).
///
/// A query is `[operator, arg, …]`. An argument that is a list is a sub-query (its truth value); a string
/// starting with `$` is a pool attribute (`$free_capacity_gb`, `$total_capacity_gb`, `$allocated_capacity_gb`,
/// `$provisioned_capacity_gb`, `$reserved_percentage`, `$max_over_subscription_ratio`,
/// `$thin_provisioning_support`, `$thick_provisioning_support`, `$backend_id`, `$host`, `$pool_name`,
/// `$availability_zone`, `$total_volumes`, `$capabilities`, and `$capabilities.<key>[.<key>…]`); anything else
/// is a literal. As upstream, an attribute the pool does not have, a null, or an empty string is dropped from
/// the arguments. Infinite or unknown capacities read as the strings `"infinite"` and `"unknown"`.
///
/// Operators: `=`, `<`, `>`, `<=`, `>=` compare the first argument with every other one (fewer than two
/// arguments is false); `in` is true when the first argument equals one of the others; `not` is true when any
/// argument is false; `or` when any is true; `and` when all are. Values compare as Python does: numbers (and
/// booleans) numerically, strings by text, lists and objects by equality only; an ordering between values of
/// different kinds is false (upstream raises). `$backend_id` and `$host` are both the pool's
/// `host@backend#pool`, as on upstream's PoolState.
///
/// An absent, null or empty query passes. A query that is not JSON, not a list, or uses an unknown operator
/// fails every pool, saying why. Unlike upstream, a nested `not` counts as its truth value, not as a (always
/// truthy) list, so `["and", ["not", q]]` means what it says.
public struct JsonFilter: BackendFilter {
    public init() {}
    public var name: String { "JsonFilter" }

    /// The operators the query language knows.
    public static let operators: Set<String> = ["=", "<", ">", "in", "<=", ">=", "not", "or", "and"]

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        let hint = spec.schedulerHints["query"] ?? .null
        let text: String
        let query: JSONValue
        switch hint {
        case .null:
            return nil
        case .string(let s):
            if s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return nil }
            guard let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(s.utf8)) else {
                return "cannot be chosen because the query hint is not valid JSON: \(s)"
            }
            text = s
            query = parsed
        case .array:
            // Already parsed (a client that sent the list itself); read it the same way.
            text = hint.rendered
            query = hint
        default:
            return "cannot be chosen because the query hint is \(hint.rendered), not a JSON list such as "
                + #"[">=", "$free_capacity_gb", 10]"#
        }
        guard case .array(let list) = query else {
            return "cannot be chosen because the query hint \(text) is not a JSON list such as "
                + #"[">=", "$free_capacity_gb", 10]"#
        }
        do {
            return try Self.evaluate(list, on: pool) ? nil : "does not satisfy the query hint \(text)"
        } catch {
            return "cannot be chosen because the query hint \(text) is not a valid filter: \(error.message)"
        }
    }

    /// Why a query cannot be evaluated.
    struct QueryError: Error {
        var message: String
    }

    /// The truth value of one (sub-)query on `pool`. An empty query is true.
    static func evaluate(_ query: [JSONValue], on pool: PoolState) throws(QueryError) -> Bool {
        guard let head = query.first else { return true }
        guard case .string(let op) = head, operators.contains(op) else {
            throw QueryError(
                message: "'\(head.rendered)' is not an operator (one of =, <, >, in, <=, >=, not, or, and)")
        }
        var args: [JSONValue] = []
        for arg in query.dropFirst() {
            switch arg {
            case .array(let sub): args.append(.bool(try evaluate(sub, on: pool)))
            case .string(let s):
                if s.isEmpty { continue }
                if s.hasPrefix("$") {
                    if let value = attribute(String(s.dropFirst()), of: pool), !value.isNull { args.append(value) }
                } else {
                    args.append(arg)
                }
            case .null: continue
            default: args.append(arg)
            }
        }
        switch op {
        case "not": return args.contains { !truthy($0) }
        case "or": return args.contains(where: truthy)
        case "and": return args.allSatisfy(truthy)
        case "in":
            guard args.count >= 2 else { return false }
            return args.dropFirst().contains { equal(args[0], $0) }
        default:
            guard args.count >= 2 else { return false }
            return args.dropFirst().allSatisfy { compare(args[0], op, $0) }
        }
    }

    /// A pool attribute by its `$` path without the `$`; nil when the pool has no such attribute.
    static func attribute(_ path: String, of pool: PoolState) -> JSONValue? {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first else { return nil }
        var value: JSONValue
        switch first {
        case "free_capacity_gb": value = json(pool.freeCapacityGB)
        case "total_capacity_gb": value = json(pool.totalCapacityGB)
        case "allocated_capacity_gb": value = .double(pool.allocatedCapacityGB)
        case "provisioned_capacity_gb": value = .double(pool.provisionedCapacityGB)
        case "reserved_percentage": value = .double(pool.reservedPercentage)
        case "max_over_subscription_ratio": value = .double(pool.maxOverSubscriptionRatio)
        case "thin_provisioning_support": value = .bool(pool.thinProvisioningSupport)
        case "thick_provisioning_support": value = .bool(pool.thickProvisioningSupport)
        case "backend_id", "host": value = .string(pool.name)
        case "pool_name": value = .string(pool.poolName)
        case "availability_zone": value = .string(pool.availabilityZone)
        case "total_volumes": value = .int(Int64(pool.totalVolumes))
        case "capabilities": value = .object(pool.capabilities)
        default: return nil
        }
        for key in parts.dropFirst() {
            guard case .object(let dict) = value, let next = dict[key] else { return nil }
            value = next
        }
        return value
    }

    private static func json(_ capacity: Capacity) -> JSONValue {
        switch capacity {
        case .gb(let v): .double(v)
        case .infinite: .string("infinite")
        case .unknown: .string("unknown")
        }
    }

    /// Python's truth value.
    static func truthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .bool(let b): b ? 1 : 0
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// Python's `==`: numbers (booleans included) by value, strings by text, lists and objects element-wise.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        switch (a, b) {
        case (.null, .null): return true
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, v in y[key].map { equal(v, $0) } ?? false }
        default: return false
        }
    }

    /// `a op b` for `=`, `<`, `>`, `<=`, `>=`; an ordering of values that cannot be ordered is false.
    static func compare(_ a: JSONValue, _ op: String, _ b: JSONValue) -> Bool {
        if op == "=" { return equal(a, b) }
        let order: ComparisonResult
        if let x = number(a), let y = number(b) {
            order = x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
        } else if case .string(let x) = a, case .string(let y) = b {
            let (u, v) = (Array(x.unicodeScalars.map(\.value)), Array(y.unicodeScalars.map(\.value)))
            order = u.lexicographicallyPrecedes(v) ? .orderedAscending : (u == v ? .orderedSame : .orderedDescending)
        } else {
            return false
        }
        switch op {
        case "<": return order == .orderedAscending
        case ">": return order == .orderedDescending
        case "<=": return order != .orderedDescending
        case ">=": return order != .orderedAscending
        default: return false
        }
    }
}
