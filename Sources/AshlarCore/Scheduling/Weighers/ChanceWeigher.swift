import Foundation

/// Weighs every pool by a random number in `0..<1`, so that among the pools that pass the filters the choice is
/// random (`cinder/scheduler/weights/chance.py`). The source of randomness is injectable so that tests and
/// replays are deterministic; apart from it the weight depends on nothing.
public struct ChanceWeigher: BackendWeigher {
    public var multiplier: Double
    /// Where the weights come from; it should return values in `0..<1`.
    public var source: @Sendable () -> Double

    public init(multiplier: Double = 1, source: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.multiplier = multiplier
        self.source = source
    }

    public var name: String { "ChanceWeigher" }

    public func weight(of pool: PoolState, for spec: RequestSpec) -> Double {
        source()
    }
}
