import AshlarCore
import Foundation

/// oslo.messaging's message format on RabbitMQ, as its rabbit driver writes it, so that Ashlar's services and
/// Python ones (oslo.messaging clients and servers) understand each other.
///
/// Every body is the envelope `{"oslo.version": "2.0", "oslo.message": "<the inner message as JSON text>"}`.
/// A request's inner message carries `method`, `args`, `version`, `_unique_id` and the caller's context as
/// `_context_<key>` entries; a call adds `_msg_id` and `_reply_q` (the queue the reply goes to through the default
/// exchange). A reply carries `result` or `failure` (a JSON text naming the exception's class, module and message),
/// `ending`, and the request's `_msg_id`.
public enum OsloWire {
    /// The envelope version oslo.messaging writes and reads.
    public static let envelopeVersion = "2.0"
    /// The module Ashlar's failures name, so that an Ashlar peer rebuilds them as the same `AshlarError`.
    public static let failureModule = "ashlar.exception"

    /// A request as it arrives: the message, and where a call's reply goes.
    public struct Request: Sendable {
        public var message: RPCMessage
        public var uniqueID: String
        /// Set for a call: the id the reply must carry, and the queue it goes to.
        public var reply: (messageID: String, queue: String)?

        public init(message: RPCMessage, uniqueID: String, reply: (messageID: String, queue: String)? = nil) {
            self.message = message
            self.uniqueID = uniqueID
            self.reply = reply
        }
    }

    /// A reply as it arrives: the result (JSON text, nil for `null`) or the failure, for the call `messageID`.
    public struct Reply: Sendable {
        public var messageID: String
        public var result: Result<Data?, AshlarError>
        /// The last reply for the call (oslo sends exactly one, with `ending: true`).
        public var ending: Bool
    }

    // MARK: - Requests

    /// The body of a request. `reply` makes it a call.
    public static func encode(
        _ message: RPCMessage, uniqueID: String, reply: (messageID: String, queue: String)? = nil,
        timestamp: Date = Date()
    ) throws(AshlarError) -> Data {
        var inner: [String: Any] = [
            "method": message.method,
            "args": try jsonObject(message.args, what: "arguments of \(message.method)"),
            "version": message.version,
            "_unique_id": uniqueID,
        ]
        for (key, value) in context(message.context, timestamp: timestamp) { inner["_context_" + key] = value }
        if let reply {
            inner["_msg_id"] = reply.messageID
            inner["_reply_q"] = reply.queue
            inner["_timeout"] = NSNull()
        }
        return try envelope(inner)
    }

    /// Reads a request body.
    public static func decodeRequest(_ body: Data) throws(AshlarError) -> Request {
        let inner = try openEnvelope(body)
        guard let method = inner["method"] as? String, !method.isEmpty else {
            throw AshlarError(.invalidInput, "RPC request without a method")
        }
        let args = inner["args"] ?? [String: Any]()
        guard JSONSerialization.isValidJSONObject(args), let argsData = try? JSONSerialization.data(withJSONObject: args)
        else { throw AshlarError(.invalidInput, "RPC \(method): arguments are not a JSON object") }
        let message = RPCMessage(
            method: method, version: inner["version"] as? String ?? "1.0", context: caller(from: inner),
            args: argsData)
        var reply: (messageID: String, queue: String)?
        if let id = inner["_msg_id"] as? String, let queue = inner["_reply_q"] as? String { reply = (id, queue) }
        return Request(message: message, uniqueID: inner["_unique_id"] as? String ?? "", reply: reply)
    }

    /// The context entries oslo.context and Cinder's `RequestContext.to_dict` write, from the caller.
    static func context(_ caller: CallerContext, timestamp: Date) -> [String: Any] {
        [
            "request_id": caller.requestID, "global_request_id": NSNull(), "user_id": caller.userID,
            "user": caller.userID, "project_id": caller.projectID, "tenant": caller.projectID,
            "project_name": NSNull(), "domain_id": NSNull(), "user_domain_id": NSNull(),
            "project_domain_id": NSNull(), "is_admin": caller.isAdmin, "roles": caller.isAdmin ? ["admin"] : [],
            "read_deleted": "no", "read_only": false, "show_deleted": false, "auth_token": NSNull(),
            "remote_address": NSNull(), "quota_class": NSNull(), "service_catalog": [Any](),
            "user_identity": "\(caller.userID) \(caller.projectID) - - -",
            "timestamp": isoTimestamp(timestamp),
        ]
    }

    /// The caller from a request's `_context_*` entries (user/project under either of oslo's names).
    static func caller(from inner: [String: Any]) -> CallerContext {
        func text(_ keys: String...) -> String? {
            keys.lazy.compactMap { inner["_context_" + $0] as? String }.first
        }
        return CallerContext(
            requestID: text("request_id") ?? "", userID: text("user_id", "user") ?? "",
            projectID: text("project_id", "tenant", "project") ?? "",
            isAdmin: inner["_context_is_admin"] as? Bool ?? false)
    }

