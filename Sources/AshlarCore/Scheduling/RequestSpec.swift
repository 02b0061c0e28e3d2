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

    public init(
        volumeID: String, size: Int, availabilityZone: String? = nil, volumeTypeName: String? = nil,
        extraSpecs: [String: String] = [:], attemptedHosts: [String] = []
    ) {
        self.volumeID = volumeID
        self.size = size
        self.availabilityZone = availabilityZone
        self.volumeTypeName = volumeTypeName
        self.extraSpecs = extraSpecs
        self.attemptedHosts = attemptedHosts
    }
}
