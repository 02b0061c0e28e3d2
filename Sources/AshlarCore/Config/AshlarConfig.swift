import Foundation

/// Ashlar's typed configuration, read from cinder.conf-style files.
///
/// Built from several ``INIFile``s where a later file wins per option, then
/// command-line ``Overrides`` win over every file. Option names and defaults
/// follow cinder's where cinder has the option.
public struct AshlarConfig: Sendable, Equatable {
    /// `[DEFAULT] state_path`: where Ashlar keeps its data; always absolute.
    public var statePath: String
    /// `[DEFAULT] host`: this service's host name; defaults to the short machine name.
    public var host: String
    /// `osapi_volume_listen`: the API's listen address.
    public var listenAddress: String
    /// `osapi_volume_listen_port`: the API's port; 0 asks the OS for an ephemeral one.
    public var listenPort: Int
    /// `auth_strategy`: only `"noauth"` is supported.
    public var authStrategy: String
    /// `enabled_backends`: backend section names, in order.
    public var enabledBackends: [String]
    /// `default_volume_type`: the type given to volumes created without one.
    public var defaultVolumeType: String
    /// `storage_availability_zone`: the zone this node's backends are in.
    public var storageAvailabilityZone: String
    /// `default_availability_zone`: the zone given to volumes created without one.
    public var defaultAvailabilityZone: String
    /// `report_interval`: seconds between service heartbeats.
    public var reportInterval: Int
    /// `service_down_time`: seconds without a heartbeat before a service counts as down.
    public var serviceDownTime: Int
    /// `osapi_max_limit`: the most items one list request returns.
    public var osapiMaxLimit: Int
    /// `osapi_max_request_body_size`: the largest accepted request body, in bytes.
    public var osapiMaxRequestBodySize: Int
    /// `message_ttl`: seconds a user message is kept.
    public var messageTTL: Int
    /// `message_reap_interval`: seconds between removals of expired user messages.
    public var messageReapInterval: Int
    /// `stale_operation_timeout` (Ashlar's own): seconds a resource may stay in a transitional state with no
    /// service working on it before the service that owns it takes it over (a message lost between services).
    public var staleOperationTimeout: Int
    /// `public_endpoint`: the base URL of links in responses; nil takes it from the request.
    public var publicEndpoint: String?
    /// `[database] connection`: defaults to an SQLite file under ``statePath``.
    public var databaseConnection: String
    /// `[database] max_pool_size`: the most connections this process opens to a database server.
    public var databaseMaxPoolSize: Int
    /// The scheduler's options.
    public var scheduler: SchedulerOptions
    /// Default per-project quotas.
    public var quotas: QuotaDefaults
    /// How images are checked and converted.
    public var images: ImageOptions = ImageOptions()
    /// One entry per ``enabledBackends`` name, in the same order.
    public var backends: [BackendConfig]
    /// Unknown options, one line each naming file, section and option.
    public var warnings: [String]

    /// Values given on the command line; each one set wins over every file.
    public struct Overrides: Sendable, Equatable {
        /// Overrides `state_path`.
        public var statePath: String?
        /// Overrides `osapi_volume_listen`.
        public var listenAddress: String?
        /// Overrides `osapi_volume_listen_port`.
        public var listenPort: Int?

        /// Creates overrides; `nil` leaves the files' value.
        public init(statePath: String? = nil, listenAddress: String? = nil, listenPort: Int? = nil) {
            self.statePath = statePath
            self.listenAddress = listenAddress
            self.listenPort = listenPort
        }
    }

    /// One option's raw value and where it came from, so that conversions can
    /// throw a ``ConfigError`` pointing at the exact file, section and line.
    public struct Setting: Sendable, Equatable {
        /// The raw value as parsed.
        public var value: String
        /// The file it came from; `nil` when not from a file.
        public var file: String?
        /// The section it was read from (for a backend, possibly `backend_defaults`).
        public var section: String?
        /// The option name.
        public var option: String
        /// The 1-based line in `file`, when known.
        public var line: Int?

