import Foundation

/// A scheduler weigher: a raw weight per pool; the scheduler normalises them to 0…1 over the candidates and
/// sums them times each weigher's multiplier, as Cinder's `OrderedHostWeightHandler` does.
public protocol BackendWeigher: Sendable {
    var name: String { get }
    var multiplier: Double { get }
    func weight(of pool: PoolState, for spec: RequestSpec) -> Double
    /// The same weight specialised to one request (see `BackendFilter.compiled(for:)`).
    func compiled(for spec: RequestSpec) -> (PoolState) -> Double
}

extension BackendWeigher {
    public func compiled(for spec: RequestSpec) -> (PoolState) -> Double {
        { pool in weight(of: pool, for: spec) }
    }
}

/// Most free (virtual) capacity wins; a negative multiplier stacks instead of spreading.
public struct CapacityWeigher: BackendWeigher {
    public var multiplier: Double
    public init(multiplier: Double = 1) { self.multiplier = multiplier }
    public var name: String { "CapacityWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double { compiled(for: spec)(pool) }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> Double {
        let thin = spec.extraSpecs["provisioning:type"] != "thick"
        let worst: Double = multiplier > 0 ? -1 : .infinity
        return { pool in
            // Infinite or unknown capacity sorts as the worst candidate, whichever way the multiplier points.
            pool.capacityFactors(thin: thin)?.virtualFree ?? worst
        }
    }
}
