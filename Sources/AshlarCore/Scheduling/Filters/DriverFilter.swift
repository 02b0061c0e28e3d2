import Foundation

/// Keeps pools whose driver-reported `filter_function` is truthy for the request
/// (`cinder/scheduler/filters/driver_filter.py`). A pool with no (or a null) function passes; a function that
/// cannot be parsed or evaluated fails the pool, saying why. See `FilterExpression` for the language and
/// `PoolFunctionVariables` for the variables.
///
/// Unlike upstream, a pool reporting several storage-protocol variants is evaluated once, with the
/// `storage_protocol` capability as reported.
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
            do throws(EvaluatorError) {
                let expression = try cache.expression(for: text).get()
                let value = try expression.evaluate(with: PoolFunctionVariables(pool: pool, spec: spec))
                return value.isTruthy ? nil : "does not satisfy its filter_function \(text)"
            } catch {
                return "cannot be chosen because its filter_function \(text) is not valid: \(error.message)"
            }
        }
    }
}
