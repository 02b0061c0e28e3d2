import Testing

@testable import AshlarCore

@Suite("transport_url and messaging options")
struct MessagingOptionsTests {
    private func load(_ text: String) throws -> ProcessOptions {
        try AshlarConfig.processOptions(files: [try INIFile(text: text, path: "ashlar.conf")])
    }

    @Test("several hosts in order, credentials decoded, the vhost, the default port and vhost")
    func hosts() throws {
        let url = try TransportURL("rabbit://openstack:p%40ss@ctl1:5673,other:pw@ctl2/cinder")
        #expect(
            url.hosts == [
                .init(host: "ctl1", port: 5673, user: "openstack", password: "p@ss"),
                .init(host: "ctl2", port: 5672, user: "other", password: "pw"),
            ])
        #expect(url.virtualHost == "cinder")
        #expect(try TransportURL("rabbit://h").hosts == [.init(host: "h")])
        #expect(try TransportURL("rabbit://u:p@h:5672/").virtualHost == "/")
        #expect(try TransportURL("rabbit://u:p@[::1]:5674/").hosts.first?.port == 5674)
    }

    @Test("bad URLs are refused with a reason and without the password")
    func refusals() throws {
        for text in ["kafka://h", "rabbit://", "rabbit://u:secret@h:99999/", "nonsense"] {
            #expect(throws: ConfigError.self) { try TransportURL(text) }
        }
        do {
            _ = try TransportURL("rabbit://u:secret@h:99999/")
        } catch {
            #expect(!error.message.contains("secret"))
        }
        #expect(TransportURL.redacted("rabbit://a:x@h1,b:y@h2/v") == "rabbit://a:***@h1,b:***@h2/v")
    }

    @Test("options with oslo.messaging's names and defaults; a bad transport_url names its line")
    func options() throws {
        let defaults = try load("[DEFAULT]\n").messaging
        #expect(defaults == MessagingOptions())
        let set = try load(
            """
            [DEFAULT]
            transport_url = rabbit://u:p@ctl:5672/
            control_exchange = cinder
            rpc_response_timeout = 30
            [oslo_messaging_rabbit]
            heartbeat_timeout_threshold = 10
            rabbit_quorum_queue = true
            amqp_durable_queues = true
            """
        ).messaging
        #expect(set.transportURL?.hosts.first?.host == "ctl")
        #expect(set.controlExchange == "cinder" && set.rpcResponseTimeout == 30)
        #expect(set.heartbeatTimeoutThreshold == 10 && set.quorumQueues && set.durableQueues)
        #expect(throws: ConfigError.self) { try load("[DEFAULT]\ntransport_url = kafka://x\n") }
        #expect(try load("[database]\npool_timeout = 7\n").databasePoolTimeout == 7)
        #expect(try load("").databasePoolTimeout == 30)
    }
}
