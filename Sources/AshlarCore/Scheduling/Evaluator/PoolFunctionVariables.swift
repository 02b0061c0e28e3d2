import Foundation

/// The variables a pool's `filter_function` or `goodness_function` sees, as upstream's DriverFilter and
/// GoodnessWeigher give them: `stats.*` (the pool's figures), `capabilities.*` (the pool's capabilities),
/// `extra.*` (the volume type's extra specs) and `volume.*` (the request). `qos.*` is accepted by the
/// language but Ashlar has no QoS specs yet, so any `qos.` variable is unknown (an evaluation error).
/// Values are read on demand, so a pool costs nothing until a variable is used.
struct PoolFunctionVariables: FilterVariables {
    var pool: PoolState
    var spec: RequestSpec
    /// When set, what `stats.storage_protocol` and `capabilities.storage_protocol` read instead of the pool's
    /// reported protocol: one of its variants (see ``StorageProtocolVariants``).
    var storageProtocol: JSONValue? = nil

    func value(scope: String, key: String) -> JSONValue? {
        switch scope {
        case "stats": stat(key)
        case "capabilities":
            if key == "storage_protocol", let storageProtocol { storageProtocol } else { pool.capabilities[key] }
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
        case "storage_protocol": storageProtocol ?? pool.capabilities[key] ?? .null
        case "vendor_name", "driver_version", "QoS_support":
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

/// The spellings upstream treats as one storage protocol (`cinder/common/constants.py`): a backend reporting
/// any of them is taken to speak all of them, so a function written for `iscsi` also matches `iSCSI`.
enum StorageProtocolVariants {
    static let groups: [[String]] = [
        ["iSCSI", "iscsi"],
        ["FC", "fibre_channel", "fc"],
        ["NFS", "nfs"],
        ["NVMe-oF", "NVMeOF", "nvmeof"],
    ]

    /// Every variant of the reported protocol (a string, or a list of strings), in order and without
    /// repeats; a spelling in no group is its own only variant. Empty when nothing usable is reported.
    static func variants(of reported: JSONValue?) -> [String] {
        var names: [String] = []
        switch reported {
        case .string(let name): names = [name]
        case .array(let list): names = list.compactMap(\.stringValue)
        default: return []
        }
        var result: [String] = []
        for name in names {
            for variant in groups.first(where: { $0.contains(name) }) ?? [name] where !result.contains(variant) {
                result.append(variant)
            }
        }
        return result
    }
}

/// A parsed `filter_function` or `goodness_function`.
struct ParsedFunction {
    var expression: FilterExpression
    /// Whether the text mentions `storage_protocol`: only then is the function evaluated once per protocol
    /// variant, so the common case stays one evaluation.
    var mentionsStorageProtocol: Bool

    /// Evaluates the function for `pool` and `spec`, handing each result to `body` until it returns false:
    /// once per storage-protocol variant of the pool when the function mentions `storage_protocol` (as
    /// upstream), else once.
    func evaluate(
        pool: PoolState, spec: RequestSpec, _ body: (Result<FilterValue, EvaluatorError>) -> Bool
    ) {
        var variables = PoolFunctionVariables(pool: pool, spec: spec)
        func run() -> Result<FilterValue, EvaluatorError> {
            do throws(EvaluatorError) { return .success(try expression.evaluate(with: variables)) } catch {
                return .failure(error)
            }
        }
        let variants =
            mentionsStorageProtocol ? StorageProtocolVariants.variants(of: pool.capabilities["storage_protocol"]) : []
        if variants.isEmpty {
            _ = body(run())
            return
        }
        for variant in variants {
            variables.storageProtocol = .string(variant)
            if !body(run()) { return }
        }
    }
}

/// A per-request cache of parsed functions, keyed by their text, so each distinct function is parsed once
/// per decision however many pools share it.
final class ParsedFunctionCache {
    private var parsed: [String: Result<ParsedFunction, EvaluatorError>] = [:]

    func function(for text: String) -> Result<ParsedFunction, EvaluatorError> {
        if let hit = parsed[text] { return hit }
        let result: Result<ParsedFunction, EvaluatorError>
        do {
            result = .success(
                ParsedFunction(
                    expression: try FilterExpression(parsing: text),
                    mentionsStorageProtocol: text.contains("storage_protocol")))
        } catch {
            result = .failure(error)
        }
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
