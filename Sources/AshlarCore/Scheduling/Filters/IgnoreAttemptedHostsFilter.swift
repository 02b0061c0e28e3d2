import Foundation

/// Keeps pools whose backend has not already failed to create this volume
/// (`cinder/scheduler/filters/ignore_attempted_hosts_filter.py`): a pool passes iff its `host@backend` is not in
/// `spec.attemptedHosts`. A first attempt (no attempted hosts) passes everywhere.
public struct IgnoreAttemptedHostsFilter: BackendFilter {
    public init() {}
    public var name: String { "IgnoreAttemptedHostsFilter" }

    public func isNeeded(for spec: RequestSpec) -> Bool { !spec.attemptedHosts.isEmpty }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        guard let attempt = spec.attemptedHosts.firstIndex(of: pool.backend) else { return nil }
        return "is skipped because its backend \(pool.backend) already failed to create this volume "
            + "(attempt \(attempt + 1) of \(spec.attemptedHosts.count))"
    }
}
