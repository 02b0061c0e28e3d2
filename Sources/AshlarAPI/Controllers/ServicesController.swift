import AshlarCore
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/os-services` and `/os-availability-zone`: what runs where, and whether it is alive.
struct ServicesController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/os-services", use: list)
        router.put("/v3/os-services/:action", use: change)
        router.get("/v3/os-availability-zone", use: zones)
    }

    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:services:index")
        let params = ListParameters(request)
        let now = Date()
        let services = try await env.services.list(host: params.value("host"), binary: params.value("binary"))
        let items: [JSONValue] = services.map { s in
            var d: [String: JSONValue] = [
                "binary": .string(s.binary),
                "host": .string(s.host),
                "zone": .string(s.availabilityZone),
                "status": s.disabled ? "disabled" : "enabled",
                "state": s.isUp(now: now, downTime: env.serviceDownTime) ? "up" : "down",
                "updated_at": s.updatedAt.map { .string(Timestamp.format($0)) } ?? .null,
                "disabled_reason": VolumeView.optional(s.disabledReason),
            ]
            if context.version >= APIVersion(3, 7) { d["cluster"] = .null }
            if s.binary == ServiceRecord.volumeBinary {
                d["replication_status"] = "disabled"
                d["active_backend_id"] = .null
                d["frozen"] = .bool(s.frozen)
                if context.version >= APIVersion(3, 49) { d["backend_state"] = .string(s.backendState ?? "up") }
            }
            return .object(d)
        }
        return JSONResponse.make(["services": .array(items)])
    }

    /// `PUT /os-services/enable|disable|disable-log-reason` with `{"host", "binary"}`.
    func change(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:services:update")
        let action = context.parameters.get("action") ?? ""
        if action == "freeze" || action == "thaw" {
            return try await freeze(request, context, frozen: action == "freeze")
        }
        guard ["enable", "disable", "disable-log-reason"].contains(action) else {
            if ["failover_host", "failover", "set-log", "get-log"].contains(action) {
                throw AshlarError(.notImplemented, "os-services/\(action) is not available yet in this Ashlar version.")
            }
            throw AshlarError(.notFound, "Unknown action \(action)")
        }
        guard case .object(let top) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        let fields = Fields(top)
        let host = try fields.requiredString("host")
        guard let binary = try fields.string("binary", nullable: false) ?? fields.string("service", nullable: false),
            let binary
        else {
            throw AshlarError(.invalidInput, "Invalid input received: 'binary' is a required property.")
        }
        var reason: String? = nil
        if action == "disable-log-reason" {
            let text = try fields.requiredString("disabled_reason", maxLength: 255, minLength: 1)
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw AshlarError(.invalidInput, "Disabled reason contains invalid characters or is too long")
            }
            reason = text
        }
        let disabled = action != "enable"
        let changed = try await env.services.setDisabled(host: host, binary: binary, disabled: disabled, reason: reason)
        guard !changed.isEmpty else { throw AshlarError(.notFound, "Host \(host) could not be found.") }
        context.logger.info("service \(binary) on \(host) \(disabled ? "disabled" : "enabled")")
        var body: [String: JSONValue] = [
            "host": .string(host), "service": .string(binary), "binary": .string(binary),
            "status": disabled ? "disabled" : "enabled", "disabled": .bool(disabled),
        ]
        if let reason { body["disabled_reason"] = .string(reason) }
        return JSONResponse.make(.object(body))
    }

    /// `PUT /os-services/freeze|thaw` with `{"host"}`: a frozen backend takes no new volumes until thawed.
    func freeze(_ request: Request, _ context: APIRequestContext, frozen: Bool) async throws -> Response {
        guard case .object(let top) = try await request.json(context, limit: env.maxRequestBodySize) else {
            throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        let host = try Fields(top).requiredString("host")
        let changed = try await env.services.setFrozen(host: host, frozen: frozen)
        // Upstream answers an unknown host with 400 (its ServiceNotFound turned into InvalidInput).
        guard !changed.isEmpty else { throw AshlarError(.invalidInput, "No service found with host=\(host)") }
        context.logger.info("volume services on \(host) \(frozen ? "frozen" : "thawed")")
        return JSONResponse.empty(.accepted)
    }

    /// Zones of the volume services; a zone is available while any of its services is enabled.
    func zones(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var zones: [String: Bool] = [:]
        for s in try await env.services.list(binary: ServiceRecord.volumeBinary) {
            zones[s.availabilityZone] = (zones[s.availabilityZone] ?? false) || !s.disabled
        }
        let info: [JSONValue] = zones.keys.sorted().map {
            ["zoneName": .string($0), "zoneState": ["available": .bool(zones[$0] ?? false)]]
        }
        return JSONResponse.make(["availabilityZoneInfo": .array(info)])
    }
}
