import Foundation

/// What the scheduler knows of one pool of one backend: the latest capability report plus what it has placed
/// there since.
public struct PoolState: Sendable, Hashable {
    /// `host@backend#pool`.
    public var name: String
    /// `host@backend`.
    public var backend: String
    public var poolName: String
    public var availabilityZone: String
    public var totalCapacityGB: Capacity
    public var freeCapacityGB: Capacity
    public var allocatedCapacityGB: Double
    public var provisionedCapacityGB: Double
    public var reservedPercentage: Double
    public var maxOverSubscriptionRatio: Double
    public var thinProvisioningSupport: Bool
    public var thickProvisioningSupport: Bool
    public var totalVolumes: Int
    /// Every capability of the pool (its own and the backend's), for the CapabilitiesFilter and get_pools.
    public var capabilities: [String: JSONValue] {
        didSet { volumeBackendName = capabilities["volume_backend_name"] }
    }
    /// `capabilities["volume_backend_name"]`, kept beside the dictionary: nearly every type asks for it, and
    /// reading it from here saves a hash lookup per pool per decision.
    public private(set) var volumeBackendName: JSONValue?
    public var updatedAt: Date

    public init(
        backend: String, poolName: String, availabilityZone: String, totalCapacityGB: Capacity,
        freeCapacityGB: Capacity, allocatedCapacityGB: Double = 0, provisionedCapacityGB: Double = 0,
        reservedPercentage: Double = 0, maxOverSubscriptionRatio: Double = 20, thinProvisioningSupport: Bool = false,
        thickProvisioningSupport: Bool = true, totalVolumes: Int = 0, capabilities: [String: JSONValue] = [:],
        updatedAt: Date = Date()
    ) {
        self.name = "\(backend)#\(poolName)"
        self.backend = backend
        self.poolName = poolName
        self.availabilityZone = availabilityZone
        self.totalCapacityGB = totalCapacityGB
        self.freeCapacityGB = freeCapacityGB
        self.allocatedCapacityGB = allocatedCapacityGB
        self.provisionedCapacityGB = provisionedCapacityGB
        self.reservedPercentage = reservedPercentage
        self.maxOverSubscriptionRatio = maxOverSubscriptionRatio
        self.thinProvisioningSupport = thinProvisioningSupport
        self.thickProvisioningSupport = thickProvisioningSupport
        self.totalVolumes = totalVolumes
        self.capabilities = capabilities
        self.volumeBackendName = capabilities["volume_backend_name"]
        self.updatedAt = updatedAt
    }

    /// Records a volume the scheduler just placed here, so the next decision sees the space as taken before
    /// the backend's next report arrives.
    public mutating func consume(sizeGB: Int) {
        let size = Double(sizeGB)
        allocatedCapacityGB += size
        provisionedCapacityGB += size
        totalVolumes += 1
        if case .gb(let free) = freeCapacityGB { freeCapacityGB = .gb(free - size) }
    }

    /// Cinder's capacity factors (`calculate_capacity_factors`): what the pool can still take, thin or thick.
    public struct CapacityFactors: Sendable, Hashable {
        /// Total less the reserved part, times the over-subscription ratio when thin.
        public var totalAvailable: Double
        /// What a new volume may use.
        public var virtualFree: Double
    }

    /// The factors for a thin (or, `thin: false`, thick) request; nil when total or free is infinite or unknown.
    public func capacityFactors(thin: Bool) -> CapacityFactors? {
        guard let total = totalCapacityGB.value, let free = freeCapacityGB.value else { return nil }
        let reserved = (total * reservedPercentage / 100).rounded(.down)
        let available = total - reserved
        func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
        if thin && thinProvisioningSupport {
            let totalAvailable = available * maxOverSubscriptionRatio
            return CapacityFactors(
                totalAvailable: round2(totalAvailable), virtualFree: round2(totalAvailable - provisionedCapacityGB))
        }
        return CapacityFactors(
            totalAvailable: round2(available), virtualFree: round2(min(free, available - provisionedCapacityGB)))
    }
}
