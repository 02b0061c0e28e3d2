import Foundation

extension PoolState {
    /// The pools of one backend's capability report (Cinder's stats dictionary: backend keys plus a `pools`
    /// list). Each pool inherits the backend-level keys it does not set itself. A report without pools is one
    /// pool named after the backend.
    public static func pools(
        fromReport capabilities: [String: JSONValue], backend: String, availabilityZone: String, at time: Date
    ) -> [PoolState] {
        var shared = capabilities
        shared.removeValue(forKey: "pools")
        let poolDicts: [[String: JSONValue]]
        if case .array(let list) = capabilities["pools"] ?? .null {
            poolDicts = list.compactMap(\.objectValue)
        } else {
            poolDicts = [capabilities]
        }
        let backendName = backend.split(separator: "@").last.map(String.init) ?? backend
        return poolDicts.map { own in
            let caps = shared.merging(own) { _, pool in pool }
            let name = caps["pool_name"]?.stringValue ?? caps["volume_backend_name"]?.stringValue ?? backendName
            return PoolState(
                backend: backend, poolName: name, availabilityZone: availabilityZone,
                totalCapacityGB: capacity(caps["total_capacity_gb"]),
                freeCapacityGB: capacity(caps["free_capacity_gb"]),
                allocatedCapacityGB: number(caps["allocated_capacity_gb"]) ?? 0,
                provisionedCapacityGB: number(caps["provisioned_capacity_gb"]) ?? number(caps["allocated_capacity_gb"])
                    ?? 0,
                reservedPercentage: number(caps["reserved_percentage"]) ?? 0,
                maxOverSubscriptionRatio: number(caps["max_over_subscription_ratio"]) ?? 20,
                thinProvisioningSupport: bool(caps["thin_provisioning_support"]) ?? false,
                thickProvisioningSupport: bool(caps["thick_provisioning_support"]) ?? true,
                totalVolumes: Int(number(caps["total_volumes"]) ?? 0),
                capabilities: caps, updatedAt: time)
        }
    }

    private static func capacity(_ value: JSONValue?) -> Capacity {
        switch value {
        case .string("infinite"): .infinite
        case .none, .null, .string("unknown"): .unknown
        default: number(value).map(Capacity.gb) ?? .unknown
        }
    }

    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let i): Double(i)
        case .double(let d): d
        case .string(let s): Double(s)
        default: nil
        }
    }

    private static func bool(_ value: JSONValue?) -> Bool? {
        switch value {
        case .bool(let b): b
        case .string(let s): ExtraSpecMatcher.parseBool(s)
        default: nil
        }
    }
}
