import Foundation

/// An offer of a volume (and, unless `noSnapshots`, its snapshots) to whichever project presents the key. The
/// key itself is never stored: only a salted hash of it.
public struct Transfer: Sendable, Equatable {
    public var id: String
    public var volumeID: String
    public var name: String?
    public var salt: String
    public var cryptHash: String
    public var sourceProjectID: String
    public var destinationProjectID: String?
    public var accepted: Bool
    public var noSnapshots: Bool
    public var createdAt: Date
    public var updatedAt: Date?

    public init(
        id: String = UUID().uuidString.lowercased(), volumeID: String, name: String?, salt: String, cryptHash: String,
        sourceProjectID: String, destinationProjectID: String? = nil, accepted: Bool = false, noSnapshots: Bool = false,
        createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.volumeID = volumeID
        self.name = name
        self.salt = salt
        self.cryptHash = cryptHash
        self.sourceProjectID = sourceProjectID
        self.destinationProjectID = destinationProjectID
        self.accepted = accepted
        self.noSnapshots = noSnapshots
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
