import AshlarCore
import Foundation

/// The scheduler's view of the backends: the newest capability report of each, plus what this scheduler has
/// placed since, so that a burst of creates spreads out before the next report arrives.
public actor HostManager {
    private var pools: [String: [PoolState]] = [:]
    private var reportTimes: [String: Double] = [:]
    /// Sizes placed on a backend since its last report.
    private var placedSinceReport: [String: [(pool: String, size: Int)]] = [:]

    public init() {}

    /// Takes in a report; an older one than the last seen for that backend is ignored.
    public func update(backend: String, availabilityZone: String, capabilities: [String: JSONValue], timestamp: Double)
    {
        if let last = reportTimes[backend], last > timestamp { return }
        reportTimes[backend] = timestamp
        pools[backend] = PoolState.pools(
            fromReport: capabilities, backend: backend, availabilityZone: availabilityZone,
            at: Date(timeIntervalSince1970: timestamp))
        placedSinceReport[backend] = nil
    }

    /// Whether any backend has reported.
    public var hasReports: Bool { !pools.isEmpty }

    /// The pools of the backends in `usable`, with local placements applied.
    public func pools(usable: Set<String>) -> [PoolState] {
        var result: [PoolState] = []
        for backend in pools.keys.sorted() where usable.contains(backend) {
            var list = pools[backend] ?? []
            for placed in placedSinceReport[backend] ?? [] {
                if let i = list.firstIndex(where: { $0.name == placed.pool }) { list[i].consume(sizeGB: placed.size) }
            }
            result.append(contentsOf: list)
        }
        return result
    }

    /// Every pool known, for get_pools.
    public func allPools() -> [PoolState] {
        pools.keys.sorted().flatMap { pools[$0] ?? [] }
    }

    /// Records a placement until the backend's next report accounts for it.
    public func consume(pool: PoolState, sizeGB: Int) {
        placedSinceReport[pool.backend, default: []].append((pool.name, sizeGB))
    }
}