    // MARK: - Replies

    /// The body of the reply to call `messageID`.
    public static func encodeReply(
        _ result: Result<Data?, AshlarError>, messageID: String, uniqueID: String
    ) throws(AshlarError) -> Data {
        var inner: [String: Any] = ["ending": true, "_msg_id": messageID, "_unique_id": uniqueID]
        switch result {
        case .success(let data):
            inner["result"] = try data.map { data throws(AshlarError) in try jsonFragment(data) } ?? NSNull()
            inner["failure"] = NSNull()
        case .failure(let error):
            inner["result"] = NSNull()
            let failure: [String: Any] = [
                "class": error.code.name, "module": failureModule, "message": error.message, "tb": [String](),
                "args": [error.message], "kwargs": [String: Any](),
            ]
            inner["failure"] = String(decoding: try serialize(failure), as: UTF8.self)
        }
        return try envelope(inner)
    }

    /// Reads a reply body.
    public static func decodeReply(_ body: Data) throws(AshlarError) -> Reply {
        let inner = try openEnvelope(body)
        guard let id = inner["_msg_id"] as? String else { throw AshlarError(.invalidInput, "RPC reply without _msg_id") }
        let ending = inner["ending"] as? Bool ?? true
        if let failure = inner["failure"] as? String {
            return Reply(messageID: id, result: .failure(remoteError(failure)), ending: ending)
        }
        let result = inner["result"]
        if result == nil || result is NSNull { return Reply(messageID: id, result: .success(nil), ending: ending) }
        guard let data = try? JSONSerialization.data(withJSONObject: result!, options: [.fragmentsAllowed]) else {
            throw AshlarError(.invalidInput, "RPC reply with a result that is not JSON")
        }
        return Reply(messageID: id, result: .success(data), ending: ending)
    }

    /// The `AshlarError` a failure stands for: Ashlar's own by its code; a Python exception by the nearest code
    /// (Cinder's exception names), with its message.
    static func remoteError(_ failure: String) -> AshlarError {
        guard let object = try? JSONSerialization.jsonObject(with: Data(failure.utf8)) as? [String: Any] else {
            return AshlarError(.internalError, "The remote service failed.")
        }
        let name = object["class"] as? String ?? ""
        let message = object["message"] as? String ?? name
        if object["module"] as? String == failureModule { return AshlarError(.init(wireName: name), message) }
        let code: AshlarError.Code
        switch name {
        case _ where name.hasSuffix("NotFound"): code = .notFound
        case "InvalidInput", "InvalidParameterValue", "ValidationError": code = .invalidInput
        case _ where name.hasPrefix("Invalid"): code = .invalidState
        case "NoValidBackend", "NoValidHost": code = .noValidBackend
        case _ where name.hasSuffix("LimitExceeded") || name == "OverQuota": code = .overLimit
        case "MessagingTimeout": code = .unavailable
        default: code = .internalError
        }
        return AshlarError(code, message)
    }

    // MARK: - JSON

    private static func envelope(_ inner: [String: Any]) throws(AshlarError) -> Data {
        let text = String(decoding: try serialize(inner), as: UTF8.self)
        return try serialize(["oslo.version": envelopeVersion, "oslo.message": text])
    }

    private static func openEnvelope(_ body: Data) throws(AshlarError) -> [String: Any] {
        guard let outer = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw AshlarError(.invalidInput, "RPC body is not a JSON object")
        }
        // oslo.messaging still reads the unenveloped form of old peers.
        guard let text = outer["oslo.message"] as? String else { return outer }
        if let version = outer["oslo.version"] as? String, version.split(separator: ".").first != "2" {
            throw AshlarError(.invalidInput, "RPC envelope version \(version) is not supported (2.x is)")
        }
        guard let inner = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw AshlarError(.invalidInput, "RPC envelope holds no JSON object")
        }
        return inner
    }

    private static func serialize(_ object: Any) throws(AshlarError) -> Data {
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])
        } catch {
            throw AshlarError(.internalError, "RPC message could not be written as JSON", underlying: error)
        }
    }

    private static func jsonObject(_ data: Data, what: String) throws(AshlarError) -> Any {
        guard let object = try? JSONSerialization.jsonObject(with: data), object is [String: Any] else {
            throw AshlarError(.internalError, "the \(what) are not a JSON object")
        }
        return object
    }

    private static func jsonFragment(_ data: Data) throws(AshlarError) -> Any {
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw AshlarError(.internalError, "an RPC result is not JSON")
        }
        return object
    }

    /// oslo's `jsonutils.to_primitive` form of a datetime: ISO 8601 with microseconds, no zone.
    static func isoTimestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let whole = Int(seconds.rounded(.down))
        let micro = Int(((seconds - Double(whole)) * 1_000_000).rounded())
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(micro, 999_999))
    }
}
