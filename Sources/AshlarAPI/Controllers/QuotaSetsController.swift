import AshlarCore
import AshlarStore
import Foundation
import Hummingbird

/// `/os-quota-sets/{project}`: a project's quota limits (and usage), its defaults, and their changes
/// (Cinder's `contrib/quotas.py`). Usage is counted live, so `reserved` is always 0.
struct QuotaSetsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/os-quota-sets/:project", use: show)
        router.get("/v3/os-quota-sets/:project/defaults", use: defaults)
        router.put("/v3/os-quota-sets/:project", use: update)
        router.delete("/v3/os-quota-sets/:project", use: delete)
    }

    /// Keys Cinder accepts in a quota set and ignores.
    static let ignoredKeys: Set<String> = ["id", "tenant_id"]

    /// Cinder's quota policies (`cinder/policies/quotas.py`).
    enum Policy: String {
        /// Admins, and the project itself.
        case show = "volume_extension:quotas:show"
        /// Admins only.
        case update = "volume_extension:quotas:update"
        /// Admins only.
        case delete = "volume_extension:quotas:delete"
    }

    /// Refuses with 403 what `policy` does not allow `caller` to do to `project`'s quotas.
    static func authorize(_ policy: Policy, _ caller: CallerContext, project: String) throws(AshlarError) {
        if caller.isAdmin || (policy == .show && caller.projectID == project) { return }
        throw AshlarError(.forbidden, "Policy doesn't allow \(policy.rawValue) to be performed.")
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let project = context.parameters.get("project") ?? ""
        try Self.authorize(.show, context.caller, project: project)
        let withUsage = try ListParameters(request).flag("usage")
        let limits = try await env.quotaStore.limits(projectID: project)
        var set: [String: JSONValue]
        if withUsage {
            let usage = try await env.quotaStore.usage(projectID: project)
            set = Dictionary(
                uniqueKeysWithValues: limits.map { resource, limit in
                    let value: JSONValue = [
                        "limit": .int(Int64(limit)), "in_use": .int(Int64(usage[resource] ?? 0)), "reserved": 0,
                    ]
                    return (resource, value)
                })
        } else {
            set = limits.mapValues { .int(Int64($0)) }
        }
        set["id"] = .string(project)
        return JSONResponse.make(["quota_set": .object(set)])
    }

    func defaults(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let project = context.parameters.get("project") ?? ""
        try Self.authorize(.show, context.caller, project: project)
        var set = try await env.quotaStore.defaults().mapValues { JSONValue.int(Int64($0)) }
        set["id"] = .string(project)
        return JSONResponse.make(["quota_set": .object(set)])
    }

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let project = context.parameters.get("project") ?? ""
        try Self.authorize(.update, context.caller, project: project)
        guard project.count <= 255 else {
            throw AshlarError.invalidInput("quota_set_name has \(project.count) characters, more than 255.")
        }
        let body = try await request.object("quota_set", context, limit: env.maxRequestBodySize)
        let resources = try await env.quotaStore.resources()
        let wanted = try Self.validate(body, known: Set(resources))
        // A limit may not go below what the project already uses (unlimited and the per-volume size excepted).
        let usage = try await env.quotaStore.usage(projectID: project)
        for (resource, limit) in wanted.sorted(by: { $0.key < $1.key })
        where resource != QuotaResource.perVolumeGigabytes && limit != -1 {
            let used = usage[resource] ?? 0
            if limit < used {
                throw AshlarError(
                    .invalidInput,
                    "Quota \(resource) limit must be equal or greater than existing resources. Current usage is \(used) and the requested limit is \(limit)."
                )
            }
        }
        try await env.quotaStore.setLimits(projectID: project, wanted)
        let limits = try await env.quotaStore.limits(projectID: project)
        return JSONResponse.make(["quota_set": .object(limits.mapValues { .int(Int64($0)) })])
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let project = context.parameters.get("project") ?? ""
        try Self.authorize(.delete, context.caller, project: project)
        try await env.quotaStore.deleteLimits(projectID: project)
        return JSONResponse.empty(.ok)
    }

    /// The limits of an update body, checked as Cinder's `quota_set` schema format does: nothing but the body's
    /// `quota_set`, at least one key, every key a resource (or `id`/`tenant_id`, ignored), every value an integer
    /// (or a string of one) from -1 to 2^31-1.
    static func validate(_ body: Fields, known: Set<String>) throws(AshlarError) -> [String: Int] {
        try rejectOtherTopKeys(body, "quota_set")
        if body.values.isEmpty {
            throw Fields.invalid("quota_set", .object([:]), "{} does not have enough properties.")
        }
        let bad = body.values.keys.filter { !known.contains($0) && !ignoredKeys.contains($0) }.sorted()
        if !bad.isEmpty {
            throw AshlarError.invalidInput("Bad key(s) in quota set: \(bad.joined(separator: ", "))")
        }
        var limits: [String: Int] = [:]
        for (key, value) in body.values.sorted(by: { $0.key < $1.key }) where !ignoredKeys.contains(key) {
            limits[key] = try integer(key, value)
        }
        return limits
    }

    /// A limit as oslo's `validate_integer` reads it: `int(str(value))`, so integers and strings of digits.
    static func integer(_ key: String, _ value: JSONValue) throws(AshlarError) -> Int {
        let number: Int?
        switch value {
        case .int(let i): number = Int(exactly: i)
        case .string(let s): number = Int(s.trimmingCharacters(in: .whitespaces))
        default: number = nil
        }
        guard let number else { throw AshlarError(.invalidInput, "\(key) must be an integer") }
        guard number >= -1 else { throw AshlarError(.invalidInput, "\(key) must be >= -1") }
        guard number <= Int(Int32.max) else { throw AshlarError(.invalidInput, "\(key) must be <= \(Int32.max)") }
        return number
    }

    /// The body may hold nothing beside its one object (`additionalProperties: false`).
    static func rejectOtherTopKeys(_ body: Fields, _ key: String) throws(AshlarError) {
        let others = body.top.keys.filter { $0 != key }.sorted()
        if !others.isEmpty {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Additional properties are not allowed (\(others.map { "'\($0)'" }.joined(separator: ", ")) \(others.count == 1 ? "was" : "were") unexpected)."
            )
        }
    }
}
