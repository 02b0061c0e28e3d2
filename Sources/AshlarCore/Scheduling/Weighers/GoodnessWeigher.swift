import Foundation

/// Weighs pools by their driver-reported `goodness_function` (`cinder/scheduler/weights/goodness.py`): a
/// rating from 0 to 100, where a true result is 100 and a false one 0. A pool with no (or a null) function,
/// one that cannot be parsed or evaluated, or a result that is not a number from 0 to 100 rates 0. The
/// variables are DriverFilter's (`PoolFunctionVariables`; `qos.*` is always unknown, so rates 0).
///
/// As upstream, a function that mentions `storage_protocol` is evaluated once per variant of the pool's
/// protocol (see `StorageProtocolVariants`) and the pool gets the highest rating; other functions are
/// evaluated once.
public struct GoodnessWeigher: BackendWeigher {
    public var multiplier: Double
    public init(multiplier: Double = 1) { self.multiplier = multiplier }
    public var name: String { "GoodnessWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double { compiled(for: spec)(pool) }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> Double {
        let cache = ParsedFunctionCache()
        return { pool in
            guard let text = ParsedFunctionCache.functionText("goodness_function", of: pool),
                case .success(let function) = cache.function(for: text)
            else { return 0 }
            var best = 0.0
            function.evaluate(pool: pool, spec: spec) { result in
                if case .success(let value) = result { best = max(best, Self.rating(value)) }
                return best < 100
            }
            return best
        }
    }

    /// A result as a rating: true is 100, false 0, a number from 0 to 100 itself, anything else 0.
    private static func rating(_ value: FilterValue) -> Double {
        if case .bool(let b) = value { return b ? 100 : 0 }
        guard let rating = value.number, rating >= 0, rating <= 100 else { return 0 }
        return rating
    }
}
