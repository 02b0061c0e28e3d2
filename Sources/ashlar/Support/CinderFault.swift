import Foundation

/// Why a client command failed; `description` is what the user sees after `ashlar: `.
enum CinderClientError: Error, CustomStringConvertible, Equatable {
    /// Bad arguments or environment (exit 2).
    case usage(String)
    /// The server answered with an error status (exit 1).
    case api(status: Int, message: String)
    /// No answer: connection refused, timeout, bad response (exit 1).
    case transport(String)

    var description: String {
        switch self {
        case .usage(let m), .transport(let m): m
        case .api(_, let m): m
        }
    }

    var exitCode: Int32 {
        if case .usage = self { return 2 }
        return 1
    }
}

/// Cinder's error bodies: `{"<faultName>": {"code": N, "message": "…"}}`.
enum CinderFault {
    /// The message for an error response: the fault's message, else the body's text, else the status; with
    /// ` (HTTP N)` and the request id when there is one, as the openstack CLI prints them.
    static func message(status: Int, body: Data, requestID: String? = nil) -> String {
        var text = faultMessage(body) ?? plainText(body) ?? reason(status)
        text += " (HTTP \(status))"
        if let requestID, !requestID.isEmpty { text += " (Request-ID: \(requestID))" }
        return text
    }

    /// A reason phrase for a status without a usable body.
    static func reason(_ status: Int) -> String {
        switch status {
        case 400: "Bad request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not found"
        case 405: "Method not allowed"
        case 406: "Not acceptable (is the microversion supported?)"
        case 409: "Conflict"
        case 413: "Over limit"
        case 500..<600: "Server error"
        default: "Request failed"
        }
    }

    /// The `message` of the one fault in `body`, if it is a Cinder fault body.
    static func faultMessage(_ body: Data) -> String? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return nil }
        // Normally exactly one key; take the first (by name, for determinism) whose value carries a message.
        for key in object.keys.sorted() {
            if let fault = object[key] as? [String: Any], let message = fault["message"] as? String,
                !message.isEmpty
            {
                return message
            }
        }
        return nil
    }

    /// A short non-JSON body (a proxy's error page, say) as one line, or nil.
    static func plainText(_ body: Data) -> String? {
        guard let s = String(data: body, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            !s.isEmpty, !s.hasPrefix("{"), !s.hasPrefix("[")
        else { return nil }
        let line = s.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}
