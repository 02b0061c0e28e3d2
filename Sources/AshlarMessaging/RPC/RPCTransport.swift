import AshlarCore
import Foundation
import Logging

/// Handles messages that arrive for one server.
public protocol RPCEndpoint: Sendable {
    /// Handles one message. For a call, the returned JSON is the reply (nil means `null`); for casts and
    /// fanouts it is dropped. A thrown `AshlarError` travels back to a caller with its code and message.
    func handle(_ message: RPCMessage) async throws -> Data?
}

extension RPCEndpoint {
    /// Handles `message` as every transport does: the result, or the failure a caller may see. An `AshlarError`
    /// goes back as it is; any other error stays in the log and the caller gets a plain internal error (internal
    /// text never travels). A cast (`isCall` false) has nobody to answer, so what it could not do is logged here,
    /// never dropped.
    public func answer(_ message: RPCMessage, isCall: Bool, logger: Logger) async -> Result<Data?, AshlarError> {
        do {
            return .success(try await handle(message))
        } catch let error as AshlarError {
            if !isCall {
                logger.error(
                    "RPC cast \(message.method) was not carried out: \(error.message)",
                    metadata: ["request_id": "\(message.context.requestID)"])
            }
            return .failure(error)
        } catch {
            logger.error(
                "RPC \(message.method) failed: \(error)", metadata: ["request_id": "\(message.context.requestID)"])
            return .failure(AshlarError(.internalError, "\(message.method) failed on the remote service."))
        }
    }
}

/// The message bus: in-process for `ashlar serve`, RabbitMQ for the distributed services. Nothing above this
/// protocol knows which one it talks to.
public protocol RPCTransport: Sendable {
    /// Sends without waiting for a result: to one server of the topic, or the target's own server.
    func cast(_ message: RPCMessage, to target: RPCTarget) async throws
    /// Sends and waits up to `timeout` for the reply. A remote failure is rethrown as the `AshlarError` it was;
    /// no reply in time throws `.unavailable`.
    func call(_ message: RPCMessage, to target: RPCTarget, timeout: Duration) async throws -> Data?
    /// Sends to every server listening on the topic.
    func fanout(_ message: RPCMessage, topic: String) async throws
    /// Consumes messages for `topic` (shared, round-robin), `topic.server` and the topic's fanout until the
    /// calling task is cancelled. Each message is handled in its own task.
    func serve(topic: String, server: String, endpoint: any RPCEndpoint) async throws
    /// How long a call waits for its reply unless the caller says otherwise (`rpc_response_timeout`).
    var responseTimeout: Duration { get }
    /// Whether a send would reach the bus now. The API asks before it records work it would have to hand on, so
    /// that with the broker away a write is refused without changing anything.
    func isReachable() async -> Bool
}

extension RPCTransport {
    /// oslo.messaging's default `rpc_response_timeout`.
    public var responseTimeout: Duration { .seconds(60) }
    public func isReachable() async -> Bool { true }
}
