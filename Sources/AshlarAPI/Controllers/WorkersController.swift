import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `POST /workers/cleanup` (3.24, admin; `cinder/api/v3/workers.py`): asks the services that match the filters to
/// finish now what they find left in a transitional state, instead of at their next sweep. Services that are down
/// cannot, and are listed as unavailable. Answers 202 with both lists.
struct WorkersController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.post("/v3/workers/cleanup", use: cleanup)
    }

    static let minimum = APIVersion(3, 24)
    static let filters: Set<String> = [
        "service_id", "cluster_name", "host", "binary", "is_up", "disabled", "resource_id", "resource_type",
    ]

    func cleanup(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(Self.minimum)
        try context.requireAdmin("workers:cleanup")
        let fields: Fields
        switch try await request.optionalJSON(context, limit: env.maxRequestBodySize) {
        case nil: fields = Fields([:])
        case .object(let top)?: fields = Fields(top)
        default: throw AshlarError(.invalidInput, "Malformed request body: the body must be a JSON object.")
        }
        try fields.rejectUnknown(Self.filters)
        let binary = try fields.string("binary", nullable: true) ?? nil
        if let binary, binary != ServiceRecord.volumeBinary, binary != ServiceRecord.schedulerBinary {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: binary must be \(ServiceRecord.volumeBinary) or \(ServiceRecord.schedulerBinary), not '\(binary)'.")
        }
        let host = try fields.string("host", nullable: true) ?? nil
        let isUp = try fields.bool("is_up")
        let disabled = try fields.bool("disabled")
        if let type = try fields.string("resource_type", nullable: true) ?? nil, !["Volume", "Snapshot"].contains(type) {
            throw AshlarError(
                .invalidInput, "Invalid input received: resource_type must be Volume or Snapshot, not '\(type)'.")
        }
        _ = try fields.uuid("resource_id")
        let now = Date()
        var cleaning: [JSONValue] = []
        var unavailable: [JSONValue] = []
        for service in try await env.services.list(host: nil, binary: binary) {
            // A host filter names a node, a backend (host@backend) or a pool (host@backend#pool), as upstream's.
            if let host {
                guard service.host == HostName.backend(of: host) || HostName.node(of: service.host) == host else { continue }
            }
            let up = service.isUp(now: now, downTime: env.serviceDownTime)
            if let isUp, isUp != up { continue }
            if let disabled, disabled != service.disabled { continue }
            let entry: JSONValue = [
                "id": .null, "host": .string(service.host), "binary": .string(service.binary), "cluster_name": .null,
            ]
            guard up else {
                unavailable.append(entry)
                continue
            }
            if service.binary == ServiceRecord.volumeBinary {
                try await env.volumeRPC.doCleanup(host: service.host, context: context.caller)
            } else {
                try await env.scheduler.doCleanup(host: service.host, context: context.caller)
            }
            cleaning.append(entry)
        }
        context.logger.info("cleanup asked of \(cleaning.count) services; \(unavailable.count) unavailable")
        return JSONResponse.make(["cleaning": .array(cleaning), "unavailable": .array(unavailable)], status: .accepted)
    }
}
