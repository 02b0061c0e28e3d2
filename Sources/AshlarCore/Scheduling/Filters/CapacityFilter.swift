import Foundation

/// Keeps pools with room for the volume, with Cinder's arithmetic: reserved percentage, thin provisioning and
/// over-subscription, and `infinite`/`unknown` capacity (`cinder/scheduler/filters/capacity_filter.py`).
public struct CapacityFilter: BackendFilter {
    public init() {}
    public var name: String { "CapacityFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? { compiled(for: spec)(pool) }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        let thin = spec.extraSpecs["provisioning:type"] != "thick"
        return { pool in check(pool, size: spec.size, thin: thin) }
    }

    private func check(_ pool: PoolState, size: Int, thin: Bool) -> String? {
        let requested = Double(size)
        guard pool.freeCapacityGB.value != nil else { return nil }  // infinite or unknown: accepted
        guard let total = pool.totalCapacityGB.value else {
            return pool.reservedPercentage == 0
                ? nil : "reports \(pool.totalCapacityGB) total capacity, so its reserved space cannot be computed"
        }
        if total <= 0 { return "reports no total capacity" }
        guard let factors = pool.capacityFactors(thin: thin) else { return nil }
        if thin && pool.thinProvisioningSupport {
            guard pool.maxOverSubscriptionRatio >= 1 else {
                return "has an invalid max_over_subscription_ratio of \(format(pool.maxOverSubscriptionRatio))"
            }
            let ratio =
                factors.totalAvailable > 0
                ? (pool.provisionedCapacityGB + requested) / factors.totalAvailable : .infinity
            if ratio > pool.maxOverSubscriptionRatio {
                return
                    "needs \(size) GiB, but that would raise its provisioned ratio to \(format(ratio)), over the maximum \(format(pool.maxOverSubscriptionRatio))"
            }
            if factors.virtualFree < requested {
                return "needs \(size) GiB, has \(format(max(factors.virtualFree, 0))) GiB free (thin, after reserve)"
            }
            return nil
        }
        if factors.virtualFree < requested {
            return "needs \(size) GiB, has \(format(max(factors.virtualFree, 0))) GiB free"
        }
        return nil
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }
}
