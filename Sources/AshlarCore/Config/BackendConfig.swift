import Foundation

/// One enabled storage backend, read from the section named after it.
///
/// Each option is looked up in the backend's own section first, then in
/// `[backend_defaults]`; `max_over_subscription_ratio` also falls back to `[DEFAULT]`.
public struct BackendConfig: Sendable, Equatable {
    /// The section name, e.g. `"file-1"`.
    public var name: String
    /// `volume_driver`, normalised: currently always `"file"`.
    public var volumeDriver: String
    /// `volume_backend_name`: what volume types match on; defaults to ``name``.
    public var volumeBackendName: String
    /// `file_volume_dir`: where the file driver keeps volume files; always absolute.
    public var fileVolumeDir: String
    /// `file_capacity_gb`: the capacity to report; `nil` means the file system's size.
    public var fileCapacityGB: Int?
    /// `backend_host`: replaces the service host in ``host`` (for active/passive setups).
    public var backendHost: String?
    /// `backend_availability_zone`: overrides `storage_availability_zone` for this backend.
    public var backendAvailabilityZone: String?
    /// `reserved_percentage`: capacity kept back from scheduling, 0...100.
    public var reservedPercentage: Int
    /// `max_over_subscription_ratio`: how far thin provisioning may over-commit, at least 1.0.
    public var maxOverSubscriptionRatio: Double
    /// `extra_capabilities`: extra capabilities to report, values as strings.
    public var extraCapabilities: [String: String]
    /// `filter_function`: the expression the scheduler's DriverFilter evaluates for this backend's pools,
    /// e.g. `volume.size < 50`; `nil` when unset or empty. The INI reader has already removed one pair of
    /// surrounding quotes, as oslo.config does.
    public var filterFunction: String?
    /// `goodness_function`: the expression the scheduler's GoodnessWeigher rates this backend's pools by
    /// (0...100); `nil` when unset or empty.
    public var goodnessFunction: String?
    /// Every raw option for this backend: `[backend_defaults]` overlaid by its own section.
    /// Options Ashlar does not model (e.g. `target_*`) are read from here.
    public var options: [String: String]
    /// Where each entry of ``options`` came from, for error messages.
    public var settings: [String: AshlarConfig.Setting]
    /// The `[DEFAULT] host` of the service running this backend.
    public var serviceHost: String

    /// The backend's cinder-style host: `"<backend_host or service host>@<name>"`.
    public var host: String { "\(backendHost ?? serviceHost)@\(name)" }

    /// Creates a backend configuration directly (tests, tools); `volumeBackendName` defaults to `name`.
    public init(
        name: String,
        volumeDriver: String = "file",
        volumeBackendName: String? = nil,
        fileVolumeDir: String,
        fileCapacityGB: Int? = nil,
        backendHost: String? = nil,
        backendAvailabilityZone: String? = nil,
        reservedPercentage: Int = 0,
        maxOverSubscriptionRatio: Double = 20.0,
        extraCapabilities: [String: String] = [:],
        filterFunction: String? = nil,
        goodnessFunction: String? = nil,
        options: [String: String] = [:],
        settings: [String: AshlarConfig.Setting] = [:],
        serviceHost: String
    ) {
        self.name = name
        self.volumeDriver = volumeDriver
        self.volumeBackendName = volumeBackendName ?? name
        self.fileVolumeDir = fileVolumeDir
        self.fileCapacityGB = fileCapacityGB
        self.backendHost = backendHost
        self.backendAvailabilityZone = backendAvailabilityZone
        self.reservedPercentage = reservedPercentage
        self.maxOverSubscriptionRatio = maxOverSubscriptionRatio
        self.extraCapabilities = extraCapabilities
        self.filterFunction = filterFunction
        self.goodnessFunction = goodnessFunction
        self.options = options
        self.settings = settings
        self.serviceHost = serviceHost
    }

    // MARK: - Reading raw options

    /// The setting for `option` from ``options``, located via ``settings`` when known.
    public func setting(_ option: String) -> AshlarConfig.Setting? {
        guard let value = options[option] else { return nil }
        var located =
            settings[option]
            ?? AshlarConfig.Setting(value: value, file: nil, section: name, option: option, line: nil)
        located.value = value  // `options` is authoritative if someone changed it
        return located
    }

    /// An error about `option` of this backend, naming the file and line when known.
    public func error(_ option: String, _ message: String, code: ConfigError.Code = .invalidValue) -> ConfigError {
        setting(option)?.error(message, code: code)
            ?? ConfigError(code, message: message, section: name, option: option)
    }

    /// `option` as a boolean, or `defaultValue` when unset.
    public func bool(_ option: String, default defaultValue: Bool) throws(ConfigError) -> Bool {
        try setting(option)?.bool() ?? defaultValue
    }

    /// `option` as an integer within `range`, or `defaultValue` when unset.
    public func int(
        _ option: String, default defaultValue: Int, in range: ClosedRange<Int> = Int.min...Int.max
    ) throws(ConfigError) -> Int {
        try setting(option)?.int(in: range) ?? defaultValue
    }

