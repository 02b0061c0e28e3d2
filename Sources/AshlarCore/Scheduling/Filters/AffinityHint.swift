import Foundation

/// The reading of an affinity hint (`different_host` / `same_host`) shared by ``DifferentBackendFilter`` and
/// ``SameBackendFilter``, as `cinder/scheduler/filters/affinity_filter.py` reads it.
enum AffinityHint: Sendable, Hashable {
    /// The hint is absent or an empty list: the filter passes.
    case none
    /// The volume ids the hint names.
    case volumes([String])
    /// A value that is not a UUID or a list of UUIDs; the filter fails every pool with this text.
    case invalid(String)

    /// Reads hint `key` of `spec`: a UUID string or a list of them. Anything else is `.invalid`.
    static func read(_ key: String, from spec: RequestSpec) -> AffinityHint {
        guard let value = spec.schedulerHints[key] else { return .none }
        switch value {
        case .string(let id):
            return isUUIDLike(id) ? .volumes([id]) : .invalid("the \(key) hint '\(id)' is not a volume UUID")
        case .array(let items):
            var ids: [String] = []
            for item in items {
                guard case .string(let id) = item, isUUIDLike(id) else {
                    return .invalid("the \(key) hint contains '\(item.rendered)', which is not a volume UUID")
                }
                ids.append(id)
            }
            return ids.isEmpty ? .none : .volumes(ids)
        default:
            return .invalid("the \(key) hint is \(value.rendered), not a volume UUID or a list of them")
        }
    }

    /// The hinted volumes that live on `pool` (pool-exact), in hint order, by `spec.volumeHostsForHints`.
    static func volumes(_ ids: [String], on pool: PoolState, in spec: RequestSpec) -> [String] {
        ids.filter { host(of: $0, in: spec) == pool.name }
    }

    /// The host of a hinted volume; ids are matched as given, then in lower case (UUIDs are case-insensitive).
    static func host(of id: String, in spec: RequestSpec) -> String? {
        spec.volumeHostsForHints[id] ?? spec.volumeHostsForHints[id.lowercased()]
    }

    /// oslo's `uuidutils.is_uuid_like`: 32 hex digits once an optional `urn:uuid:` prefix, braces and hyphens are
    /// dropped, in the canonical 8-4-4-4-12 grouping or with no hyphens at all.
    static func isUUIDLike(_ text: String) -> Bool {
        var s = text.lowercased()
        if s.hasPrefix("urn:uuid:") { s.removeFirst(9) }
        if s.hasPrefix("{") && s.hasSuffix("}") && s.count >= 2 { s = String(s.dropFirst().dropLast()) }
        let hex = s.filter { $0 != "-" }
        guard hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return false }
        let groups = s.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        return groups == [32] || groups == [8, 4, 4, 4, 12]
    }
}
