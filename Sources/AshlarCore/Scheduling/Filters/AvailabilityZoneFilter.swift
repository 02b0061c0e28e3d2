import Foundation

/// Keeps pools in the requested zone, and in the type's `RESKEY:availability_zones` list when it has one.
public struct AvailabilityZoneFilter: BackendFilter {
    public init() {}
    public var name: String { "AvailabilityZoneFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? { compiled(for: spec)(pool) }

    public func isNeeded(for spec: RequestSpec) -> Bool {
        spec.availabilityZone != nil || spec.extraSpecs["RESKEY:availability_zones"] != nil
    }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        let allowed = spec.extraSpecs["RESKEY:availability_zones"].map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let allowedSet = allowed.map(Set.init)
        let zone = spec.availabilityZone
        return { pool in
            if let allowedSet, !allowedSet.contains(pool.availabilityZone) {
                return
                    "zone \(pool.availabilityZone) is not in the type's zones \(allowed?.joined(separator: ",") ?? "")"
            }
            if let zone, zone != pool.availabilityZone {
                return "is in zone \(pool.availabilityZone), not \(zone)"
            }
            return nil
        }
    }
}
