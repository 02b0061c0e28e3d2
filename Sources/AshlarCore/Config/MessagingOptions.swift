import Foundation

/// How the services reach each other: `[DEFAULT] transport_url`, `control_exchange`, `rpc_response_timeout` and the
/// `[oslo_messaging_rabbit]` options that apply, with oslo.messaging's names and defaults.
public struct MessagingOptions: Sendable, Equatable {
    /// `transport_url`; nil: the in-process bus of `ashlar serve`.
    public var transportURL: TransportURL?
    /// `control_exchange`: the topic exchange (`openstack`, as Cinder never changes it).
    public var controlExchange: String
    /// `rpc_response_timeout`: seconds a call waits for its reply.
    public var rpcResponseTimeout: Int
    /// `[oslo_messaging_rabbit] heartbeat_timeout_threshold`: seconds without traffic before the broker counts as
    /// gone (0 turns heartbeats off).
    public var heartbeatTimeoutThreshold: Int
    /// `[oslo_messaging_rabbit] rabbit_quorum_queue`: declare the topic queues as quorum queues.
    public var quorumQueues: Bool
    /// `[oslo_messaging_rabbit] amqp_durable_queues`: declare exchanges and topic queues durable.
    public var durableQueues: Bool
    /// `[oslo_messaging_rabbit] rabbit_transient_queues_ttl`: seconds an unused fanout or reply queue lives.
    public var transientQueuesTTL: Int

    public init(
        transportURL: TransportURL? = nil, controlExchange: String = "openstack", rpcResponseTimeout: Int = 60,
        heartbeatTimeoutThreshold: Int = 60, quorumQueues: Bool = false, durableQueues: Bool = false,
        transientQueuesTTL: Int = 1800
    ) {
        self.transportURL = transportURL
        self.controlExchange = controlExchange
        self.rpcResponseTimeout = rpcResponseTimeout
        self.heartbeatTimeoutThreshold = heartbeatTimeoutThreshold
        self.quorumQueues = quorumQueues
        self.durableQueues = durableQueues
        self.transientQueuesTTL = transientQueuesTTL
    }

    static let section = "oslo_messaging_rabbit"
    static let defaultOptionNames: Set<String> = ["transport_url", "control_exchange", "rpc_response_timeout"]
    /// What `[oslo_messaging_rabbit]` may hold: the options read here, and oslo's others, tolerated.
    static let rabbitOptionNames: Set<String> = [
        "heartbeat_timeout_threshold", "rabbit_quorum_queue", "amqp_durable_queues", "rabbit_transient_queues_ttl",
        "heartbeat_rate", "amqp_auto_delete", "rabbit_retry_interval", "rabbit_retry_backoff",
        "rabbit_interval_max", "rabbit_qos_prefetch_count", "kombu_reconnect_delay", "ssl", "rabbit_ha_queues",
        "direct_mandatory_flag", "heartbeat_in_pthread", "rabbit_stream_fanout", "use_queue_manager",
    ]

    /// The setting's URL; a bad one is an error naming the setting's place.
    private static func transportURL(_ given: AshlarConfig.Setting) throws(ConfigError) -> TransportURL {
        switch Result(catching: { () throws(ConfigError) -> TransportURL in try TransportURL(given.value) }) {
        case .success(let url): return url
        case .failure(let error): throw given.error(error.message, code: error.code)
        }
    }

    init(layers: AshlarConfig.Layers) throws(ConfigError) {
        let main = INIFile.defaultSection
        let defaults = MessagingOptions()
        var url: TransportURL?
        if let given = layers.setting("transport_url", in: main), !given.value.isEmpty {
            url = try Self.transportURL(given)
        }
        self.init(
            transportURL: url,
            controlExchange: try layers.setting("control_exchange", in: main)?.string() ?? defaults.controlExchange,
            rpcResponseTimeout: try layers.setting("rpc_response_timeout", in: main)?.int(in: 1...Int.max)
                ?? defaults.rpcResponseTimeout,
            heartbeatTimeoutThreshold: try layers.setting("heartbeat_timeout_threshold", in: Self.section)?
                .int(in: 0...Int.max) ?? defaults.heartbeatTimeoutThreshold,
            quorumQueues: try layers.setting("rabbit_quorum_queue", in: Self.section)?.bool() ?? false,
            durableQueues: try layers.setting("amqp_durable_queues", in: Self.section)?.bool() ?? false,
            transientQueuesTTL: try layers.setting("rabbit_transient_queues_ttl", in: Self.section)?
                .int(in: 1...Int.max) ?? defaults.transientQueuesTTL)
    }
}

