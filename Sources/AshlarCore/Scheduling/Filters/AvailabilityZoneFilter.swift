import Foundation

/// Keeps pools in the requested zone, and in the type's `RESKEY:availability_zones` list when it has one.
public struct AvailabilityZoneFilter: BackendFilter {
    public init() {}
    public var name: String { "AvailabilityZoneFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        if let zones = spec.extraSpecs["RESKEY:availability_zones"] {
            let allowed = zones.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if !allowed.contains(pool.availabilityZone) {
                return "zone \(pool.availabilityZone) is not in the type's zones \(allowed.joined(separator: ","))"
            }
        }
        if let zone = spec.availabilityZone, zone != pool.availabilityZone {
            return "is in zone \(pool.availabilityZone), not \(zone)"
        }
        return nil
    }
}
