import Foundation

/// Keeps pools with room for the volume, with Cinder's arithmetic: reserved percentage, thin provisioning and
/// over-subscription, and `infinite`/`unknown` capacity (`cinder/scheduler/filters/capacity_filter.py`).
public struct CapacityFilter: BackendFilter {
    public init() {}
    public var name: String { "CapacityFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        let requested = Double(spec.size)
        let reservedFraction = pool.reservedPercentage / 100
        guard let freeSpace = pool.freeCapacityGB.value else { return nil }  // infinite or unknown: accepted
        guard let total = pool.totalCapacityGB.value else {
            return reservedFraction == 0 ? nil : "reports \(pool.totalCapacityGB) total capacity with space reserved"
        }
        if total <= 0 { return "reports no total capacity" }
        let free = freeSpace - (total * reservedFraction).rounded(.down)
        let thin = spec.extraSpecs["provisioning:type"] != "thick"
        if thin && pool.thinProvisioningSupport {
            guard pool.maxOverSubscriptionRatio >= 1 else {
                return "has an invalid max_over_subscription_ratio of \(format(pool.maxOverSubscriptionRatio))"
            }
            let ratio = (pool.provisionedCapacityGB + requested) / total
            if ratio > pool.maxOverSubscriptionRatio {
                return
                    "needs \(spec.size) GiB, but provisioning it would raise the provisioned ratio to \(format(ratio)), over the maximum \(format(pool.maxOverSubscriptionRatio))"
            }
            let virtualFree = free * pool.maxOverSubscriptionRatio
            if virtualFree < requested {
                return "needs \(spec.size) GiB, has \(format(virtualFree)) GiB free (thin, after reserve)"
            }
            return nil
        }
        if free < requested {
            return "needs \(spec.size) GiB, has \(format(max(free, 0))) GiB free"
        }
        return nil
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }
}