/// What a service process reads besides `AshlarConfig`: the bus, and how long a statement waits for a database
/// connection (`[database] pool_timeout`, oslo.db's 30 s).
public struct ProcessOptions: Sendable, Equatable {
    public var messaging: MessagingOptions
    public var databasePoolTimeout: Int

    public init(messaging: MessagingOptions = .init(), databasePoolTimeout: Int = 30) {
        self.messaging = messaging
        self.databasePoolTimeout = databasePoolTimeout
    }
}

/// A `transport_url` as oslo.messaging takes it: `rabbit://USER:PASSWORD@HOST:PORT[,USER:PASSWORD@HOST2:PORT2…]/VHOST`
/// — several hosts are tried in order (failover).
public struct TransportURL: Sendable, Equatable {
    public struct Host: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String

        public init(host: String, port: Int = 5672, user: String = "guest", password: String = "guest") {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
        }
    }

    public var hosts: [Host]
    /// The virtual host; `/` when the URL names none.
    public var virtualHost: String

    public init(hosts: [Host], virtualHost: String = "/") {
        self.hosts = hosts
        self.virtualHost = virtualHost
    }

    public init(_ text: String) throws(ConfigError) {
        guard let schemeEnd = text.range(of: "://") else { throw Self.invalid(text, "it has no scheme") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "rabbit" || scheme == "amqp" else {
            throw ConfigError(
                .unsupported,
                message: "'\(Self.redacted(text))': only rabbit:// transports are supported (RabbitMQ, AMQP 0-9-1)")
        }
        var rest = text[schemeEnd.upperBound...]
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        let slash = rest.firstIndex(of: "/")
        let authority = slash.map { rest[..<$0] } ?? rest
        let path = slash.map { String(rest[rest.index(after: $0)...]) } ?? ""
        var hosts: [Host] = []
        for entry in authority.split(separator: ",") {
            var credentials: Substring?
            var address = entry
            if let at = entry.lastIndex(of: "@") {
                credentials = entry[..<at]
                address = entry[entry.index(after: at)...]
            }
            var host = Host(host: "")
            if let credentials {
                let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                host.user = String(parts[0]).removingPercentEncoding ?? String(parts[0])
                if parts.count > 1 { host.password = String(parts[1]).removingPercentEncoding ?? String(parts[1]) }
            }
            // [v6]:port, host:port or host.
            if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
                host.host = String(address[address.index(after: address.startIndex)..<close])
                let after = address[address.index(after: close)...]
                if after.hasPrefix(":") { host.port = try Self.port(after.dropFirst(), text) }
            } else if let colon = address.lastIndex(of: ":") {
                host.host = String(address[..<colon])
                host.port = try Self.port(address[address.index(after: colon)...], text)
            } else {
                host.host = String(address)
            }
            guard !host.host.isEmpty else { throw Self.invalid(text, "a host is missing") }
            hosts.append(host)
        }
        guard !hosts.isEmpty else { throw Self.invalid(text, "it names no host") }
        let vhost = path.removingPercentEncoding ?? path
        self.init(hosts: hosts, virtualHost: vhost.isEmpty ? "/" : vhost)
    }

    private static func port(_ text: Substring, _ url: String) throws(ConfigError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw invalid(url, "'\(text)' is not a port")
        }
        return port
    }

    private static func invalid(_ text: String, _ why: String) -> ConfigError {
        ConfigError(.invalidValue, message: "'\(redacted(text))' is not a valid transport URL: \(why)")
    }

    /// The URL with every password replaced, for messages and logs.
    public static func redacted(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let at = rest.firstIndex(of: "@") {
            let head = rest[..<at]
            let start = head.range(of: "://").map(\.upperBound) ?? head.lastIndex(of: ",").map { head.index(after: $0) }
                ?? head.startIndex
            if let colon = head[start...].firstIndex(of: ":") {
                result += head[..<head.index(after: colon)] + "***@"
            } else {
                result += head + "@"
            }
            rest = rest[rest.index(after: at)...]
        }
        return result + rest
    }
}

extension AshlarConfig {
    /// The options of a service process beside `AshlarConfig`: the bus, and the database pool's wait.
    public static func processOptions(files: [INIFile]) throws(ConfigError) -> ProcessOptions {
        let layers = Layers(files: files)
        let messaging = try MessagingOptions(layers: layers)
        let timeout = try layers.setting("pool_timeout", in: databaseSection)?.int(in: 1...Int.max) ?? 30
        return ProcessOptions(messaging: messaging, databasePoolTimeout: timeout)
    }

    /// `processOptions(files:)` from files on disk.
    public static func processOptions(paths: [String]) throws(ConfigError) -> ProcessOptions {
        var parsed: [INIFile] = []
        for path in paths { parsed.append(try INIFile.load(path: path)) }
        return try processOptions(files: parsed)
    }
}