    /// `option` as a non-empty string, or `defaultValue` when unset.
    public func string(_ option: String, default defaultValue: String) throws(ConfigError) -> String {
        try setting(option)?.string() ?? defaultValue
    }

    // MARK: - Building from files

    /// Reads backend `name` from the merged files.
    init(
        name: String,
        layers: AshlarConfig.Layers,
        serviceHost: String,
        statePath: String,
        isSoleBackend: Bool,
        currentDirectory: String
    ) throws(ConfigError) {
        var settings = layers.settings(in: AshlarConfig.backendDefaultsSection)
        settings.merge(layers.settings(in: name)) { _, own in own }

        func setting(_ option: String) -> AshlarConfig.Setting? { settings[option] }
        func optionalString(_ option: String) -> String? {
            guard let value = settings[option]?.value, !value.isEmpty else { return nil }
            return value
        }

        let volumeDriver: String
        if let given = setting("volume_driver") {
            volumeDriver = try Self.normaliseDriver(given)
        } else {
            volumeDriver = "file"
        }

        let fileVolumeDir: String
        if let given = setting("file_volume_dir") {
            let path = AshlarConfig.substituteStatePath(try given.string(), statePath: statePath)
            fileVolumeDir = AshlarConfig.absolutePath(path, relativeTo: currentDirectory)
        } else {
            // A lone "file-1" keeps the simple layout; otherwise each backend gets its own directory.
            let volumes = AshlarConfig.join(statePath, "volumes")
            fileVolumeDir = isSoleBackend && name == "file-1" ? volumes : AshlarConfig.join(volumes, name)
        }

        let ratio =
            setting("max_over_subscription_ratio")
            ?? layers.setting("max_over_subscription_ratio", in: INIFile.defaultSection)
        if let ratio, ratio.value.lowercased() == "auto" {
            throw ratio.error("'auto' is not supported yet: give a number of at least 1.0", code: .unsupported)
        }

        var extraCapabilities: [String: String] = [:]
        if let given = setting("extra_capabilities") {
            extraCapabilities = try Self.parseCapabilities(given)
        }
        if let given = setting("backend_host"), given.value.contains("@") || given.value.contains("#") {
            throw given.error("'\(given.value)' must not contain '@' or '#'")
        }

        self.init(
            name: name,
            volumeDriver: volumeDriver,
            volumeBackendName: try setting("volume_backend_name")?.string() ?? name,
            fileVolumeDir: fileVolumeDir,
            fileCapacityGB: try setting("file_capacity_gb")?.int(in: 1...Int.max),
            backendHost: optionalString("backend_host"),
            backendAvailabilityZone: optionalString("backend_availability_zone"),
            reservedPercentage: try setting("reserved_percentage")?.int(in: 0...100) ?? 0,
            maxOverSubscriptionRatio: try ratio?.double(atLeast: 1.0) ?? 20.0,
            extraCapabilities: extraCapabilities,
            filterFunction: optionalString("filter_function"),
            goodnessFunction: optionalString("goodness_function"),
            options: settings.mapValues(\.value),
            settings: settings,
            serviceHost: serviceHost
        )
    }

    /// Accepts `file` or a class path ending in `FileDriver`; Ashlar has no other driver yet.
    private static func normaliseDriver(_ given: AshlarConfig.Setting) throws(ConfigError) -> String {
        let value = given.value
        if value.lowercased() == "file" || value.hasSuffix("FileDriver") { return "file" }
        throw given.error(
            "'\(value)' is not supported: Ashlar only has the file driver (volume_driver = file)",
            code: .unsupported
        )
    }

    /// Parses a JSON object; non-string values are kept as their JSON text.
    private static func parseCapabilities(_ given: AshlarConfig.Setting) throws(ConfigError) -> [String: String] {
        if given.value.isEmpty { return [:] }
        let object: [String: JSONValue]
        do {
            object = try JSONDecoder().decode([String: JSONValue].self, from: Data(given.value.utf8))
        } catch {
            throw given.error("'\(given.value)' is not a JSON object, e.g. {\"thin_provisioning\": true}")
        }
        return object.mapValues(\.text)
    }

    /// Just enough JSON to stringify capability values deterministically.
    private enum JSONValue: Decodable {
        case null, bool(Bool), int(Int), double(Double), string(String)
        case array([JSONValue]), object([String: JSONValue])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else if let value = try? container.decode(Double.self) {
                self = .double(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([JSONValue].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: JSONValue].self))
            }
        }

        /// Strings as themselves, everything else as compact JSON text.
        var text: String {
            if case .string(let value) = self { return value }
            return json
        }

        private var json: String {
            switch self {
            case .null: "null"
            case .bool(let value): value ? "true" : "false"
            case .int(let value): String(value)
            case .double(let value): String(value)
            case .string(let value): Self.quote(value)
            case .array(let values): "[" + values.map(\.json).joined(separator: ",") + "]"
            case .object(let members):
                "{" + members.keys.sorted().map { Self.quote($0) + ":" + members[$0]!.json }.joined(separator: ",")
                    + "}"
            }
        }

        private static func quote(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
    }
}