        /// Creates a setting.
        public init(value: String, file: String?, section: String?, option: String, line: Int?) {
            self.value = value
            self.file = file
            self.section = section
            self.option = option
            self.line = line
        }

        /// An error about this setting, with its location filled in.
        public func error(_ message: String, code: ConfigError.Code = .invalidValue) -> ConfigError {
            ConfigError(code, message: message, file: file, section: section, option: option, line: line)
        }

        /// The value, which must not be empty.
        public func string() throws(ConfigError) -> String {
            guard !value.isEmpty else { throw error("must not be empty") }
            return value
        }

        /// The value as an integer within `range`.
        public func int(in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int {
            guard let number = Int(value) else { throw error("'\(value)' is not an integer") }
            guard range.contains(number) else {
                throw error("'\(value)' is out of range: must be \(AshlarConfig.describe(range))")
            }
            return number
        }

        /// The value as a finite number, at least `minimum` when given.
        public func double(atLeast minimum: Double? = nil) throws(ConfigError) -> Double {
            guard let number = Double(value), number.isFinite else { throw error("'\(value)' is not a number") }
            if let minimum, number < minimum {
                throw error("'\(value)' is out of range: must be at least \(minimum)")
            }
            return number
        }

        /// The value as a boolean; see ``AshlarConfig/parseBool(_:)``.
        public func bool() throws(ConfigError) -> Bool {
            guard let flag = AshlarConfig.parseBool(value) else {
                throw error("'\(value)' is not a boolean (use true/false, yes/no, on/off or 1/0)")
            }
            return flag
        }

        /// The value as a comma-separated list; items trimmed, empty items dropped.
        public func list() -> [String] {
            value.split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { !$0.isEmpty }
        }
    }

    /// Section names with a fixed meaning (never backend names).
    static let databaseSection = "database"
    static let backendDefaultsSection = "backend_defaults"

    /// Reads and merges the files in order, then applies `overrides`.
    ///
    /// Throws ``ConfigError/Code/missingFile`` for a file that does not exist, and
    /// the errors of ``make(files:overrides:)`` for bad contents.
    public static func load(files: [String], overrides: Overrides = .init()) throws(ConfigError) -> AshlarConfig {
        var parsed: [INIFile] = []
        for path in files {
            parsed.append(try INIFile.load(path: path))
        }
        return try make(files: parsed, overrides: overrides)
    }

    /// Builds the configuration from already-parsed files (later files win per option), then `overrides`.
    ///
    /// Relative paths are made absolute against the current directory.
    public static func make(files: [INIFile], overrides: Overrides = .init()) throws(ConfigError) -> AshlarConfig {
        try make(
            files: files, overrides: overrides,
            currentDirectory: FileManager.default.currentDirectoryPath,
            machineHostName: { ProcessInfo.processInfo.hostName }
        )
    }

