import Foundation

/// The variables a pool's `filter_function` or `goodness_function` sees, as upstream's DriverFilter and
/// GoodnessWeigher give them: `stats.*` (the pool's figures), `capabilities.*` (the pool's capabilities),
/// `extra.*` (the volume type's extra specs), `volume.size`, and `qos.*` (none here: any is unknown).
/// Values are read on demand, so a pool costs nothing until a variable is used.
struct PoolFunctionVariables: FilterVariables {
    var pool: PoolState
    var spec: RequestSpec

    func value(scope: String, key: String) -> JSONValue? {
        switch scope {
        case "stats": stat(key)
        case "capabilities": pool.capabilities[key]
        case "extra": spec.extraSpecs[key].map(JSONValue.string)
        case "volume":
            switch key {
            case "size": .int(Int64(spec.size))
            case "volume_type_name": spec.volumeTypeName.map(JSONValue.string)
            case "availability_zone": spec.availabilityZone.map(JSONValue.string)
            default: nil
            }
        default: nil
        }
    }

    private func stat(_ key: String) -> JSONValue? {
        switch key {
        case "host", "backend_id": .string(pool.name)
        case "total_capacity_gb": json(pool.totalCapacityGB)
        case "free_capacity_gb": json(pool.freeCapacityGB)
        case "allocated_capacity_gb": .double(pool.allocatedCapacityGB)
        case "provisioned_capacity_gb": .double(pool.provisionedCapacityGB)
        case "reserved_percentage": .double(pool.reservedPercentage)
        case "volume_backend_name": pool.volumeBackendName ?? .null
        case "vendor_name", "driver_version", "storage_protocol", "QoS_support":
            pool.capabilities[key] ?? .null
        default: nil
        }
    }

    private func json(_ capacity: Capacity) -> JSONValue {
        switch capacity {
        case .gb(let v): .double(v)
        case .infinite: .string("infinite")
        case .unknown: .string("unknown")
        }
    }
}

/// A per-request cache of parsed functions, keyed by their text, so each distinct function is parsed once
/// per decision however many pools share it.
final class ParsedFunctionCache {
    private var parsed: [String: Result<FilterExpression, EvaluatorError>] = [:]

    func expression(for text: String) -> Result<FilterExpression, EvaluatorError> {
        if let hit = parsed[text] { return hit }
        let result: Result<FilterExpression, EvaluatorError>
        do { result = .success(try FilterExpression(parsing: text)) } catch { result = .failure(error) }
        parsed[text] = result
        return result
    }

    /// The pool's function text under `key`: nil when absent or null; a non-string is its rendering.
    static func functionText(_ key: String, of pool: PoolState) -> String? {
        switch pool.capabilities[key] ?? .null {
        case .null: nil
        case .string(let s): s
        case let other: other.rendered
        }
    }
}
