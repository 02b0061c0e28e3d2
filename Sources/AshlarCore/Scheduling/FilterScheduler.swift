import Foundation

/// Chooses a pool for a request: filters, then weighers, then the best. A pure function of its inputs.
public struct FilterScheduler: Sendable {
    public var filters: [any BackendFilter]
    public var weighers: [any BackendWeigher]

    public init(filters: [any BackendFilter], weighers: [any BackendWeigher]) {
        self.filters = filters
        self.weighers = weighers
    }

    /// Why one pool was left out.
    public struct Rejection: Sendable, Hashable, CustomStringConvertible {
        public var pool: String
        public var filter: String
        public var reason: String
        public var description: String { "\(filter): \(pool) \(reason)" }
    }

    /// A decision: the chosen pool, or every pool's rejection.
    public enum Decision: Sendable {
        case chosen(PoolState)
        case noValidBackend([Rejection])
    }

    /// Filters and weighs `pools`. Pools of a backend in `spec.attemptedHosts` are skipped, as a retry must.
    public func choose(from pools: [PoolState], for spec: RequestSpec) -> Decision {
        var rejections: [Rejection] = []
        // Positions in `pools`, not copies: a decision over ten thousand pools should not copy them.
        var candidates: [Int] = []
        candidates.reserveCapacity(pools.count)
        let attempted = Set(spec.attemptedHosts)
        let checks = filters.map { (name: $0.name, check: $0.compiled(for: spec)) }
        poolLoop: for (index, pool) in pools.enumerated() {
            if !attempted.isEmpty, attempted.contains(pool.backend) {
                rejections.append(Rejection(pool: pool.name, filter: "Retry", reason: "already failed this volume"))
                continue
            }
            for filter in checks {
                if let reason = filter.check(pool) {
                    rejections.append(Rejection(pool: pool.name, filter: filter.name, reason: reason))
                    continue poolLoop
                }
            }
            candidates.append(index)
        }
        guard !candidates.isEmpty else { return .noValidBackend(rejections) }
        if candidates.count == 1 || weighers.isEmpty { return .chosen(pools[candidates[0]]) }
        var totals = [Double](repeating: 0, count: candidates.count)
        for weigher in weighers {
            let weight = weigher.compiled(for: spec)
            let raw = candidates.map { weight(pools[$0]) }
            for (i, w) in Self.normalize(raw).enumerated() { totals[i] += w * weigher.multiplier }
        }
        var best = 0
        for i in 1..<totals.count where totals[i] > totals[best] { best = i }
        return .chosen(pools[candidates[best]])
    }

    /// Scales weights to 0…1 by the minimum and maximum. An infinite weight first becomes a finite one well
    /// above the rest (`max + (max - min) * 100`, or `max + 10000` when all are equal), as Cinder's
    /// CapacityWeigher does, so the best finite pool still ranks above the others.
    static func normalize(_ weights: [Double]) -> [Double] {
        let finite = weights.filter { $0.isFinite }
        guard let minimum = finite.min(), let maximum = finite.max() else {
            return weights.map { _ in 0 }
        }
        var top = maximum
        if weights.contains(.infinity) {
            let offset = (maximum - minimum) * 100
            top = maximum + (offset == 0 ? 10_000 : offset)
        }
        let replaced = weights.map { $0 == .infinity ? top : ($0 == -.infinity ? minimum : $0) }
        let range = top - minimum
        return replaced.map { range == 0 ? 0 : ($0 - minimum) / range }
    }

    /// Builds a scheduler from the names in the config (`scheduler_default_filters`,
    /// `scheduler_default_weighers`), in the order given. Filters: AvailabilityZoneFilter, CapacityFilter,
    /// CapabilitiesFilter, IgnoreAttemptedHostsFilter, DifferentBackendFilter, SameBackendFilter, JsonFilter, DriverFilter.
    /// Weighers: CapacityWeigher (`capacity_weight_multiplier`), AllocatedCapacityWeigher
    /// (`allocated_capacity_weight_multiplier`), VolumeNumberWeigher (`volume_number_multiplier`),
    /// ChanceWeigher (1.0), GoodnessWeigher (1.0). Unknown names (matched case-sensitively) are a configuration error.
    public static func make(
        filterNames: [String], weigherNames: [String], capacityWeightMultiplier: Double,
        allocatedCapacityWeightMultiplier: Double = -1, volumeNumberMultiplier: Double = -1
    )
        throws(AshlarError) -> FilterScheduler
    {
        var filters: [any BackendFilter] = []
        for name in filterNames {
            switch name {
            case "AvailabilityZoneFilter": filters.append(AvailabilityZoneFilter())
            case "CapacityFilter": filters.append(CapacityFilter())
            case "CapabilitiesFilter": filters.append(CapabilitiesFilter())
            case "IgnoreAttemptedHostsFilter": filters.append(IgnoreAttemptedHostsFilter())
            case "DifferentBackendFilter": filters.append(DifferentBackendFilter())
            case "SameBackendFilter": filters.append(SameBackendFilter())
            case "JsonFilter": filters.append(JsonFilter())
            case "InstanceLocalityFilter": filters.append(InstanceLocalityFilter())
            case "DriverFilter": filters.append(DriverFilter())
            default: throw AshlarError(.invalidInput, "scheduler_default_filters: unknown filter \(name)")
            }
        }
        var weighers: [any BackendWeigher] = []
        for name in weigherNames {
            switch name {
            case "CapacityWeigher": weighers.append(CapacityWeigher(multiplier: capacityWeightMultiplier))
            case "AllocatedCapacityWeigher":
                weighers.append(AllocatedCapacityWeigher(multiplier: allocatedCapacityWeightMultiplier))
            case "VolumeNumberWeigher": weighers.append(VolumeNumberWeigher(multiplier: volumeNumberMultiplier))
            case "ChanceWeigher": weighers.append(ChanceWeigher())
            case "GoodnessWeigher": weighers.append(GoodnessWeigher())
            default: throw AshlarError(.invalidInput, "scheduler_default_weighers: unknown weigher \(name)")
            }
        }
        return FilterScheduler(filters: filters, weighers: weighers)
    }
}
