import AshlarCore
import Foundation

/// An RPC request: a method, its JSON arguments and the caller's context, as oslo.messaging carries them.
public struct RPCMessage: Sendable {
    public var method: String
    public var version: String
    public var context: CallerContext
    /// The arguments, as a JSON object text.
    public var args: Data

    public init(method: String, version: String = "3.0", context: CallerContext, args: Data) {
        self.method = method
        self.version = version
        self.context = context
        self.args = args
    }

    /// Builds a message from a typed argument struct.
    public init(method: String, version: String = "3.0", context: CallerContext, arguments: some Encodable) throws {
        self.init(method: method, version: version, context: context, args: try RPCCoding.encoder.encode(arguments))
    }

    /// Decodes the arguments into the type the method takes.
    public func arguments<T: Decodable>(_ type: T.Type) throws(AshlarError) -> T {
        do {
            return try RPCCoding.decoder.decode(T.self, from: args)
        } catch {
            throw AshlarError(.invalidInput, "RPC \(method): arguments do not decode as \(T.self): \(error)")
        }
    }
}

/// Where a message goes: a topic, and optionally one server of it (oslo's `Target(topic, server)`).
public struct RPCTarget: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var server: String?

    public init(topic: String, server: String? = nil) {
        self.topic = topic
        self.server = server
    }

    /// The routing key: `topic` or `topic.server`.
    public var routingKey: String { server.map { "\(topic).\($0)" } ?? topic }
    public var description: String { routingKey }

    /// The scheduler topic (any scheduler).
    public static let scheduler = RPCTarget(topic: "cinder-scheduler")

    /// The topic of one volume backend, from a volume's host (`node@backend#pool` or `node@backend`):
    /// `cinder-volume.node@backend`, server `node`.
    public static func volume(host: String) -> RPCTarget {
        RPCTarget(topic: "cinder-volume.\(HostName.backend(of: host))", server: HostName.node(of: host))
    }
}

/// The JSON coding used on the bus.
public enum RPCCoding {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()
    public static let decoder = JSONDecoder()
}
