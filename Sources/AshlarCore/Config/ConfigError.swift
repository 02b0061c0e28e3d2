import Foundation

/// A problem found while reading Ashlar's configuration.
///
/// Carries enough context (file, section, option, line) that ``description``
/// tells an operator exactly where to look, e.g.
/// `ashlar.conf [lvm-1] file_capacity_gb: 'abc' is not an integer (line 12)`.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem this is. A struct rather than an enum so that
    /// other modules can add codes without breaking exhaustive switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, e.g. `"invalid_value"`.
        public let rawValue: String

        /// Creates a code; prefer the predefined static members.
        public init(_ rawValue: String) {
            self.rawValue = rawValue
        }

        /// The file could not be parsed as INI text.
        public static let syntax = Code("syntax")
        /// An option has a value of the wrong type or out of range.
        public static let invalidValue = Code("invalid_value")
        /// A configuration file does not exist or cannot be read.
        public static let missingFile = Code("missing_file")
        /// A required option was not given.
        public static let missingOption = Code("missing_option")
        /// The value is well-formed but names something Ashlar does not support yet.
        public static let unsupported = Code("unsupported")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// What kind of problem this is.
    public var code: Code
    /// The configuration file involved, as the path was given (or e.g. `"command line"`).
    public var file: String?
    /// The INI section involved, e.g. `"DEFAULT"` or a backend name.
    public var section: String?
    /// The option involved, e.g. `"file_capacity_gb"`.
    public var option: String?
    /// The 1-based line number in `file`, when known.
    public var line: Int?
    /// What is wrong, phrased for a person (usually quoting the bad value).
    public var message: String

    /// Creates an error; pass as much context as is known.
    public init(
        _ code: Code,
        message: String,
        file: String? = nil,
        section: String? = nil,
        option: String? = nil,
        line: Int? = nil
    ) {
        self.code = code
        self.message = message
        self.file = file
        self.section = section
        self.option = option
        self.line = line
    }

    /// `<file> [<section>] <option>: <message> (line <n>)`, leaving out what is unknown.
    public var description: String {
        var place: [String] = []
        if let file { place.append(file) }
        if let section { place.append("[\(section)]") }
        if let option { place.append(option) }
        var text = place.isEmpty ? message : place.joined(separator: " ") + ": " + message
        // The line goes last so the "file [section] option:" prefix stays greppable.
        if let line { text += " (line \(line))" }
        return text
    }
}
