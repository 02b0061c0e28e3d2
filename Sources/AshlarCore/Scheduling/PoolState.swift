import Foundation

/// What the scheduler knows of one pool of one backend: the latest capability report plus what it has placed
/// there since.
public struct PoolState: Sendable, Hashable {
    /// What only a new report changes, behind one reference: a filter or weigher receives its pool by value, and
    /// copying a pool then costs one retain instead of one per string and dictionary (at ten thousand pools a
    /// decision copies pools tens of thousands of times; that was most of its time).
    private final class Identity: Sendable {
        let name: String
        let backend: String
        let poolName: String
        let availabilityZone: String
        let capabilities: [String: JSONValue]
        let volumeBackendName: JSONValue?

        init(backend: String, poolName: String, availabilityZone: String, capabilities: [String: JSONValue]) {
            self.name = "\(backend)#\(poolName)"
            self.backend = backend
            self.poolName = poolName
            self.availabilityZone = availabilityZone
            self.capabilities = capabilities
            self.volumeBackendName = capabilities["volume_backend_name"]
        }
    }

    private var identity: Identity

    /// `host@backend#pool`.
    public var name: String { identity.name }
    /// `host@backend`.
    public var backend: String { identity.backend }
    public var poolName: String { identity.poolName }
    public var availabilityZone: String { identity.availabilityZone }
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
    public var capabilities: [String: JSONValue] { identity.capabilities }
    /// `capabilities["volume_backend_name"]`, kept beside the dictionary: nearly every type asks for it, and
    /// reading it from here saves a hash lookup per pool per decision.
    public var volumeBackendName: JSONValue? { identity.volumeBackendName }
    public var updatedAt: Date

    public init(
        backend: String, poolName: String, availabilityZone: String, totalCapacityGB: Capacity,
        freeCapacityGB: Capacity, allocatedCapacityGB: Double = 0, provisionedCapacityGB: Double = 0,
        reservedPercentage: Double = 0, maxOverSubscriptionRatio: Double = 20, thinProvisioningSupport: Bool = false,
        thickProvisioningSupport: Bool = true, totalVolumes: Int = 0, capabilities: [String: JSONValue] = [:],
        updatedAt: Date = Date()
    ) {
        self.identity = Identity(
            backend: backend, poolName: poolName, availabilityZone: availabilityZone, capabilities: capabilities)
        self.totalCapacityGB = totalCapacityGB
        self.freeCapacityGB = freeCapacityGB
        self.allocatedCapacityGB = allocatedCapacityGB
        self.provisionedCapacityGB = provisionedCapacityGB
        self.reservedPercentage = reservedPercentage
        self.maxOverSubscriptionRatio = maxOverSubscriptionRatio
        self.thinProvisioningSupport = thinProvisioningSupport
        self.thickProvisioningSupport = thickProvisioningSupport
        self.totalVolumes = totalVolumes
        self.updatedAt = updatedAt
    }

    public static func == (a: PoolState, b: PoolState) -> Bool {
        a.name == b.name && a.availabilityZone == b.availabilityZone && a.capabilities == b.capabilities
            && a.totalCapacityGB == b.totalCapacityGB && a.freeCapacityGB == b.freeCapacityGB
            && a.allocatedCapacityGB == b.allocatedCapacityGB && a.provisionedCapacityGB == b.provisionedCapacityGB
            && a.reservedPercentage == b.reservedPercentage && a.maxOverSubscriptionRatio == b.maxOverSubscriptionRatio
            && a.thinProvisioningSupport == b.thinProvisioningSupport
            && a.thickProvisioningSupport == b.thickProvisioningSupport && a.totalVolumes == b.totalVolumes
            && a.updatedAt == b.updatedAt
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(freeCapacityGB)
        hasher.combine(provisionedCapacityGB)
        hasher.combine(totalVolumes)
        hasher.combine(updatedAt)
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