    /// ``make(files:overrides:)`` with the environment injected, for tests.
    static func make(
        files: [INIFile],
        overrides: Overrides,
        currentDirectory: String,
        machineHostName: () -> String
    ) throws(ConfigError) -> AshlarConfig {
        let layers = Layers(files: files)
        let section = INIFile.defaultSection
        func setting(_ option: String) -> Setting? { layers.setting(option, in: section) }

        // state_path first: other defaults are derived from it.
        let rawStatePath: String
        if let path = overrides.statePath {
            guard !path.isEmpty else { throw overrideError("state_path", "must not be empty") }
            rawStatePath = path
        } else {
            rawStatePath = try setting("state_path")?.string() ?? "./ashlar-data"
        }
        let statePath = absolutePath(rawStatePath, relativeTo: currentDirectory)

        let host: String
        if let given = setting("host") {
            host = try given.string()
            // "host@backend#pool" is parsed everywhere, so these characters would corrupt it.
            if host.contains("@") || host.contains("#") {
                throw given.error("'\(host)' must not contain '@' or '#'")
            }
        } else {
            host = shortHostName(machineHostName())
        }

        let listenAddress: String
        if let address = overrides.listenAddress {
            guard !address.isEmpty else { throw overrideError("osapi_volume_listen", "must not be empty") }
            listenAddress = address
        } else {
            listenAddress = try setting("osapi_volume_listen")?.string() ?? "127.0.0.1"
        }

        let portRange = 0...65535
        let listenPort: Int
        if let port = overrides.listenPort {
            guard portRange.contains(port) else {
                throw overrideError(
                    "osapi_volume_listen_port", "'\(port)' is out of range: must be \(describe(portRange))")
            }
            listenPort = port
        } else {
            listenPort = try setting("osapi_volume_listen_port")?.int(in: portRange) ?? 8776
        }

        let authStrategy = try setting("auth_strategy")?.string() ?? "noauth"
        if authStrategy != "noauth", let given = setting("auth_strategy") {
            throw given.error(
                "'\(authStrategy)' is not supported: Ashlar only supports auth_strategy = noauth for now",
                code: .unsupported
            )
        }

        let enabledBackends = try readEnabledBackends(setting("enabled_backends"))
        let storageZone = try setting("storage_availability_zone")?.string() ?? "nova"
        let positive = 1...Int.max

        let databaseConnection: String
        if let connection = layers.setting("connection", in: databaseSection) {
            databaseConnection = substituteStatePath(try connection.string(), statePath: statePath)
            if let problem = DatabaseURL.problem(databaseConnection) {
                throw connection.error(problem.message, code: problem.code)
            }
        } else {
            databaseConnection = "sqlite:///" + join(statePath, "ashlar.sqlite")
        }

        var backends: [BackendConfig] = []
        for name in enabledBackends {
            backends.append(
                try BackendConfig(
                    name: name, layers: layers, serviceHost: host, statePath: statePath,
                    isSoleBackend: enabledBackends.count == 1, currentDirectory: currentDirectory
                ))
        }
        // Two backends sharing a directory would see each other's volume files.
        var directoryOwners: [String: String] = [:]
        for backend in backends {
            if let owner = directoryOwners[backend.fileVolumeDir] {
                throw backend.error(
                    "file_volume_dir",
                    "'\(backend.fileVolumeDir)' is also used by backend '\(owner)'; each backend needs its own directory"
                )
            }
            directoryOwners[backend.fileVolumeDir] = backend.name
        }

        var config = AshlarConfig(
            statePath: statePath,
            host: host,
            listenAddress: listenAddress,
            listenPort: listenPort,
            authStrategy: authStrategy,
            enabledBackends: enabledBackends,
            defaultVolumeType: try setting("default_volume_type")?.string() ?? "__DEFAULT__",
            storageAvailabilityZone: storageZone,
            defaultAvailabilityZone: try setting("default_availability_zone")?.string() ?? storageZone,
            reportInterval: try setting("report_interval")?.int(in: positive) ?? 10,
            serviceDownTime: try setting("service_down_time")?.int(in: positive) ?? 60,
            osapiMaxLimit: try setting("osapi_max_limit")?.int(in: positive) ?? 1000,
            osapiMaxRequestBodySize: try setting("osapi_max_request_body_size")?.int(in: positive) ?? 114_688,
            messageTTL: try setting("message_ttl")?.int(in: positive) ?? 2_592_000,
            messageReapInterval: try setting("message_reap_interval")?.int(in: positive) ?? 86_400,
            staleOperationTimeout: try setting("stale_operation_timeout")?.int(in: positive) ?? 120,
            publicEndpoint: try readPublicEndpoint(setting("public_endpoint")),
            databaseConnection: databaseConnection,
            databaseMaxPoolSize: try layers.setting("max_pool_size", in: databaseSection)?.int(in: positive) ?? 5,
            scheduler: try SchedulerOptions(layers: layers),
            quotas: try QuotaDefaults(layers: layers),
            backends: backends,
            warnings: unknownOptionWarnings(files: files, enabledBackends: enabledBackends)
        )
        config.images = try ImageOptions(layers: layers, statePath: statePath)
        return config
    }

    /// Parses a boolean the way oslo.config does: true/false, yes/no, on/off, 1/0, any case.
    public static func parseBool(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on", "1": true
        case "false", "no", "off", "0": false
        default: nil
        }
    }

