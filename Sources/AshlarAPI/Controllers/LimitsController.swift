import AshlarCore
import AshlarStore
import Hummingbird
import Logging

/// `/limits`: the project's absolute limits and what it uses, counted from the volumes themselves.
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
        let used = try await env.volumes.totals(projectID: project)
        let q = env.quotas
        let absolute: JSONValue = [
            "maxTotalVolumes": .int(Int64(q.volumes)),
            "maxTotalSnapshots": .int(Int64(q.snapshots)),
            "maxTotalVolumeGigabytes": .int(Int64(q.gigabytes)),
            "maxTotalBackups": .int(Int64(q.backups)),
            "maxTotalBackupGigabytes": .int(Int64(q.backupGigabytes)),
            "totalVolumesUsed": .int(Int64(used.count)),
            "totalGigabytesUsed": .int(Int64(used.gigabytes)),
            "totalSnapshotsUsed": 0,
            "totalBackupsUsed": 0,
            "totalBackupGigabytesUsed": 0,
        ]
        return JSONResponse.make(["limits": ["rate": [], "absolute": absolute]])
    }
}
