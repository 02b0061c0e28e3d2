import Foundation

/// A parsed cinder.conf / oslo.config-style INI file.
///
/// Follows oslo.config's parser:
/// - `[section]` headers; names are case-sensitive and `DEFAULT` is the default section.
///   A section that appears twice is merged into its first occurrence.
/// - `option = value` or `option: value`, split at whichever of `=`/`:` comes first;
///   option and value are trimmed, and one pair of matching `"`/`'` quotes around a value is removed.
/// - `#` and `;` start a comment only at the start of a line; there are no inline comments.
/// - A line starting with a space or tab continues the previous value (joined with `"\n"`)
///   until a blank line, comment, header or new option. An indented line with no value to
///   continue is read as an ordinary line (oslo.config would reject it).
/// - A repeated option in one section: the last value wins, keeping the first one's position.
public struct INIFile: Sendable, Equatable {
    /// The name of the default section.
    public static let defaultSection = "DEFAULT"

    /// One `option = value` assignment.
    public struct Entry: Sendable, Equatable {
        /// The option name, trimmed.
        public var option: String
        /// The value, trimmed, continuation lines joined with `"\n"`.
        public var value: String
        /// The 1-based line the (last) assignment starts on.
        public var line: Int

        /// Creates an entry.
        public init(option: String, value: String, line: Int) {
            self.option = option
            self.value = value
            self.line = line
        }
    }

    /// One `[section]` and its options in file order.
    public struct Section: Sendable, Equatable {
        /// The section name as written (case-sensitive).
        public var name: String
        /// The 1-based line of the section's first header.
        public var line: Int
        /// The options in the order they first appear.
        public var entries: [Entry]

        /// Creates a section.
        public init(name: String, line: Int, entries: [Entry] = []) {
            self.name = name
            self.line = line
            self.entries = entries
        }

        /// The entry for `option`, if present.
        public func entry(_ option: String) -> Entry? {
            entries.first { $0.option == option }
        }

        /// The value of `option`, if present.
        public subscript(option: String) -> String? {
            entry(option)?.value
        }
    }

    /// The path the text came from; used in error messages and warnings.
    public let path: String
    /// The sections in the order they first appear.
    public private(set) var sections: [Section]

    /// The section called `name`, if present.
    public func section(_ name: String) -> Section? {
        sections.first { $0.name == name }
    }

    /// The value of `option` in `section`, if present.
    public subscript(section: String, option: String) -> String? {
        self.section(section)?[option]
    }

    /// Parses INI text. `path` is only used to name the file in errors.
    public init(text: String, path: String) throws(ConfigError) {
        self.path = path
        var sections: [Section] = []
        var sectionIndex: [String: Int] = [:]
        var current: Int?

        // The assignment being built; continuation lines append to it.
        var pendingOption: String?
        var pendingValue: [String] = []
        var pendingLine = 0

        func flush() {
            guard let option = pendingOption, let index = current else { return }
            let entry = Entry(option: option, value: pendingValue.joined(separator: "\n"), line: pendingLine)
            if let existing = sections[index].entries.firstIndex(where: { $0.option == option }) {
                sections[index].entries[existing] = entry
            } else {
                sections[index].entries.append(entry)
            }
            pendingOption = nil
            pendingValue = []
        }

        var body = Substring(text)
        if body.first == "\u{FEFF}" { body = body.dropFirst() }  // editors on Windows add a BOM
        // `isNewline` also covers "\r\n", which Swift treats as a single Character.
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)

        for (offset, rawLine) in lines.enumerated() {
            let number = offset + 1
            let trimmed = rawLine.trimmingCharacters(in: .whitespaces)

            if trimmed.isEmpty {
                flush()  // a blank line ends a multi-line value
                continue
            }
            if let first = rawLine.first, first == " " || first == "\t", pendingOption != nil {
                pendingValue.append(trimmed)
                continue
            }
            flush()

            if trimmed.hasPrefix("#") || trimmed.hasPrefix(";") {
                continue
            }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    throw ConfigError(
                        .syntax, message: "section header '\(trimmed)' is missing its closing ']'",
                        file: path, line: number)
                }
                let name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else {
                    throw ConfigError(
                        .syntax, message: "section header '\(trimmed)' has no name", file: path, line: number)
                }
                if let index = sectionIndex[name] {
                    current = index
                } else {
                    sectionIndex[name] = sections.count
                    current = sections.count
                    sections.append(Section(name: name, line: number))
                }
                continue
            }

            let equal = trimmed.firstIndex(of: "=")
            let colon = trimmed.firstIndex(of: ":")
            let separator: String.Index
            switch (equal, colon) {
            case let (e?, c?): separator = min(e, c)
            case let (e?, nil): separator = e
            case let (nil, c?): separator = c
            case (nil, nil):
                throw ConfigError(
                    .syntax,
                    message: "expected 'option = value', 'option: value' or a [section] header, got '\(trimmed)'",
                    file: path, line: number)
            }
            let option = trimmed[..<separator].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: separator)...].trimmingCharacters(in: .whitespaces)
            guard !option.isEmpty else {
                throw ConfigError(.syntax, message: "option name is empty in '\(trimmed)'", file: path, line: number)
            }
            guard current != nil else {
                throw ConfigError(
                    .syntax,
                    message: "option '\(option)' appears before any [section] header (put it under [DEFAULT])",
                    file: path, option: option, line: number)
            }
            // Like oslo.config: one pair of matching quotes around the value is dropped.
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            pendingOption = option
            pendingValue = [value]
            pendingLine = number
        }
        flush()
        self.sections = sections
    }

    /// Reads and parses the file at `path`.
    ///
    /// Throws ``ConfigError/Code/missingFile`` when the file does not exist or cannot be read,
    /// ``ConfigError/Code/syntax`` when it is not valid UTF-8 INI text.
    public static func load(path: String) throws(ConfigError) -> INIFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(.missingFile, message: "no such configuration file", file: path)
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(.missingFile, message: "is a directory, not a configuration file", file: path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(.missingFile, message: "cannot be read: \(error.localizedDescription)", file: path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(.syntax, message: "is not valid UTF-8 text", file: path)
        }
        return try INIFile(text: text, path: path)
    }
}
