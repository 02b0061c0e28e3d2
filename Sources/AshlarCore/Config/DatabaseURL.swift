import Foundation

/// A `[database] connection` URL, as oslo.db takes it: `sqlite:///relative/path`, `sqlite:////absolute/path`,
/// `sqlite://` (in memory), or `postgresql://user:password@host:port/dbname?sslmode=…` — also spelled
/// `postgres://` and with a driver, as upstream's `postgresql+psycopg2://`.
public enum DatabaseURL: Sendable, Equatable {
    /// A file (nil: in memory).
    case sqlite(path: String?)
    case postgresql(PostgreSQL)

    /// Where and how to reach a PostgreSQL server.
    public struct PostgreSQL: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        /// libpq's `sslmode`: `disable`, `allow`, `prefer` (the default), `require`, `verify-ca`, `verify-full`.
        public var sslMode: String

        public init(
            host: String, port: Int = 5432, user: String, password: String? = nil, database: String,
            sslMode: String = "prefer"
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.sslMode = sslMode
        }
    }

    /// The sslmode values libpq knows.
    static let sslModes: Set<String> = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    /// Parses `text`; the error says what is wrong in words a person can act on (never the password).
    public init(_ text: String) throws(ConfigError) {
        if text.hasPrefix("sqlite://") {
            var path = String(text.dropFirst("sqlite://".count))
            if path.hasPrefix("/") { path.removeFirst() }
            self = .sqlite(path: path.isEmpty || path == ":memory:" ? nil : path)
            return
        }
        guard let colon = text.firstIndex(of: ":") else { throw Self.unsupported(text) }
        let scheme = text[..<colon].lowercased()
        let dialect = scheme.split(separator: "+", maxSplits: 1).first.map(String.init) ?? scheme
        guard dialect == "postgresql" || dialect == "postgres" else { throw Self.unsupported(text) }
        // URLComponents does not take a scheme with '+' everywhere; the rest parses the same under one name.
        guard let components = URLComponents(string: "postgresql" + text[colon...]),
            let host = components.host, !host.isEmpty
        else {
            throw ConfigError(
                .invalidValue, message: "'\(Self.redacted(text))' is not a valid postgresql:// URL (it needs a host)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ConfigError(
                .invalidValue,
                message: "'\(Self.redacted(text))' names no user; write postgresql://USER:PASSWORD@\(host)/DATABASE")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw ConfigError(
                .invalidValue,
                message: "'\(Self.redacted(text))' names no database; write postgresql://USER:PASSWORD@\(host)/DATABASE"
            )
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let sslMode = query["sslmode"] ?? "prefer"
        guard Self.sslModes.contains(sslMode) else {
            throw ConfigError(
                .invalidValue,
                message: "sslmode '\(sslMode)' is not one of \(Self.sslModes.sorted().joined(separator: ", "))")
        }
        self = .postgresql(
            PostgreSQL(
                host: host, port: components.port ?? 5432, user: components.user?.removingPercentEncoding ?? user,
                password: components.password?.removingPercentEncoding, database: database, sslMode: sslMode))
    }

    /// What is wrong with `text` as a connection URL; nil when it parses.
    public static func problem(_ text: String) -> ConfigError? {
        switch Result(catching: { () throws(ConfigError) -> DatabaseURL in try DatabaseURL(text) }) {
        case .success: nil
        case .failure(let error): error
        }
    }

    private static func unsupported(_ text: String) -> ConfigError {
        ConfigError(
            .unsupported,
            message:
                "'\(redacted(text))' is not supported; use sqlite:///path/to/ashlar.sqlite or postgresql://USER:PASSWORD@HOST/DATABASE"
        )
    }

    /// `text` with the password of its user part replaced, for messages and logs.
    public static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@"),
            let colon = text[schemeEnd.upperBound..<at].firstIndex(of: ":")
        else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }
}
