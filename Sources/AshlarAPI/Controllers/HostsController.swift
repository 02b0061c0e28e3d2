import AshlarCore
import AshlarStore
import Foundation
import Hummingbird

/// `/os-hosts` (administrators): the enabled services as hosts, and what each project keeps on a volume host.
struct HostsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/os-hosts", use: list)
        router.get("/v3/os-hosts/:host", use: show)
    }

    /// Every enabled service (upstream lists disabled ones only through os-services), optionally of one zone.
    func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:hosts")
        let zone = ListParameters(request).value("zone") ?? ""
        let now = Date()
        let services = try await env.services.list().filter { !$0.disabled && (zone.isEmpty || $0.availabilityZone == zone) }
        let hosts: [JSONValue] = services.map { s in
            [
                "host_name": .string(s.host), "service": .string(s.topic), "zone": .string(s.availabilityZone),
                "service-status": s.isUp(now: now, downTime: env.serviceDownTime) ? "available" : "unavailable",
                "service-state": s.disabled ? "disabled" : "enabled",
                "last-update": s.updatedAt.map { .string(Timestamp.format($0)) } ?? .null,
            ]
        }
        return JSONResponse.make(["hosts": .array(hosts)])
    }

    /// The volumes and snapshots on a volume host: a `(total)` row, then one per project, counts as strings as
    /// upstream writes them.
    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("volume_extension:hosts")
        let host = context.parameters.get("host") ?? ""
        guard try await env.services.get(host: host, binary: ServiceRecord.volumeBinary) != nil else {
            throw AshlarError(.notFound, "Host \(host) could not be found.")
        }
        let usage = try await env.volumes.usage(onHost: host)
        func row(_ project: String, _ volumes: Int, _ volumeGB: Int, _ snapshots: Int, _ snapshotGB: Int) -> JSONValue {
            [
                "resource": [
                    "host": .string(host), "project": .string(project), "volume_count": .string(String(volumes)),
                    "total_volume_gb": .string(String(volumeGB)), "snapshot_count": .string(String(snapshots)),
                    "total_snapshot_gb": .string(String(snapshotGB)),
                ]
            ]
        }
        let total = row(
            "(total)", usage.reduce(0) { $0 + $1.volumes }, usage.reduce(0) { $0 + $1.volumeGB },
            usage.reduce(0) { $0 + $1.snapshots }, usage.reduce(0) { $0 + $1.snapshotGB })
        let rows = usage.map { row($0.projectID, $0.volumes, $0.volumeGB, $0.snapshots, $0.snapshotGB) }
        return JSONResponse.make(["host": .array([total] + rows)])
    }
}
