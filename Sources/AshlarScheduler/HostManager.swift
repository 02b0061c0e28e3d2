import AshlarCore
import Foundation

/// The scheduler's view of the backends: the newest capability report of each pool, with what this scheduler
/// has placed there since, so that a burst of creates spreads out before the next report arrives.
///
/// Built for many pools: reports update their pools in place, the pools of usable backends are kept as a ready
/// array (rebuilt only when the set of usable backends changes), so a decision takes it without copying or
/// looking anything up.
public actor HostManager {
    /// Every pool known, in the order they first reported.
    private var all: [PoolState] = []
    /// Pool name → position in `all`.
    private var position: [String: Int] = [:]
    /// Backend → the names of its pools.
    private var poolsOfBackend: [String: [String]] = [:]
    private var reportTimes: [String: Double] = [:]
    /// Backends that may not take volumes (down, disabled or frozen): usually few.
    private var unusable: Set<String> = []
    /// The pools of usable backends, and pool name → position there.
    private var usableView: [PoolState] = []
    private var usablePosition: [String: Int] = [:]

    public init() {}

    /// Takes in a report; an older one than the last seen for that backend is ignored.
    public func update(backend: String, availabilityZone: String, capabilities: [String: JSONValue], timestamp: Double)
    {
        if let last = reportTimes[backend], last > timestamp { return }
        reportTimes[backend] = timestamp
        let fresh = PoolState.pools(
            fromReport: capabilities, backend: backend, availabilityZone: availabilityZone,
            at: Date(timeIntervalSince1970: timestamp))
        let names = fresh.map(\.name)
        if let known = poolsOfBackend[backend], known != names {
            // The backend's pools changed (rare): drop the old ones and rebuild the positions.
            let gone = Set(known)
            all.removeAll { gone.contains($0.name) }
            poolsOfBackend[backend] = nil
            reindex()
        }
        let isUsable = !unusable.contains(backend)
        for pool in fresh {
            if let i = position[pool.name] {
                all[i] = pool
                if let j = usablePosition[pool.name] { usableView[j] = pool }
            } else {
                position[pool.name] = all.count
                all.append(pool)
                if isUsable {
                    usablePosition[pool.name] = usableView.count
                    usableView.append(pool)
                }
            }
        }
        poolsOfBackend[backend] = names
    }

    /// Sets which backends may not take volumes (down, disabled, frozen). Cheap when nothing changed.
    public func setUnusable(_ backends: Set<String>) {
        guard backends != unusable else { return }
        unusable = backends
        rebuildUsable()
    }

    /// Whether any backend has reported.
    public var hasReports: Bool { !all.isEmpty }

    /// The pools of usable backends, in first-report order.
    public func pools() -> [PoolState] { usableView }

    /// Chooses a pool for `spec` among the usable ones and, when one fits, records the placement in the same
    /// step: concurrent decisions see each other's placements, and the pool array is never copied.
    public func place(_ spec: RequestSpec, with scheduler: FilterScheduler) -> FilterScheduler.Decision {
        let decision = scheduler.choose(from: usableView, for: spec)
        if case .chosen(let pool) = decision { consume(pool: pool, sizeGB: spec.size) }
        return decision
    }

    /// Every pool known, for get_pools.
    public func allPools() -> [PoolState] { all }

    /// Records a placement in the pool's state at once; the backend's next report, which counts it, replaces it.
    public func consume(pool: PoolState, sizeGB: Int) {
        if let i = position[pool.name] { all[i].consume(sizeGB: sizeGB) }
        if let j = usablePosition[pool.name] { usableView[j].consume(sizeGB: sizeGB) }
    }

    private func reindex() {
        position = Dictionary(uniqueKeysWithValues: all.enumerated().map { ($0.element.name, $0.offset) })
        rebuildUsable()
    }

    private func rebuildUsable() {
        usableView = all.filter { !unusable.contains($0.backend) }
        usablePosition = Dictionary(uniqueKeysWithValues: usableView.enumerated().map { ($0.element.name, $0.offset) })
    }
}
