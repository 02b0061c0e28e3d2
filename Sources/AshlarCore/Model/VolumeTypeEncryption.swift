import Foundation

/// How volumes of a type are encrypted (`/types/{id}/encryption`): the encryptor the host uses (`provider`),
/// its cipher and key size, and where it runs (`front-end`: on the host that attaches the volume).
public struct VolumeTypeEncryption: Sendable, Hashable {
    public var volumeTypeID: String
    public var encryptionID: String
    public var provider: String
    public var cipher: String?
    public var keySize: Int?
    public var controlLocation: ControlLocation
    public var createdAt: Date
    public var updatedAt: Date?

    public enum ControlLocation: String, Sendable, Hashable, CaseIterable {
        case frontEnd = "front-end"
        case backEnd = "back-end"
    }

    public init(
        volumeTypeID: String, encryptionID: String = UUID().uuidString.lowercased(), provider: String,
        cipher: String? = nil, keySize: Int? = nil, controlLocation: ControlLocation = .frontEnd,
        createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.volumeTypeID = volumeTypeID
        self.encryptionID = encryptionID
        self.provider = provider
        self.cipher = cipher
        self.keySize = keySize
        self.controlLocation = controlLocation
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
