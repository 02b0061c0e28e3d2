import Foundation

/// What a placement needs to know about the request: size, type, zone, hints and the hosts already tried.
public struct RequestSpec: Sendable, Hashable, Codable {
    public var volumeID: String
    public var size: Int
    public var availabilityZone: String?
    public var volumeTypeName: String?
    public var extraSpecs: [String: String]
    /// Backends (`host@backend`) already tried for this volume, in order.
    public var attemptedHosts: [String]
    /// The request's `OS-SCH-HNT:scheduler_hints` (`different_host`, `same_host`, `query`, …), as sent.
    public var schedulerHints: [String: JSONValue]
    /// Volume id → that volume's `host@backend#pool`, for the volumes the affinity hints name. The scheduler
    /// service fills it in before filtering, so the filters stay pure; a volume absent here does not exist (or
    /// has no host yet).
    public var volumeHostsForHints: [String: String]
    /// The backend (`host@backend`) or pool (`host@backend#pool`) the volume must go to: where the snapshot or
    /// volume it is made from lives (Cinder's `resource_backend`).
    public var resourceBackend: String?

    public init(
        volumeID: String, size: Int, availabilityZone: String? = nil, volumeTypeName: String? = nil,
        extraSpecs: [String: String] = [:], attemptedHosts: [String] = [],
        schedulerHints: [String: JSONValue] = [:], volumeHostsForHints: [String: String] = [:],
        resourceBackend: String? = nil
    ) {
        self.volumeID = volumeID
        self.size = size
        self.availabilityZone = availabilityZone
        self.volumeTypeName = volumeTypeName
        self.extraSpecs = extraSpecs
        self.attemptedHosts = attemptedHosts
        self.schedulerHints = schedulerHints
        self.volumeHostsForHints = volumeHostsForHints
        self.resourceBackend = resourceBackend
    }

    /// The original keys keep their names; the two maps added later are snake_case and optional on decoding,
    /// so a spec sent by an older peer still decodes.
    private enum CodingKeys: String, CodingKey {
        case volumeID, size, availabilityZone, volumeTypeName, extraSpecs, attemptedHosts
        case schedulerHints = "scheduler_hints"
        case volumeHostsForHints = "volume_hosts_for_hints"
        case resourceBackend = "resource_backend"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        volumeID = try c.decode(String.self, forKey: .volumeID)
        size = try c.decode(Int.self, forKey: .size)
        availabilityZone = try c.decodeIfPresent(String.self, forKey: .availabilityZone)
        volumeTypeName = try c.decodeIfPresent(String.self, forKey: .volumeTypeName)
        extraSpecs = try c.decode([String: String].self, forKey: .extraSpecs)
        attemptedHosts = try c.decode([String].self, forKey: .attemptedHosts)
        schedulerHints = try c.decodeIfPresent([String: JSONValue].self, forKey: .schedulerHints) ?? [:]
        volumeHostsForHints = try c.decodeIfPresent([String: String].self, forKey: .volumeHostsForHints) ?? [:]
        resourceBackend = try c.decodeIfPresent(String.self, forKey: .resourceBackend)
    }
}
