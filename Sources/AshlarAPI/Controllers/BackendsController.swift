import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/scheduler-stats/get_pools` and `/capabilities/{host}`: what the scheduler and the backends report.
struct BackendsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/scheduler-stats/get_pools", use: pools)
        router.get("/v3/capabilities/:host", use: capabilities)
    }

    /// The pools as the scheduler sees them (a call to the scheduler, as Cinder makes it); names only unless
    /// `detail=true`; `name` filters at 3.28.
    func pools(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("scheduler_extension:scheduler_stats:get_pools")
        let params = ListParameters(request)
        let detail = params.value("detail").flatMap(ExtraSpecMatcher.parseBool) ?? false
        var filters = SchedulerRPC.GetPools()
        if context.version >= APIVersion(3, 28) {
            filters.name = params.value("name")
            var capabilities: [String: String] = [:]
            for (key, value) in params.params where !["detail", "name", "volume_type"].contains(key) {
                capabilities[key] = value
            }
            if !capabilities.isEmpty { filters.capabilities = capabilities }
        }
        if context.version >= APIVersion(3, 35), let typeName = params.value("volume_type") {
            guard let type = try await env.types.find(typeName) else { throw AshlarError.volumeTypeNotFound(typeName) }
            filters.extraSpecs = type.extraSpecs
        }
        let pools = try await env.scheduler.getPools(filters, context: context.caller)
        let shown: [JSONValue] = pools.map { pool in
            guard !detail, let name = pool.objectValue?["name"] else { return pool }
            return ["name": name]
        }
        return JSONResponse.make(["pools": .array(shown)])
    }

    /// A backend's capabilities, asked of the backend itself.
    func capabilities(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:capabilities")
        let host = context.parameters.get("host") ?? ""
        let services = try await env.services.list(host: host, binary: ServiceRecord.volumeBinary)
        // Only a backend itself answers (a node's name alone would match its backends and reach no one).
        guard services.contains(where: { $0.host == host }) else { throw AshlarError(.notFound, "Service \(host) could not be found.") }
        let caps: [String: JSONValue]
        do {
            caps = try await env.volumeRPC.getCapabilities(host: host, context: context.caller)
        } catch let error as AshlarError where error.code == .unavailable {
            throw AshlarError(.unavailable, "The volume service \(host) did not answer: is it running?")
        }
        // Upstream's fixed view (`cinder/api/views/capabilities.py`): these keys and no others.
        let storageProtocol: JSONValue =
            if case .array(let variants) = caps["storage_protocol"] { variants.first ?? .null }
            else { caps["storage_protocol"] ?? .null }
        let firstPool = caps["pools"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }?.objectValue
        let body: [String: JSONValue] = [
            "namespace": .string("OS::Storage::Capabilities::\(host)"),
            "vendor_name": caps["vendor_name"] ?? .null,
            "volume_backend_name": caps["volume_backend_name"] ?? .null,
            "pool_name": caps["pool_name"] ?? firstPool?["pool_name"] ?? .null,
            "driver_version": caps["driver_version"] ?? .null,
            "storage_protocol": storageProtocol,
            "display_name": .string("Capabilities of Cinder \(caps["vendor_name"]?.stringValue ?? "") Driver"),
            "description": caps["description"] ?? .null,
            "visibility": caps["visibility"] ?? .null,
            "replication_targets": caps["replication_targets"] ?? .array([]),
            // The tunable capabilities, described as Cinder's drivers describe theirs.
            "properties": [
                "thin_provisioning": [
                    "title": "Thin Provisioning", "description": "Volumes take space only as data is written.",
                    "type": "boolean",
                ],
                "multiattach": [
                    "title": "Multi-attach", "description": "Volumes may be attached to several hosts at once.",
                    "type": "boolean",
                ],
            ],
        ]
        return JSONResponse.make(.object(body))
    }
}
