import Foundation

/// A scheduler weigher: a raw weight per pool; the scheduler normalises them to 0…1 over the candidates and
/// sums them times each weigher's multiplier, as Cinder's `OrderedHostWeightHandler` does.
public protocol BackendWeigher: Sendable {
    var name: String { get }
    var multiplier: Double { get }
    func weight(of pool: PoolState, for spec: RequestSpec) -> Double
}

/// Most free (virtual) capacity wins; a negative multiplier stacks instead of spreading.
public struct CapacityWeigher: BackendWeigher {
    public var multiplier: Double
    public init(multiplier: Double = 1) { self.multiplier = multiplier }
    public var name: String { "CapacityWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double {
        // Infinite or unknown capacity sorts as the worst candidate, whichever way the multiplier points.
        guard let factors = pool.capacityFactors(thin: spec.extraSpecs["provisioning:type"] != "thick") else {
            return multiplier > 0 ? -1 : .infinity
        }
        return factors.virtualFree
    }
}
