import Foundation

/// Weighs pools by how many volumes they hold, `total_volumes` as last reported plus those placed since
/// (`cinder/scheduler/weights/volume_number.py`). The default multiplier, -1, makes the pool with the fewest
/// volumes win; a positive one stacks.
public struct VolumeNumberWeigher: BackendWeigher {
    public var multiplier: Double
    /// `volume_number_multiplier`, -1.0 by default.
    public init(multiplier: Double = -1) { self.multiplier = multiplier }
    public var name: String { "VolumeNumberWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double {
        Double(pool.totalVolumes)
    }
}
