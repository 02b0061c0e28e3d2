import AshlarCore

/// A Block Storage API microversion, `3.N`.
public struct APIVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let minimum = APIVersion(3, 0)
    public static let maximum = APIVersion(3, 71)

    public var description: String { "\(major).\(minor)" }

    public static func < (a: APIVersion, b: APIVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }

    /// Reads `OpenStack-API-Version` (a comma list; the `volume` element counts). No header means 3.0,
    /// `latest` the maximum; a malformed value is a 400, one outside the supported range a 406.
    public static func negotiate(header: String?) throws(AshlarError) -> APIVersion {
        guard let header else { return .minimum }
        var requested: String?
        for element in header.split(separator: ",") {
            let words = element.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count == 2, words[0].lowercased() == "volume" { requested = String(words[1]) }
        }
        guard let requested else { return .minimum }
        if requested.lowercased() == "latest" { return .maximum }
        let parts = requested.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0,
            !parts[1].hasPrefix("+"), !parts[0].hasPrefix("+")
        else {
            throw AshlarError(
                .invalidInput,
                "API Version String \(requested) is of invalid format. Must be of format MajorNum.MinorNum.")
        }
        let version = APIVersion(major, minor)
        guard version >= .minimum, version <= .maximum else {
            throw AshlarError(
                .versionNotAcceptable,
                "Version \(version) is not supported by the API. Minimum is \(APIVersion.minimum) and maximum is \(APIVersion.maximum)."
            )
        }
        return version
    }
}
