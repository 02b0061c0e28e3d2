import Foundation
import Testing

@testable import AshlarCore

/// A pool with the figures a scheduling test cares about; everything else is neutral.
func makePool(
    backend: String = "node1@lvm", pool: String = "pool", zone: String = "nova", total: Capacity = .gb(100),
    free: Capacity = .gb(100), allocated: Double = 0, provisioned: Double = 0, reserved: Double = 0,
    ratio: Double = 20, thin: Bool = false, capabilities: [String: JSONValue] = [:], volumes: Int = 0
) -> PoolState {
    PoolState(
        backend: backend, poolName: pool, availabilityZone: zone, totalCapacityGB: total, freeCapacityGB: free,
        allocatedCapacityGB: allocated, provisionedCapacityGB: provisioned, reservedPercentage: reserved,
        maxOverSubscriptionRatio: ratio, thinProvisioningSupport: thin, totalVolumes: volumes, capabilities: capabilities,
        updatedAt: Date(timeIntervalSince1970: 1_700_000_000))
}

/// A request for `size` GiB; `thick` sets the type's `provisioning:type=thick`; `hints` are scheduler hints and
/// `volumeHosts` the hinted volumes' pools.
func makeSpec(
    size: Int = 1, zone: String? = nil, thick: Bool = false, extraSpecs: [String: String] = [:],
    attempted: [String] = [], hints: [String: JSONValue] = [:], volumeHosts: [String: String] = [:]
) -> RequestSpec {
    var specs = extraSpecs
    if thick { specs["provisioning:type"] = "thick" }
    return RequestSpec(
        volumeID: "vol-1", size: size, availabilityZone: zone, volumeTypeName: "type-1", extraSpecs: specs,
        attemptedHosts: attempted, schedulerHints: hints, volumeHostsForHints: volumeHosts)
}

/// Cinder's default filter and weigher chain.
func defaultScheduler(multiplier: Double = 1) throws -> FilterScheduler {
    try FilterScheduler.make(SchedulerOptions(
        defaultFilters: ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"],
        defaultWeighers: ["CapacityWeigher"], capacityWeightMultiplier: multiplier))
}

extension FilterScheduler.Decision {
    /// The chosen pool's name, or nil when nothing was chosen.
    var chosenName: String? {
        if case .chosen(let pool) = self { return pool.name }
        return nil
    }

    /// The rejections, or nil when a pool was chosen.
    var rejections: [FilterScheduler.Rejection]? {
        if case .noValidBackend(let list) = self { return list }
        return nil
    }
}
