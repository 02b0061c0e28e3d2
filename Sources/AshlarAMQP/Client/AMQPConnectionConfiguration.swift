import NIOCore

/// Where and how to connect.
public struct AMQPConnectionConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    /// The heartbeat interval to ask for, in seconds (the lower non-zero of ours and the broker's wins); 0 asks
    /// for none.
    public var heartbeat: UInt16
    /// Shown in the broker's management UI.
    public var connectionName: String?
    /// TCP connect plus the AMQP handshake.
    public var connectTimeout: TimeAmount
    /// Each synchronous method (declare, bind, consume...) and each publisher confirm.
    public var requestTimeout: TimeAmount
    /// Channel and connection close.
    public var closeTimeout: TimeAmount
    /// How long a publish waits while the broker has the connection blocked.
    public var blockedPublishTimeout: TimeAmount
    /// The largest frame we accept and send (the broker may lower it).
    public var frameMax: UInt32

    /// A configuration; RabbitMQ's defaults where it has them.
    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        virtualHost: String = "/", heartbeat: UInt16 = 60, connectionName: String? = nil,
        connectTimeout: TimeAmount = .seconds(10), requestTimeout: TimeAmount = .seconds(30),
        closeTimeout: TimeAmount = .seconds(5), blockedPublishTimeout: TimeAmount = .seconds(30),
        frameMax: UInt32 = 131_072
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.connectionName = connectionName
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.closeTimeout = closeTimeout
        self.blockedPublishTimeout = blockedPublishTimeout
        self.frameMax = frameMax
    }
}
