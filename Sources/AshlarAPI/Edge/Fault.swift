import AshlarCore
import HTTPTypes
import Hummingbird

/// Cinder's error responses: `{"<faultName>": {"code": N, "message": "…"}}`. The one place errors become HTTP.
enum Fault {
    /// Status for each error code.
    static func status(for code: AshlarError.Code) -> HTTPResponse.Status {
        switch code.kind {
        case .invalidInput, .invalidState: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        case .overLimit, .requestTooLarge: .contentTooLarge
        case .forbidden: .forbidden
        case .versionNotAcceptable: .notAcceptable
        case .preconditionFailed: .preconditionFailed
        case .notImplemented: .notImplemented
        case .unavailable: .serviceUnavailable
        // Raised by the services, never meant for a caller: a request that meets one has a bug.
        case .noValidBackend, .driverFailure, .internalError: .internalServerError
        }
    }

    /// Cinder's fault names by status (`cinder/api/openstack/wsgi.py: Fault._fault_names`).
    static func name(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "badRequest"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "itemNotFound"
        case 405: "badMethod"
        case 409: "conflictingRequest"
        case 413, 429: "overLimit"
        case 415: "badMediaType"
        case 501: "notImplemented"
        case 503: "serviceUnavailable"
        default: "computeFault"
        }
    }

    /// The status and body for any error thrown while handling a request. Unknown errors become a 500 whose
    /// message does not leak internals; the caller logs the detail.
    static func map(_ error: any Error) -> (HTTPResponse.Status, String) {
        switch error {
        case let error as AshlarError:
            let status = status(for: error.code)
            if status == .internalServerError {
                return (status, "The server has either erred or is incapable of performing the requested operation.")
            }
            return (status, error.message)
        case let error as ConfigError:
            return (.badRequest, error.description)
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge: return (.contentTooLarge, "Request is too large.")
            case .notFound: return (.notFound, "The resource could not be found.")
            case .methodNotAllowed: return (.methodNotAllowed, "The method is not allowed for this resource.")
            default: return (error.status, error.body ?? error.status.reasonPhrase)
            }
        default:
            return (
                .internalServerError,
                "The server has either erred or is incapable of performing the requested operation."
            )
        }
    }

    static func body(status: HTTPResponse.Status, message: String) -> JSONValue {
        [name(for: status): ["code": .int(Int64(status.code)), "message": .string(message)]]
    }
}
