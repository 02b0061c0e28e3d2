import Foundation

/// Keeps pools whose driver-reported `filter_function` is truthy for the request
/// (`cinder/scheduler/filters/driver_filter.py`). A pool with no (or a null) function passes; a function that
/// cannot be parsed or evaluated fails the pool, saying why. See `FilterExpression` for the language and
/// `PoolFunctionVariables` for the variables (`qos.*` is always unknown: Ashlar has no QoS specs yet).
///
/// As upstream, a function that mentions `storage_protocol` is evaluated once per variant of the pool's
/// protocol (`iSCSI` and `iscsi`, `FC`, `fibre_channel` and `fc`, …; see `StorageProtocolVariants`), and the
/// pool passes when any variant passes. When none passes and some variant could not be evaluated, the
/// rejection gives the first such error. Other functions are evaluated once.
public struct DriverFilter: BackendFilter {
    public init() {}
    public var name: String { "DriverFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        compiled(for: spec)(pool)
    }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        let cache = ParsedFunctionCache()
        return { pool in
            guard let text = ParsedFunctionCache.functionText("filter_function", of: pool) else { return nil }
            let function: ParsedFunction
            switch cache.function(for: text) {
            case .success(let parsed): function = parsed
            case .failure(let error): return Self.invalid(text, error)
            }
            var passes = false
            var firstError: EvaluatorError?
            function.evaluate(pool: pool, spec: spec) { result in
                switch result {
                case .success(let value): passes = value.isTruthy
                case .failure(let error): if firstError == nil { firstError = error }
                }
                return !passes
            }
            if passes { return nil }
            if let firstError { return Self.invalid(text, firstError) }
            return "does not satisfy its filter_function \(text)"
        }
    }

    private static func invalid(_ text: String, _ error: EvaluatorError) -> String {
        "cannot be chosen because its filter_function \(text) is not valid: \(error.message)"
    }
}
