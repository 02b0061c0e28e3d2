import Foundation

/// Keeps pools that hold none of the volumes named by the `different_host` scheduler hint (a volume UUID or a
/// list of them), as `DifferentBackendFilter` in `cinder/scheduler/filters/affinity_filter.py` does.
///
/// The match is pool-exact against `spec.volumeHostsForHints` (a volume missing from that map does not exist,
/// so it is on no pool). No hint, or an empty list, passes; a value that is not a UUID fails every pool.
public struct DifferentBackendFilter: BackendFilter {
    public init() {}
    public var name: String { "DifferentBackendFilter" }

    public func isNeeded(for spec: RequestSpec) -> Bool { spec.schedulerHints["different_host"] != nil }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        switch AffinityHint.read("different_host", from: spec) {
        case .none:
            return nil
        case .invalid(let why):
            return "cannot be chosen because \(why)"
        case .volumes(let ids):
            let here = AffinityHint.volumes(ids, on: pool, in: spec)
            guard !here.isEmpty else { return nil }
            let noun = here.count == 1 ? "volume" : "volumes"
            return "holds \(noun) \(here.joined(separator: ", ")), and the different_host hint asks for a pool "
                + "without \(here.count == 1 ? "it" : "them")"
        }
    }
}
