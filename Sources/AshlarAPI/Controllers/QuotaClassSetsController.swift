import AshlarCore
import AshlarStore
import Hummingbird

/// `/os-quota-class-sets/{class}`: limits of a quota class; the `default` class stands in for the configured
/// defaults of every project (Cinder's `contrib/quota_classes.py`). Admin only.
struct QuotaClassSetsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/os-quota-class-sets/:class", use: show)
        router.put("/v3/os-quota-class-sets/:class", use: update)
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:quota_classes:get")
        let name = context.parameters.get("class") ?? ""
        var set = try await env.quotaStore.classLimits(name).mapValues { JSONValue.int(Int64($0)) }
        set["id"] = .string(name)
        return JSONResponse.make(["quota_class_set": .object(set)])
    }

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:quota_classes:update")
        let name = context.parameters.get("class") ?? ""
        guard (1...255).contains(name.count) else {
            throw AshlarError.invalidInput("quota_class_name has \(name.count) characters, more than 255.")
        }
        let body = try await request.object("quota_class_set", context, limit: env.maxRequestBodySize)
        let limits = try Self.validate(body, known: Set(try await env.quotaStore.resources()))
        try await env.quotaStore.setClassLimits(name, limits)
        let set = try await env.quotaStore.classLimits(name).mapValues { JSONValue.int(Int64($0)) }
        return JSONResponse.make(["quota_class_set": .object(set)])
    }

    /// The limits of an update body, checked as Cinder's `quota_class_set` schema: every value an integer of at
    /// least -1 or a string of digits, every key a resource.
    static func validate(_ body: Fields, known: Set<String>) throws(AshlarError) -> [String: Int] {
        try QuotaSetsController.rejectOtherTopKeys(body, "quota_class_set")
        var limits: [String: Int] = [:]
        for (key, value) in body.values.sorted(by: { $0.key < $1.key }) {
            let number: Int?
            switch value {
            case .int(let i): number = Int(exactly: i)
            case .string(let s) where !s.isEmpty && s.allSatisfy({ $0.isASCII && $0.isNumber }): number = Int(s)
            default: number = nil
            }
            guard let number else {
                throw Fields.invalid(
                    key, value, "\(value.rendered) is not a valid limit: an integer or a string of digits.")
            }
            guard number >= -1 else { throw Fields.invalid(key, value, "\(number) is less than the minimum of -1.") }
            guard number <= Int(Int32.max) else {
                throw Fields.invalid(key, value, "\(number) is greater than the maximum of \(Int32.max).")
            }
            limits[key] = number
        }
        let bad = limits.keys.filter { !known.contains($0) }.sorted()
        if !bad.isEmpty {
            throw AshlarError.invalidInput("Bad key(s) in quota class set: \(bad.joined(separator: ", "))")
        }
        return limits
    }
}
