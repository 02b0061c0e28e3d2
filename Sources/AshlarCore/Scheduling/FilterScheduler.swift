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
        pools.withUnsafeBufferPointer { choose(from: $0, for: spec) }
    }

    private func choose(from pools: UnsafeBufferPointer<PoolState>, for spec: RequestSpec) -> Decision {
        var rejections: [Rejection] = []
        // Positions in `pools`, not copies: a decision over ten thousand pools should not copy them.
        var candidates = Array(pools.indices)
        if let required = spec.resourceBackend {
            // Made from a snapshot or a volume: only where that source lives, pool-exact when a pool is named.
            let exact = required.contains("#")
            candidates.removeAll { index in
                let pool = pools[index]
                guard (exact ? pool.name : pool.backend) != required else { return false }
                rejections.append(
                    Rejection(
                        pool: pool.name, filter: "ResourceBackend",
                        reason: "is not \(required), where the source of this volume lives"))
                return true
            }
        }
        if !spec.attemptedHosts.isEmpty {
            let attempted = Set(spec.attemptedHosts)
            candidates.removeAll { index in
                guard attempted.contains(pools[index].backend) else { return false }
                rejections.append(
                    Rejection(pool: pools[index].name, filter: "Retry", reason: "already failed this volume"))
                return true
            }
        }
        // One filter at a time over the remaining pools: the check is fetched once per filter, not per pool.
        for filter in filters where filter.isNeeded(for: spec) {
            let check = filter.compiled(for: spec)
            candidates.removeAll { index in
                guard let reason = check(pools[index]) else { return false }
                rejections.append(Rejection(pool: pools[index].name, filter: filter.name, reason: reason))
                return true
            }
            if candidates.isEmpty { break }
        }
        guard !candidates.isEmpty else {
            // Report pools in their own order, whichever filter removed them.
            let order = Dictionary(pools.indices.map { (pools[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
            return .noValidBackend(rejections.sorted { (order[$0.pool] ?? 0) < (order[$1.pool] ?? 0) })
        }
        if candidates.count == 1 || weighers.isEmpty { return .chosen(pools[candidates[0]]) }
        var totals = [Double](repeating: 0, count: candidates.count)
        var raw = [Double](repeating: 0, count: candidates.count)
        for weigher in weighers {
            let weight = weigher.compiled(for: spec)
            for (i, index) in candidates.enumerated() { raw[i] = weight(pools[index]) }
            Self.normalize(&raw)
            for i in totals.indices { totals[i] += raw[i] * weigher.multiplier }
        }
        var best = 0
        for i in 1..<totals.count where totals[i] > totals[best] { best = i }
        return .chosen(pools[candidates[best]])
    }

    /// Scales weights to 0…1 by the minimum and maximum. An infinite weight first becomes a finite one well
    /// above the rest (`max + (max - min) * 100`, or `max + 10000` when all are equal), as Cinder's
    /// CapacityWeigher does, so the best finite pool still ranks above the others.
    static func normalize(_ weights: [Double]) -> [Double] {
        var weights = weights
        normalize(&weights)
        return weights
    }

    /// `normalize(_:)` in place, in two passes and without allocating: it runs once per weigher per decision.
    static func normalize(_ weights: inout [Double]) {
        var minimum = Double.infinity
        var maximum = -Double.infinity
        var hasInfinity = false
        for w in weights {
            if w.isFinite {
                minimum = min(minimum, w)
                maximum = max(maximum, w)
            } else if w == .infinity {
                hasInfinity = true
            }
        }
        guard minimum.isFinite else {
            for i in weights.indices { weights[i] = 0 }
            return
        }
        var top = maximum
        if hasInfinity {
            let offset = (maximum - minimum) * 100
            top = maximum + (offset == 0 ? 10_000 : offset)
        }
        let range = top - minimum
        for i in weights.indices {
            let w = weights[i] == .infinity ? top : (weights[i] == -.infinity ? minimum : weights[i])
            weights[i] = range == 0 ? 0 : (w - minimum) / range
        }
    }

    /// Builds a scheduler from the names in the config (`scheduler_default_filters`,
    /// `scheduler_default_weighers`), in the order given. Filters: AvailabilityZoneFilter, CapacityFilter,
    /// CapabilitiesFilter, IgnoreAttemptedHostsFilter, DifferentBackendFilter, SameBackendFilter, JsonFilter, DriverFilter.
    /// Weighers: CapacityWeigher (`capacity_weight_multiplier`), AllocatedCapacityWeigher
    /// (`allocated_capacity_weight_multiplier`), VolumeNumberWeigher (`volume_number_multiplier`),
    /// ChanceWeigher (1.0), GoodnessWeigher (1.0). Unknown names (matched case-sensitively) are a configuration error.
    public static func make(_ options: SchedulerOptions) throws(AshlarError) -> FilterScheduler {
        var filters: [any BackendFilter] = []
        for name in options.defaultFilters {
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
        for name in options.defaultWeighers {
            switch name {
            case "CapacityWeigher": weighers.append(CapacityWeigher(multiplier: options.capacityWeightMultiplier))
            case "AllocatedCapacityWeigher":
                weighers.append(AllocatedCapacityWeigher(multiplier: options.allocatedCapacityWeightMultiplier))
            case "VolumeNumberWeigher": weighers.append(VolumeNumberWeigher(multiplier: options.volumeNumberMultiplier))
            case "ChanceWeigher": weighers.append(ChanceWeigher())
            case "GoodnessWeigher": weighers.append(GoodnessWeigher())
            default: throw AshlarError(.invalidInput, "scheduler_default_weighers: unknown weigher \(name)")
            }
        }
        return FilterScheduler(filters: filters, weighers: weighers)
    }
}
