import AshlarCore
import Crypto
import Foundation

/// The hashes Glance keeps of an image's data, computed as the bytes go by: `checksum` (MD5) and the
/// multihash `os_hash_value` (SHA-512, Glance's default `hashing_algorithm`).
public struct ImageDigest: Sendable {
    private var md5 = Insecure.MD5()
    private var sha512 = SHA512()
    public private(set) var count: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        md5.update(bufferPointer: bytes)
        sha512.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    public mutating func update(_ data: some DataProtocol) {
        for region in data.regions { region.withUnsafeBytes { update($0) } }
    }

    /// The two hashes, hex.
    public func finalize() -> (checksum: String, sha512: String) {
        (Self.hex(md5.finalize()), Self.hex(sha512.finalize()))
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether data with these hashes is `image`'s: by `os_hash_value` when the image has one in an algorithm
    /// we compute, else by `checksum`; an image with neither cannot be verified and passes (Glance's own rule
    /// for images made before hashes existed).
    public static func matches(checksum: String, sha512: String, image: Image) -> Bool {
        if let value = image.osHashValue, image.osHashAlgorithm == "sha512" { return value.lowercased() == sha512 }
        if let expected = image.checksum { return expected.lowercased() == checksum }
        return true
    }
}
