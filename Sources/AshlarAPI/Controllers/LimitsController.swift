import AshlarCore
import AshlarStore
import Hummingbird
import Logging

/// `/limits`: the project's absolute limits (its quotas) and what it uses, counted from its volumes and snapshots.
struct LimitsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.get("/v3/limits", use: show)
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var project = context.caller.projectID
        if context.version >= APIVersion(3, 39), context.caller.isAdmin,
            let p = ListParameters(request).value("project_id")
        {
            project = p
        }
        let limits = try await env.quotaStore.limits(projectID: project)
        let used = try await env.quotaStore.usage(projectID: project)
        func value(_ map: [String: Int], _ resource: String) -> JSONValue { .int(Int64(map[resource] ?? 0)) }
        let absolute: JSONValue = [
            "maxTotalVolumes": value(limits, QuotaResource.volumes),
            "maxTotalSnapshots": value(limits, QuotaResource.snapshots),
            "maxTotalVolumeGigabytes": value(limits, QuotaResource.gigabytes),
            "maxTotalBackups": value(limits, QuotaResource.backups),
            "maxTotalBackupGigabytes": value(limits, QuotaResource.backupGigabytes),
            "totalVolumesUsed": value(used, QuotaResource.volumes),
            "totalGigabytesUsed": value(used, QuotaResource.gigabytes),
            "totalSnapshotsUsed": value(used, QuotaResource.snapshots),
            "totalBackupsUsed": value(used, QuotaResource.backups),
            "totalBackupGigabytesUsed": value(used, QuotaResource.backupGigabytes),
        ]
        return JSONResponse.make(["limits": ["rate": [], "absolute": absolute]])
    }
}
