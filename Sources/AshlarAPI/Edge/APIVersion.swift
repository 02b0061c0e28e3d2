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
        // `^([1-9]\d*)\.([1-9]\d*|0)$`, as Cinder requires: digits only, no leading zeros.
        func number(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), text == "0" || !text.hasPrefix("0")
            else { return nil }
            return Int(text)
        }
        let parts = requested.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = number(parts[0]), let minor = number(parts[1]), major >= 1 else {
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
