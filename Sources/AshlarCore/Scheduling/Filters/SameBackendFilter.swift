import Foundation

/// Keeps pools that hold at least one of the volumes named by the `same_host` scheduler hint (a volume UUID or
/// a list of them), as `SameBackendFilter` in `cinder/scheduler/filters/affinity_filter.py` does.
///
/// The match is pool-exact against `spec.volumeHostsForHints` (a volume missing from that map does not exist,
/// so it is on no pool). No hint, or an empty list, passes; a value that is not a UUID fails every pool.
public struct SameBackendFilter: BackendFilter {
    public init() {}
    public var name: String { "SameBackendFilter" }

    public func isNeeded(for spec: RequestSpec) -> Bool { spec.schedulerHints["same_host"] != nil }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        switch AffinityHint.read("same_host", from: spec) {
        case .none:
            return nil
        case .invalid(let why):
            return "cannot be chosen because \(why)"
        case .volumes(let ids):
            guard AffinityHint.volumes(ids, on: pool, in: spec).isEmpty else { return nil }
            let located = ids.map { id in
                AffinityHint.host(of: id, in: spec).map { "\(id) is on \($0)" } ?? "\(id) does not exist"
            }
            return "holds none of the volumes the same_host hint names (\(located.joined(separator: "; ")))"
        }
    }
}
