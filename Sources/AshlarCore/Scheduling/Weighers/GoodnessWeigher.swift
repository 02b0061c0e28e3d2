import Foundation

/// Weighs pools by their driver-reported `goodness_function` (`cinder/scheduler/weights/goodness.py`): a
/// rating from 0 to 100, where a true result is 100 and a false one 0. A pool with no (or a null) function,
/// one that cannot be parsed or evaluated, or a result that is not a number from 0 to 100 rates 0.
public struct GoodnessWeigher: BackendWeigher {
    public var multiplier: Double
    public init(multiplier: Double = 1) { self.multiplier = multiplier }
    public var name: String { "GoodnessWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double { compiled(for: spec)(pool) }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> Double {
        let cache = ParsedFunctionCache()
        return { pool in
            guard let text = ParsedFunctionCache.functionText("goodness_function", of: pool),
                case .success(let expression) = cache.expression(for: text),
                let value = try? expression.evaluate(with: PoolFunctionVariables(pool: pool, spec: spec))
            else { return 0 }
            if case .bool(let b) = value { return b ? 100 : 0 }
            guard let rating = value.number, rating >= 0, rating <= 100 else { return 0 }
            return rating
        }
    }
}
