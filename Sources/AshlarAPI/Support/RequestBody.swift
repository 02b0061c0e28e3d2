import AshlarCore
import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// The body as JSON, refused with 413 beyond `osapi_max_request_body_size` and 400 when it is not JSON.
    func json(_ context: APIRequestContext, limit: Int) async throws -> JSONValue {
        guard let value = try await optionalJSON(context, limit: limit) else {
            throw AshlarError(.invalidInput, "Malformed request body: the request has no body.")
        }
        return value
    }

    /// The body as JSON, or nil when there is none (for requests whose body is optional).
    func optionalJSON(_ context: APIRequestContext, limit: Int) async throws -> JSONValue? {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AshlarError(.requestTooLarge, "Request is too large.")
        }
        guard buffer.readableBytes > 0 else { return nil }
        return try JSONValue.parse(Data(buffer.readableBytesView))
    }

    /// The body's one top-level object under `key` (`{"volume": {…}}`).
    func object(_ key: String, _ context: APIRequestContext, limit: Int) async throws -> Fields {
        let body = try await json(context, limit: limit)
        guard case .object(let top) = body else {
            throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        guard let inner = top[key] else {
            throw AshlarError(.invalidInput, "Invalid input received: '\(key)' is a required property.")
        }
        guard case .object(let fields) = inner else {
            throw AshlarError(
                .invalidInput,
                "Invalid input for field/attribute \(key). Value: \(inner.rendered). \(inner.rendered) is not of type 'object'."
            )
        }
        return Fields(fields, top: top)
    }
}

extension Request {
    /// An action body, `{"<name>": {…}}` (or `null` for no arguments): its one key and that key's value.
    func action(_ context: APIRequestContext, limit: Int) async throws -> (name: String, argument: JSONValue) {
        guard case .object(let top) = try await json(context, limit: limit), top.count == 1, let (name, argument) = top.first
        else {
            throw AshlarError(
                .invalidInput, "Malformed request body: an action body has exactly one key, the action's name.")
        }
        return (name, argument)
    }
}

/// Validated access to a request body's fields, with Cinder's JSON-schema messages.
struct Fields {
    let values: [String: JSONValue]
    /// The whole body, for keys beside the main object (`OS-SCH-HNT:scheduler_hints`).
    let top: [String: JSONValue]

    init(_ values: [String: JSONValue], top: [String: JSONValue] = [:]) {
        self.values = values
        self.top = top
    }

    /// An action's argument: an object, or null for none.
    init(action name: String, _ argument: JSONValue) throws(AshlarError) {
        if !argument.isNull, argument.objectValue == nil {
            throw AshlarError(
                .invalidInput,
                "Invalid input for field/attribute \(name). Value: \(argument.rendered). It must be an object.")
        }
        self.init(argument.objectValue ?? [:])
    }