    // MARK: - Internals

    /// The files merged per section and option; a later file replaces an earlier value.
    struct Layers: Sendable {
        private var values: [String: [String: Setting]] = [:]

        init(files: [INIFile]) {
            for file in files {
                for section in file.sections {
                    for entry in section.entries {
                        values[section.name, default: [:]][entry.option] = Setting(
                            value: entry.value, file: file.path, section: section.name,
                            option: entry.option, line: entry.line
                        )
                    }
                }
            }
        }

        /// The winning value of `option` in `section`, if any file sets it.
        func setting(_ option: String, in section: String) -> Setting? {
            values[section]?[option]
        }

        /// Every option set in `section`, by name.
        func settings(in section: String) -> [String: Setting] {
            values[section] ?? [:]
        }
    }

    /// `public_endpoint` must be an http(s) URL; a trailing slash is dropped so links join cleanly.
    private static func readPublicEndpoint(_ given: Setting?) throws(ConfigError) -> String? {
        guard let given, !given.value.isEmpty else { return nil }
        var url = given.value
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > "https://".count else {
            throw given.error("'\(url)' is not an http:// or https:// URL")
        }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    private static func readEnabledBackends(_ given: Setting?) throws(ConfigError) -> [String] {
        // Unset or empty both mean the single default file backend.
        guard let given, !given.list().isEmpty else { return ["file-1"] }
        let reserved: Set<String> = [INIFile.defaultSection, databaseSection, backendDefaultsSection, ".", ".."]
        var names: [String] = []
        for name in given.list() {
            if reserved.contains(name) {
                throw given.error("'\(name)' cannot be a backend name: that section has another meaning")
            }
            // The name becomes part of "host@backend#pool" and a default directory name.
            if name.contains(where: { $0 == "@" || $0 == "#" || $0 == "/" || $0.isWhitespace }) {
                throw given.error("backend name '\(name)' must not contain '@', '#', '/' or spaces")
            }
            if names.contains(name) {
                throw given.error("'\(name)' is listed twice")
            }
            names.append(name)
        }
        return names
    }

    private static func unknownOptionWarnings(files: [INIFile], enabledBackends: [String]) -> [String] {
        let backendSections = Set(enabledBackends).union([backendDefaultsSection])
        var warnings: [String] = []
        for file in files {
            for section in file.sections {
                let known: Set<String>
                if section.name == INIFile.defaultSection {
                    known = defaultSectionOptions
                } else if section.name == databaseSection {
                    known = databaseOptions
                } else if backendSections.contains(section.name) {
                    known = backendSectionOptions
                } else {
                    continue  // e.g. [keystone_authtoken]: not ours to judge
                }
                for entry in section.entries where !known.contains(entry.option) {
                    if section.name == INIFile.defaultSection, notYetImplementedOptions.contains(entry.option) {
                        warnings.append(
                            "\(file.path) [\(section.name)] \(entry.option): not implemented yet, ignored (line \(entry.line))"
                        )
                        continue
                    }
                    warnings.append(
                        "\(file.path) [\(section.name)] \(entry.option): unknown option, ignored (line \(entry.line))"
                    )
                }
            }
        }
        return warnings
    }

    private static func overrideError(_ option: String, _ message: String) -> ConfigError {
        ConfigError(.invalidValue, message: message, file: "command line", option: option)
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }

    /// The host name before the first dot, as cinder uses it; IP addresses are kept whole.
    static func shortHostName(_ name: String) -> String {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        let isAddress = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
        let short = isAddress ? name : String(name.prefix { $0 != "." })
        return short.isEmpty ? "localhost" : short
    }

    /// `path` made absolute against `directory`, with `~`, `.` and `..` resolved
    /// textually (symlinks are left alone so the path stays what the operator wrote).
    static func absolutePath(_ path: String, relativeTo directory: String) -> String {
        var expanded = path
        if path == "~" || path.hasPrefix("~/") {
            expanded = NSHomeDirectory() + path.dropFirst()
        }
        let full = expanded.hasPrefix("/") ? expanded : directory + "/" + expanded
        var parts: [Substring] = []
        for part in full.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func join(_ directory: String, _ component: String) -> String {
        directory.hasSuffix("/") ? directory + component : directory + "/" + component
    }

    /// Expands oslo.config's `$state_path` / `${state_path}` references, common in cinder.conf.
    static func substituteStatePath(_ value: String, statePath: String) -> String {
        value.replacingOccurrences(of: "${state_path}", with: statePath)
            .replacingOccurrences(of: "$state_path", with: statePath)
    }

    // MARK: - Known options

    /// Global options Ashlar reads from `[DEFAULT]`.
    static let globalOptions: Set<String> = Set([
        "state_path", "host", "osapi_volume_listen", "osapi_volume_listen_port", "auth_strategy",
        "enabled_backends", "default_volume_type", "storage_availability_zone", "default_availability_zone",
        "report_interval", "service_down_time", "osapi_max_limit", "osapi_max_request_body_size",
        "message_ttl", "message_reap_interval", "public_endpoint", "stale_operation_timeout",
        // read by `processOptions` (MessagingOptions)
        "transport_url", "control_exchange", "rpc_response_timeout",
    ]).union(SchedulerOptions.optionNames).union(QuotaDefaults.optionNames).union(ImageOptions.optionNames)

    /// Options Ashlar reads from a backend section or `[backend_defaults]`.
    static let backendOptions: Set<String> = [
        "volume_driver", "volume_backend_name", "file_volume_dir", "file_capacity_gb", "backend_host",
        "backend_availability_zone", "reserved_percentage", "max_over_subscription_ratio", "extra_capabilities",
        "filter_function", "goodness_function", "target_helper", "target_ip_address", "target_port", "target_prefix",
        "iscsi_target_flags", "use_chap_auth", "chap_username", "chap_password", "tgt_control_port",
        "iscsi_target_params",
    ]

    /// Common cinder options Ashlar accepts without a warning, so an existing
    /// cinder.conf loads quietly; some are read later from ``BackendConfig/options``.
    static let toleratedOptions: Set<String> = [
        // logging and process
        "debug", "verbose", "log_dir", "log_file", "log_config_append", "use_stderr", "use_syslog",
        "default_log_levels", "logging_context_format_string", "rootwrap_config", "lock_path",
        "periodic_interval", "osapi_volume_workers", "my_ip",
        // messaging and other services
        "control_exchange", "rpc_response_timeout",
        "api_paste_config", "project_id_regex", "enable_v3_api", "os_region_name",
        // scheduling, quotas, messages
        "allow_availability_zone_fallback",
        "quota_driver", "use_default_quota_class", "reservation_expire", "scheduler_driver",
        // targets and drivers
        "target_protocol", "iscsi_protocol", "iscsi_helper", "iscsi_ip_address",
        "volume_group", "volumes_dir", "lvm_type", "volume_clear", "volume_clear_size",
        "backend_stats_polling_interval", "storage_protocol", "volume_name_template", "snapshot_name_template",
    ]

    /// Cinder options that change what a deployment does, which Ashlar does not do yet: a file that sets one is
    /// told so (the distributed shape and images will read them).
    static let notYetImplementedOptions: Set<String> = []

    /// Options Ashlar reads or tolerates in `[database]` (oslo.db's common ones).
    static let databaseOptions: Set<String> = [
        "connection", "backend", "sqlite_synchronous", "slave_connection", "max_pool_size", "max_overflow",
        "pool_timeout", "connection_recycle_time", "idle_timeout", "max_retries", "retry_interval",
        "db_max_retries", "db_retry_interval", "connection_debug", "connection_trace", "mysql_sql_mode",
    ]

    /// What `[DEFAULT]` may hold quietly: backend options too, as in single-backend cinder.conf files.
    static let defaultSectionOptions = globalOptions.union(backendOptions).union(toleratedOptions)
    /// What a backend section or `[backend_defaults]` may hold quietly.
    static let backendSectionOptions = backendOptions.union(toleratedOptions)
}
