import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/group_snapshots` (3.14): one snapshot of every volume of a group, taken together by the group's volume
/// service. The API inserts the group snapshot and its members (each admitted against the snapshot quota) and
/// casts; the volume service settles it.
struct GroupSnapshotsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        let v = APIVersion(3, 14)
        router.post("/v3/group_snapshots", use: since(v, create))
        router.get("/v3/group_snapshots", use: since(v) { try await list($0, $1, detail: false) })
        router.get("/v3/group_snapshots/detail", use: since(v) { try await list($0, $1, detail: true) })
        router.get("/v3/group_snapshots/:id", use: since(v, show))
        router.delete("/v3/group_snapshots/:id", use: since(v, delete))
        router.post("/v3/group_snapshots/:id/action", use: since(v, action))
    }

    func find(_ context: APIRequestContext) async throws -> GroupSnapshot {
        let id = context.parameters.get("id") ?? ""
        guard
            let found = try await env.groupSnapshots.get(
                id, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.groupSnapshotNotFound(id) }
        return found
    }

    static let userFilters: Set<String> = ["name", "status", "group_id"]

    func list(_ request: Request, _ context: APIRequestContext, detail: Bool) async throws -> Response {
        let params = ListParameters(request)
        let page = try params.pagination(maxLimit: env.osapiMaxLimit)
        var found: [GroupSnapshot] = []
        if let query = try await params.listQuery(
            context, userFilters: Self.userFilters, columns: GroupSnapshotStore.columns)
        {
            found = try await env.groupSnapshots.list(query.paged(page))
        }
        var body: [String: JSONValue] = [
            "group_snapshots": .array(
                found.map { detail ? GroupSnapshotView.detail($0, context) : GroupSnapshotView.listed($0) })
        ]
        if let last = found.last, page.limit <= found.count {
            body["group_snapshot_links"] = Links.next(
                context, path: detail ? "group_snapshots/detail" : "group_snapshots", parameters: params,
                lastID: last.id)
        }
        return JSONResponse.make(.object(body))
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(["group_snapshot": GroupSnapshotView.detail(try await find(context), context)])
    }

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("group_snapshot", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["group_id", "name", "description"])
        guard let groupID = try body.uuid("group_id") ?? nil else {
            throw AshlarError(.invalidInput, "Invalid input received: 'group_id' must be specified.")
        }
        let name = try body.string("name") ?? nil
        let description = try body.string("description") ?? nil
        guard let group = try await env.groups.get(groupID, projectID: context.caller.isAdmin ? nil : context.caller.projectID),
            let host = group.host
        else { throw AshlarError.groupNotFound(groupID) }
        guard GroupsController.acceptsVolumes.contains(group.status) else {
            throw AshlarError(
                .invalidInput,
                "Invalid group: Group \(group.id) status must be available or in-use, but current status is: \(group.status.rawValue).")
        }
        let members = try await env.volumes.members(ofGroup: group.id)
        for volume in members where !GroupsController.addable.contains(volume.status) {
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) of group \(group.id) is \(volume.status.rawValue); a group snapshot needs every volume available or in-use.")
        }
        let groupSnapshot = GroupSnapshot(
            groupID: group.id, projectID: group.projectID, userID: context.caller.userID, name: name,
            description: description, groupTypeID: group.groupTypeID)
        guard
            try await env.groupSnapshots.insert(
                groupSnapshot, requiring: [GroupStore.group(group.id, statusIn: GroupsController.acceptsVolumes)])
        else { throw AshlarError(.invalidInput, "Invalid group: group \(group.id) is no longer available.") }
        var made: [String] = []
        let limits = try await env.quotaStore.limits(projectID: group.projectID)
        do {
            for volume in members {
                var snapshot = Snapshot(
                    projectID: group.projectID, userID: context.caller.userID, volumeID: volume.id, name: name,
                    description: description, volumeSize: volume.size, volumeTypeID: volume.volumeTypeID)
                snapshot.groupSnapshotID = groupSnapshot.id
                let deltas = env.quotaStore.snapshotDeltas(size: volume.size, volumeTypeName: volume.volumeTypeName)
                var requirements = [VolumeStore.volume(volume.id, statusIn: GroupsController.addable, placed: true)]
                if let quota = env.quotaStore.requirement(projectID: group.projectID, deltas: deltas, limits: limits) {
                    requirements.append(quota)
                }
                guard try await env.snapshots.insert(snapshot, requiring: requirements) else {
                    if let now = try await env.volumes.get(volume.id), !GroupsController.addable.contains(now.status) {
                        throw AshlarError.invalidVolume("Volume \(volume.id) changed while the group snapshot was taken.")
                    }
                    throw try await env.quotaStore.refusal(projectID: group.projectID, deltas: deltas, limits: limits)
                }
                made.append(snapshot.id)
            }
        } catch {
            await undo(groupSnapshot.id, snapshots: made)
            throw error
        }
        do {
            try await env.volumeRPC.createGroupSnapshot(
                host: host, .init(groupSnapshotID: groupSnapshot.id), context: context.caller)
        } catch {
            context.logger.error("group snapshot \(groupSnapshot.id) could not be handed to its volume service: \(error)")
            await undo(groupSnapshot.id, snapshots: made)
            throw AshlarError(
                .unavailable, "The volume service could not be reached; nothing was created, try again later.",
                underlying: error)
        }
        context.logger.info("group snapshot \(groupSnapshot.id) of group \(group.id) accepted", metadata: ["snapshots": "\(made.count)"])
        return JSONResponse.make(["group_snapshot": GroupSnapshotView.summary(groupSnapshot)], status: .accepted)
    }

    private func undo(_ id: String, snapshots: [String]) async {
        for snapshot in snapshots { _ = try? await env.snapshots.delete(snapshot) }
        try? await env.groupSnapshots.remove(id)
    }

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let groupSnapshot = try await find(context)
        guard try await env.groupSnapshots.apply(.deleteRequested, to: groupSnapshot.id) != nil else {
            let now = try await env.groupSnapshots.get(groupSnapshot.id)?.status.rawValue ?? "deleted"
            throw AshlarError(
                .invalidInput,
                "Invalid group snapshot: Group snapshot status must be available or error, and no group is being made from it; it is \(now).")
        }
        try await env.snapshots.markDeleting(ofGroupSnapshot: groupSnapshot.id)
        if let host = try await env.groups.get(groupSnapshot.groupID)?.host {
            do {
                try await env.volumeRPC.deleteGroupSnapshot(
                    host: host, .init(groupSnapshotID: groupSnapshot.id), context: context.caller)
            } catch {
                context.logger.error("delete of group snapshot \(groupSnapshot.id) could not be cast now; left to the recovery sweep: \(error)")
            }
        }
        return JSONResponse.empty(.accepted)
    }

    func action(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (name, argument) = try await request.action(context, limit: env.maxRequestBodySize)
        guard name == "reset_status", context.version >= APIVersion(3, 19) else {
            throw AshlarError(.invalidInput, "Invalid input received: the only action is reset_status (3.19).")
        }
        try context.requireAdmin("group:reset_group_snapshot_status")
        let status = try Fields(action: name, argument).resetStatus(GroupSnapshotStatus.all, of: "Group snapshot")
        let groupSnapshot = try await find(context)
        guard try await env.groupSnapshots.apply(.reset, to: groupSnapshot.id, choosing: status) != nil else {
            throw AshlarError(
                .invalidInput,
                "Invalid group snapshot: group snapshot \(groupSnapshot.id) is \(groupSnapshot.status.rawValue) and its status cannot be reset now.")
        }
        return JSONResponse.empty(.accepted)
    }
}