    /// The `status` of a reset_status, which must be one of `all` (`what` names the resource in the message).
    func resetStatus<S: RawRepresentable & Equatable>(_ all: [S], of what: String) throws(AshlarError) -> S
    where S.RawValue == String {
        try rejectUnknown(["status"])
        let text = try requiredString("status")
        guard let status = all.first(where: { $0.rawValue == text }) else {
            throw AshlarError(
                .invalidInput, "Invalid input received: \(what) status \(text) is not one of \(all.map(\.rawValue)).")
        }
        return status
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    static func invalid(_ key: String, _ value: JSONValue, _ why: String) -> AshlarError {
        AshlarError(.invalidInput, "Invalid input for field/attribute \(key). Value: \(value.rendered). \(why)")
    }

    /// Refuses keys outside `allowed` (the strict schemas of 3.53 and the admin actions).
    func rejectUnknown(_ allowed: Set<String>) throws(AshlarError) {
        let unknown = values.keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Additional properties are not allowed (\(unknown.map { "'\($0)'" }.joined(separator: ", ")) \(unknown.count == 1 ? "was" : "were") unexpected)."
            )
        }
    }

    /// A string of at most `maxLength` characters. Absent: nil; JSON null (when allowed): `.some(nil)`.
    func string(
        _ key: String, maxLength: Int = 255, minLength: Int = 0, nullable: Bool = true
    ) throws(AshlarError)
        -> String??
    {
        guard let value = values[key] else { return nil }
        switch value {
        case .null:
            if nullable { return .some(nil) }
            throw Self.invalid(key, value, "None is not of type 'string'.")
        case .string(let s):
            if s.count > maxLength {
                throw Self.invalid(key, value, "'\(s.prefix(40))…' is too long (max \(maxLength)).")
            }
            if s.count < minLength {
                throw Self.invalid(key, value, minLength == 1 ? "'\(s)' should be non-empty." : "'\(s)' is too short.")
            }
            return .some(s)
        default:
            throw Self.invalid(key, value, "\(value.rendered) is not of type 'string'.")
        }
    }

    /// A required, non-null string.
    func requiredString(_ key: String, maxLength: Int = 255, minLength: Int = 1) throws(AshlarError) -> String {
        guard let value = try string(key, maxLength: maxLength, minLength: minLength, nullable: false), let value else {
            throw AshlarError(.invalidInput, "Invalid input received: '\(key)' is a required property.")
        }
        return value
    }

    /// A boolean as Cinder's schemas take it: JSON true/false or the strings true/false/yes/no/on/off/1/0.
    func bool(_ key: String) throws(AshlarError) -> Bool? {
        guard let value = values[key] else { return nil }
        switch value {
        case .bool(let b): return b
        case .string(let s):
            if let b = ExtraSpecMatcher.parseBool(s) { return b }
        case .int(let i) where i == 0 || i == 1:
            return i == 1
        default: break
        }
        throw Self.invalid(key, value, "\(value.rendered) is not of type 'boolean'.")
    }

    /// A positive whole number, given as a JSON integer or a string of digits (Cinder's volume size type).
    func positiveInt(_ key: String, nullable: Bool = true) throws(AshlarError) -> Int? {
        guard let value = values[key] else { return nil }
        let number: Int64?
        switch value {
        case .null:
            if nullable { return nil }
            number = nil
        case .int(let i): number = i
        case .string(let s): number = s.allSatisfy(\.isASCII) && !s.isEmpty && s.allSatisfy(\.isNumber) ? Int64(s) : nil
        case .double(let d): number = d == d.rounded() ? Int64(exactly: d) : nil
        default: number = nil
        }
        guard let number else {
            throw Self.invalid(key, value, "\(value.rendered) is not a valid whole number of GiB.")
        }
        guard number >= 1 else { throw Self.invalid(key, value, "\(number) is less than the minimum of 1.") }
        guard number <= Int64(Int32.max) else {
            throw Self.invalid(key, value, "\(number) is greater than the maximum of \(Int32.max).")
        }
        return Int(number)
    }

    /// A string-to-string map with keys of 1–255 and values of 0–255 characters.
    func metadata(_ key: String, nullable: Bool = true) throws(AshlarError) -> [String: String]? {
        guard let value = values[key] else { return nil }
        if value.isNull, nullable { return [:] }
        guard case .object(let dict) = value else {
            throw Self.invalid(key, value, "\(value.rendered) is not of type 'object'.")
        }
        return try Self.stringMap(dict, field: key)
    }

    static func stringMap(_ dict: [String: JSONValue], field: String) throws(AshlarError) -> [String: String] {
        var result: [String: String] = [:]
        for (k, v) in dict {
            guard !k.isEmpty, k.count <= 255 else {
                throw invalid(
                    field, .object(dict), "Metadata keys must be 1 to 255 characters long ('\(k.prefix(40))').")
            }
            guard case .string(let s) = v else {
                throw invalid(field, .object(dict), "The value of '\(k)' must be a string, not \(v.typeName).")
            }
            guard s.count <= 255 else {
                throw invalid(field, .object(dict), "The value of '\(k)' is longer than 255 characters.")
            }
            result[k] = s
        }
        return result
    }

    /// A UUID-shaped id (or null).
    func uuid(_ key: String) throws(AshlarError) -> String?? {
        guard let value = values[key] else { return nil }
        if value.isNull { return .some(nil) }
        guard case .string(let s) = value, UUID(uuidString: s) != nil || Self.isHexUUID(s) else {
            throw Self.invalid(key, value, "\(value.rendered) is not a 'uuid'.")
        }
        return .some(s)
    }

    static func isHexUUID(_ s: String) -> Bool {
        s.count == 32 && s.allSatisfy(\.isHexDigit)
    }
}
