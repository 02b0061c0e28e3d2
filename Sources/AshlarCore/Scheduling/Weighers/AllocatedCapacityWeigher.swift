import Foundation

/// Weighs pools by the space already allocated to volumes on them, `allocated_capacity_gb`
/// (`cinder/scheduler/weights/capacity.py`). The default multiplier, -1, makes the least allocated pool win;
/// a positive one stacks volumes on the most allocated pool.
public struct AllocatedCapacityWeigher: BackendWeigher {
    public var multiplier: Double
    /// `allocated_capacity_weight_multiplier`, -1.0 by default.
    public init(multiplier: Double = -1) { self.multiplier = multiplier }
    public var name: String { "AllocatedCapacityWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double {
        pool.allocatedCapacityGB
    }
}
