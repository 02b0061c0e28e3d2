import AshlarCore
import Foundation
import Testing

@testable import AshlarMessaging

@Suite("oslo.messaging wire")
struct OsloWireTests {
    /// The inner message of an envelope, as a dictionary.
    private func inner(_ body: Data) throws -> [String: Any] {
        let outer = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(outer["oslo.version"] as? String == "2.0")
        let text = try #require(outer["oslo.message"] as? String)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("a cast is the envelope around method, args, version, unique id and the context as _context_ keys")
    func castShape() throws {
        let message = try RPCMessage(
            method: "create_volume", version: "3.1", context: testContext, arguments: ["volume_id": "v-1"])
        let body = try OsloWire.encode(message, uniqueID: "u1", timestamp: Date(timeIntervalSince1970: 1.5))
        let fields = try inner(body)
        #expect(fields["method"] as? String == "create_volume")
        #expect(fields["version"] as? String == "3.1")
        #expect((fields["args"] as? [String: Any])?["volume_id"] as? String == "v-1")
        #expect(fields["_unique_id"] as? String == "u1")
        #expect(fields["_context_request_id"] as? String == "req-test")
        #expect(fields["_context_user_id"] as? String == "user-1")
        #expect(fields["_context_project_id"] as? String == "project-1")
        #expect(fields["_context_is_admin"] as? Bool == false)
        #expect(fields["_context_timestamp"] as? String == "1970-01-01T00:00:01.500000")
        #expect(fields["_msg_id"] == nil && fields["_reply_q"] == nil, "a cast asks for no reply")
    }

    @Test("a call names its message id and reply queue, and decodes back to the same request")
    func callRoundTrip() throws {
        let message = try RPCMessage(method: "get_pools", context: testContext, arguments: ["filters": ["a": 1]])
        let body = try OsloWire.encode(message, uniqueID: "u2", reply: ("m-1", "reply_abc"))
        #expect(try inner(body)["_timeout"] is NSNull)
        let request = try OsloWire.decodeRequest(body)
        #expect(request.message.method == "get_pools")
        #expect(request.message.version == "3.0")
        #expect(request.message.context == testContext)
        #expect(request.reply?.messageID == "m-1" && request.reply?.queue == "reply_abc")
        let args = try #require(try JSONSerialization.jsonObject(with: request.message.args) as? [String: Any])
        #expect((args["filters"] as? [String: Any])?["a"] as? Int == 1)
    }

    @Test("a request as a Python oslo.messaging client writes it (user and tenant under oslo.context's names)")
    func pythonShapedRequest() throws {
        let inner: [String: Any] = [
            "method": "ping", "args": ["x": 1], "version": "3.0", "_unique_id": "abc", "_msg_id": "m",
            "_reply_q": "reply_q", "_context_user": "u", "_context_tenant": "t", "_context_is_admin": true,
            "_context_request_id": "req-1", "_context_roles": ["admin"],
        ]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: inner), as: UTF8.self)
        let body = try JSONSerialization.data(withJSONObject: ["oslo.version": "2.0", "oslo.message": text])
        let request = try OsloWire.decodeRequest(body)
        #expect(request.message.context == CallerContext(requestID: "req-1", userID: "u", projectID: "t", isAdmin: true))
        #expect(request.uniqueID == "abc")
    }

    @Test("replies: a result, null, and an AshlarError come back as they were sent")
    func replies() throws {
        let value = try OsloWire.decodeReply(
            try OsloWire.encodeReply(.success(Data(#"{"pools":[1,2]}"#.utf8)), messageID: "m", uniqueID: "u"))
        #expect(value.messageID == "m" && value.ending)
        let data = try #require(try value.result.get())
        #expect((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["pools"] as? [Int] == [1, 2])

        let null = try OsloWire.decodeReply(try OsloWire.encodeReply(.success(nil), messageID: "m", uniqueID: "u"))
        #expect(try null.result.get() == nil)

        let sent = AshlarError(.invalidState, "Invalid volume: it is in-use.")
        let failed = try OsloWire.decodeReply(try OsloWire.encodeReply(.failure(sent), messageID: "m", uniqueID: "u"))
        guard case .failure(let error) = failed.result else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .invalidState)
        #expect(error.message == sent.message)
    }

    @Test("a failure of a Python service maps by its exception's name", arguments: [
        ("VolumeNotFound", AshlarError.Code.notFound), ("InvalidVolume", .invalidState),
        ("InvalidInput", .invalidInput), ("NoValidBackend", .noValidBackend), ("VolumeLimitExceeded", .overLimit),
        ("ValueError", .internalError),
    ])
    func pythonFailures(name: String, code: AshlarError.Code) throws {
        let failure = #"{"class": "\#(name)", "module": "cinder.exception", "message": "it broke", "tb": [], "args": [], "kwargs": {}}"#
        let inner: [String: Any] = ["result": NSNull(), "failure": failure, "ending": true, "_msg_id": "m"]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: inner), as: UTF8.self)
        let body = try JSONSerialization.data(withJSONObject: ["oslo.version": "2.0", "oslo.message": text])
        guard case .failure(let error) = try OsloWire.decodeReply(body).result else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == code)
        #expect(error.message == "it broke")
    }

    @Test("bodies that are not oslo messages are refused with a reason")
    func refusals() throws {
        for body in [
            Data("not json".utf8), Data(#"{"oslo.version": "3.0", "oslo.message": "{}"}"#.utf8),
            Data(#"{"oslo.version": "2.0", "oslo.message": "{\"args\": {}}"}"#.utf8),
        ] {
            #expect(throws: AshlarError.self) { try OsloWire.decodeRequest(body) }
        }
    }
}
