import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `/groups` (3.13): generic volume groups. The API checks and records intent in one compare-and-swap each; the
/// scheduler places a new group and the volume service of its backend finishes creates and deletes.
struct GroupsController {
    let env: APIEnvironment
    static let minimum = APIVersion(3, 13)

    /// Statuses in which a group takes volumes (new ones, or ones added by an update).
    static let acceptsVolumes: Set<GroupStatus> = [.available, .inUse]
    /// Statuses a volume may be added to a group in, or removed from one in (`cinder/group/api.py: update`).
    static let addable: Set<VolumeStatus> = [.available, .inUse]
    static let removable: Set<VolumeStatus> = [.available, .inUse, .error, .errorDeleting]

    func register(on router: Router<APIRequestContext>) {
        let v = Self.minimum
        router.post("/v3/groups", use: since(v, create))
        router.get("/v3/groups", use: since(v) { try await list($0, $1, detail: false) })
        router.get("/v3/groups/detail", use: since(v) { try await list($0, $1, detail: true) })
        router.get("/v3/groups/:id", use: since(v, show))
        router.put("/v3/groups/:id", use: since(v, update))
        router.post("/v3/groups/:id/action", use: since(v, action))
        router.post("/v3/groups/action", use: since(APIVersion(3, 14), createFromSource))
    }

    /// The group in the URL, if the caller may see it.
    func find(_ context: APIRequestContext, id: String? = nil) async throws -> VolumeGroup {
        let id = id ?? context.parameters.get("id") ?? ""
        guard let group = try await env.groups.get(id, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.groupNotFound(id) }
        return group
    }

    // MARK: Read

    static let userFilters: Set<String> = ["name", "status", "availability_zone", "group_type_id"]

    func list(_ request: Request, _ context: APIRequestContext, detail: Bool) async throws -> Response {
        let params = ListParameters(request)
        let page = try params.pagination(maxLimit: env.osapiMaxLimit)
        var groups: [VolumeGroup] = []
        // `list_volume` steers the view, not the filter.
        if let query = try await params.listQuery(
            context, userFilters: Self.userFilters.union(["list_volume"]), columns: GroupStore.columns,
            special: { key, _, _ in key == "list_volume" ? .handled : .generic })
        {
            groups = try await env.groups.list(query.paged(page))
        }
        // One query for the members of the whole page.
        let listed = try detail && listsVolumes(params, context)
        let members = listed ? try await env.volumes.memberIDs(ofGroups: groups.map(\.id)) : [:]
        var body: [String: JSONValue] = [
            "groups": .array(
                groups.map { group in
                    detail
                        ? GroupView.detail(group, context, volumeIDs: listed ? members[group.id] ?? [] : nil)
                        : GroupView.summary(group)
                })
        ]
        if let last = groups.last, page.limit <= groups.count {
            body["group_links"] = Links.next(
                context, path: detail ? "groups/detail" : "groups", parameters: params, lastID: last.id)
        }
        return JSONResponse.make(.object(body))
    }

    /// `list_volume=true` (3.25): the detail names the member volumes.
    func listsVolumes(_ params: ListParameters, _ context: APIRequestContext) throws(AshlarError) -> Bool {
        context.version >= APIVersion(3, 25) ? try params.flag("list_volume") : false
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let group = try await find(context)
        let members = try listsVolumes(ListParameters(request), context)
            ? try await env.volumes.memberIDs(ofGroups: [group.id])[group.id] ?? [] : nil
        return JSONResponse.make(["group": GroupView.detail(group, context, volumeIDs: members)])
    }

    // MARK: Create

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("group", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "group_type", "volume_types", "availability_zone"])
        let name = try body.string("name") ?? nil
        let description = try body.string("description") ?? nil
        guard let groupTypeRef = try body.string("group_type") ?? nil, !groupTypeRef.isEmpty else {
            throw AshlarError(
                .invalidInput, "Invalid input received: group_type must be provided to create group \(name ?? "")."
            )
        }
        let typeRefs: [String]
        switch body.values["volume_types"] {
        case .array(let list)? where !list.isEmpty:
            typeRefs = try list.map { value throws(AshlarError) -> String in
                guard case .string(let ref) = value, !ref.isEmpty else {
                    throw Fields.invalid("volume_types", value, "Volume types are named by id or name.")
                }
                return ref
            }
        case .string(let text)? where !text.isEmpty:
            typeRefs = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        default:
            throw AshlarError(
                .invalidInput, "Invalid input received: volume_types must be provided to create group \(name ?? "").")
        }
        guard let groupType = try await env.groupTypes.find(groupTypeRef),
            groupType.isPublic || context.caller.isAdmin
        else { throw AshlarError.groupTypeNotFound(groupTypeRef) }
        var typeIDs: [String] = []
        for ref in typeRefs {
            let type = try await VolumesController(env: env).resolveType(ref, context: context)
            if !typeIDs.contains(type.id) { typeIDs.append(type.id) }
        }
        var zone = env.defaultAvailabilityZone
        if let requested = try body.string("availability_zone") ?? nil { zone = try await env.knownZone(requested) }
        let group = VolumeGroup(
            projectID: context.caller.projectID, userID: context.caller.userID, name: name, description: description,
            groupTypeID: groupType.id, volumeTypeIDs: typeIDs, availabilityZone: zone)
        try await insert(group, context: context)
        do {
            try await env.scheduler.createGroup(.init(groupID: group.id), context: context.caller)
        } catch {
            // The bus could not take it: undo, so the answer is a 503 that changed nothing.
            context.logger.error("group \(group.id) could not be handed to the scheduler: \(error)")
            _ = try? await env.groups.delete(group.id, expected: [.creating], unplaced: true)
            throw AshlarError(
                .unavailable, "The scheduler could not be reached; nothing was created, try again later.",
                underlying: error)
        }
        context.logger.info("group \(group.id) accepted", metadata: ["group_type": "\(groupType.name)"])
        return JSONResponse.make(["group": GroupView.summary(group)], status: .accepted)
    }

    /// Inserts the group, admitted against the project's `groups` quota in the same statement.
    func insert(_ group: VolumeGroup, requiring more: [Requirement] = [], context: APIRequestContext) async throws {
        let limit = try await env.quotaStore.limits(projectID: group.projectID)[QuotaResource.groups]
        let quota = GroupStore.quota(projectID: group.projectID, limit: limit)
        guard try await env.groups.insert(group, requiring: (quota.map { [$0] } ?? []) + more) else {
            if let limit, limit >= 0, try await env.groups.count(projectID: group.projectID) >= limit {
                throw AshlarError(.overLimit, "GroupLimitExceeded: Maximum number of groups allowed (\(limit)) exceeded")
            }
            throw AshlarError(.invalidInput, "Invalid input received: the source of the group is no longer available.")
        }
    }

    /// `create-from-src` (3.14): a group made from a group snapshot (a volume from each member snapshot) or from
    /// another group (a clone of each member volume), on the source's backend, with the source's types.
    func createFromSource(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("create-from-src", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "group_snapshot_id", "source_group_id"])
        let name = try body.string("name") ?? nil
        let description = try body.string("description") ?? nil
        let snapshotID = try body.uuid("group_snapshot_id") ?? nil
        let sourceID = try body.uuid("source_group_id") ?? nil
        switch (snapshotID, sourceID) {
        case (nil, nil):
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Either 'group_snapshot_id' or 'source_group_id' must be provided to create group \(name ?? "") from source.")
        case (.some(let s), .some(let g)):
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Cannot create group \(name ?? "") from both group snapshot \(s) and source group \(g).")
        default: break
        }
        // The source: its group (for backend, types and zone) and the members to copy.
        let sourceGroup: VolumeGroup
        var copies: [(size: Int, typeID: String, host: String?, snapshotID: String?, volumeID: String?)] = []
        var sourceRequirement: Requirement
        if let snapshotID {
            guard
                let groupSnapshot = try await env.groupSnapshots.get(
                    snapshotID, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
            else { throw AshlarError.groupSnapshotNotFound(snapshotID) }
            guard groupSnapshot.status == .available else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid group snapshot: group snapshot \(snapshotID) must be available (it is \(groupSnapshot.status.rawValue)).")
            }
            sourceGroup = try await find(context, id: groupSnapshot.groupID)
            for snapshot in try await env.snapshots.members(ofGroupSnapshot: snapshotID) {
                let host = try await env.volumes.get(snapshot.volumeID)?.host
                copies.append((snapshot.volumeSize, snapshot.volumeTypeID, host, snapshot.id, nil))
            }
            sourceRequirement = GroupSnapshotStore.groupSnapshot(snapshotID, statusIn: [.available])
        } else {
            let id = sourceID ?? ""
            sourceGroup = try await find(context, id: id)
            guard sourceGroup.status == .available else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid group: source group \(id) must be available (it is \(sourceGroup.status.rawValue)).")
            }
            for volume in try await env.volumes.members(ofGroup: id) {
                guard VolumeTransitions.cloneable.contains(volume.status) else {
                    throw AshlarError.invalidVolume(
                        "Source volume \(volume.id) must be available or in-use to be cloned (it is \(volume.status.rawValue)).")
                }
                copies.append((volume.size, volume.volumeTypeID, volume.host, nil, volume.id))
            }
            sourceRequirement = GroupStore.group(id, statusIn: [.available])
        }
        guard let backend = sourceGroup.host else {
            throw AshlarError(.invalidInput, "Invalid group: the source group \(sourceGroup.id) is not on a backend.")
        }
        let group = VolumeGroup(
            projectID: context.caller.projectID, userID: context.caller.userID, name: name, description: description,
            groupTypeID: sourceGroup.groupTypeID, volumeTypeIDs: sourceGroup.volumeTypeIDs,
            availabilityZone: sourceGroup.availabilityZone, host: backend, groupSnapshotID: snapshotID,
            sourceGroupID: sourceID)
        try await insert(group, requiring: [sourceRequirement], context: context)
        // The members, each admitted against the volume quota and its source's state; any refusal undoes all.
        var made: [String] = []
        let limits = try await env.quotaStore.limits(projectID: group.projectID)
        do {
            for copy in copies {
                let typeName = try await env.types.get(id: copy.typeID)?.name
                var volume = Volume(
                    projectID: group.projectID, userID: group.userID, size: copy.size, status: .creating,
                    availabilityZone: group.availabilityZone, volumeTypeID: copy.typeID, host: copy.host,
                    snapshotID: copy.snapshotID, sourceVolumeID: copy.volumeID, volumeTypeName: typeName)
                volume.groupID = group.id
                let deltas = QuotaDeltas.volume(size: copy.size, volumeTypeName: typeName)
                var requirements: [Requirement] = []
                if let quota = env.quotaStore.requirement(projectID: group.projectID, deltas: deltas, limits: limits) {
                    requirements.append(quota)
                }
                if let id = copy.snapshotID { requirements.append(SnapshotStore.snapshot(id, statusIn: [.available])) }
                if let id = copy.volumeID {
                    requirements.append(VolumeStore.volume(id, statusIn: VolumeTransitions.cloneable))
                }
                guard try await env.volumes.insert(volume, requiring: requirements) else {
                    throw try await env.quotaStore.refusal(projectID: group.projectID, deltas: deltas, limits: limits)
                }
                made.append(volume.id)
            }
        } catch {
            await undo(group: group.id, volumes: made)
            throw error
        }
        do {
            try await env.volumeRPC.createGroup(host: backend, .init(groupID: group.id), context: context.caller)
        } catch {
            context.logger.error("group \(group.id) could not be handed to its volume service: \(error)")
            await undo(group: group.id, volumes: made)
            throw AshlarError(
                .unavailable, "The volume service could not be reached; nothing was created, try again later.",
                underlying: error)
        }
        context.logger.info("group \(group.id) accepted from \(snapshotID ?? sourceID ?? "")", metadata: ["volumes": "\(made.count)"])
        return JSONResponse.make(["group": GroupView.summary(group)], status: .accepted)
    }

    /// Removes a group being created from a source and the members inserted so far.
    private func undo(group id: String, volumes: [String]) async {
        for volume in volumes { _ = try? await env.volumes.delete(volume, expected: [.creating]) }
        _ = try? await env.groups.delete(id, expected: [.creating])
    }

    // MARK: Update

    /// Name, description, and the volumes to add and remove (each a comma-separated list of ids).
    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("group", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["name", "description", "add_volumes", "remove_volumes"])
        let name = try body.string("name")
        let description = try body.string("description")
        func ids(_ key: String) throws(AshlarError) -> [String] {
            guard let text = try body.string(key, maxLength: 65_535) ?? nil else { return [] }
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let add = try ids("add_volumes"), remove = try ids("remove_volumes")
        if (name ?? nil) == nil && (description ?? nil) == nil && add.isEmpty && remove.isEmpty {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Name, description, add_volumes, and remove_volumes can not be all empty in the request body.")
        }
        let group = try await find(context)
        if !add.isEmpty || !remove.isEmpty {
            guard Self.acceptsVolumes.contains(group.status) else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid group: Group status must be available or in-use, but current status is: \(group.status.rawValue).")
            }
            if let both = Set(add).intersection(remove).first {
                throw AshlarError(
                    .invalidInput, "Invalid input received: Volume \(both) cannot be both added to and removed from group \(group.id).")
            }
            // Every volume checked first, so that a refusal changes nothing.
            for id in remove {
                guard let volume = try await env.volumes.get(id), volume.groupID == group.id else {
                    throw AshlarError(
                        .invalidInput,
                        "Invalid volume: Cannot remove volume \(id) from group \(group.id) because it is not in the group.")
                }
                guard Self.removable.contains(volume.status) else {
                    throw AshlarError.invalidVolume(
                        "Cannot remove volume \(id) from group \(group.id) because volume is in an invalid state: \(volume.status.rawValue). Valid states are: \(Self.removable.map(\.rawValue).sorted().joined(separator: ", ")).")
                }
            }
            for id in add {
                guard let volume = try await env.volumes.get(id, projectID: group.projectID) else {
                    throw AshlarError.volumeNotFound(id)
                }
                try check(volume, canJoin: group)
            }
            for id in remove where try await !env.volumes.leave(id, groupID: group.id, statusIn: Self.removable) {
                throw AshlarError.invalidVolume("Volume \(id) changed while it was removed from group \(group.id); try again.")
            }
            for id in add where try await !env.volumes.join(id, group: group, statusIn: Self.addable) {
                throw AshlarError.invalidVolume("Volume \(id) changed while it was added to group \(group.id); try again.")
            }
        }
        if name != nil || description != nil {
            try await env.groups.rename(group.id, name: name, description: description)
        }
        context.logger.info("group \(group.id) updated", metadata: ["added": "\(add.count)", "removed": "\(remove.count)"])
        return JSONResponse.empty(.accepted)
    }

    /// Why `volume` cannot join `group`, as upstream words it.
    func check(_ volume: Volume, canJoin group: VolumeGroup) throws(AshlarError) {
        let prefix = "Cannot add volume \(volume.id) to group \(group.id) because"
        if let other = volume.groupID {
            throw AshlarError.invalidVolume("\(prefix) it is already in group \(other).")
        }
        guard Self.addable.contains(volume.status) else {
            throw AshlarError.invalidVolume(
                "\(prefix) volume is in an invalid state: \(volume.status.rawValue). Valid states are: available, in-use.")
        }
        guard group.volumeTypeIDs.contains(volume.volumeTypeID) else {
            throw AshlarError.invalidVolume("\(prefix) volume type \(volume.volumeTypeID) is not supported by the group.")
        }
        guard let host = volume.host, HostName.backend(of: host) == group.host else {
            throw AshlarError.invalidVolume(
                "\(prefix) volume does not have a host or is on a different backend than the group's \(group.host ?? "none").")
        }
    }

    // MARK: Actions

    func action(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (name, argument) = try await request.action(context, limit: env.maxRequestBodySize)
        let arguments = try Fields(action: name, argument)
        switch name {
        case "delete": return try await delete(arguments, context)
        case "reset_status" where context.version >= APIVersion(3, 20):
            return try await resetStatus(arguments, context)
        default:
            throw AshlarError(.invalidInput, "Invalid input received: There is no such action: \(name).")
        }
    }

    /// Deletes the group and, with `delete-volumes`, its volumes. Refused while it has group snapshots, a member
    /// is attached or has snapshots, or (without the flag) it has members.
    func delete(_ arguments: Fields, _ context: APIRequestContext) async throws -> Response {
        try arguments.rejectUnknown(["delete-volumes"])
        let deleteVolumes = try arguments.bool("delete-volumes") ?? false
        let group = try await find(context)
        guard let host = group.host else {
            // Never placed: nothing exists on a backend.
            guard try await env.groups.delete(group.id, expected: Set(GroupStatus.all), unplaced: true) else {
                throw AshlarError(.invalidInput, "Invalid group: group \(group.id) changed while it was deleted; try again.")
            }
            return JSONResponse.empty(.accepted)
        }
        if try await !env.groupSnapshots.of(groupID: group.id).isEmpty {
            throw AshlarError(.invalidInput, "Invalid group: Group has existing snapshots, cannot delete.")
        }
        let members = try await env.volumes.members(ofGroup: group.id)
        if !members.isEmpty && !deleteVolumes {
            throw AshlarError(
                .invalidInput,
                "Invalid group: Group \(group.id) still contains volumes. The delete-volumes flag is required to delete it.")
        }
        for volume in members {
            if volume.attachStatus != .detached || volume.status == .inUse {
                throw AshlarError(.invalidInput, "Invalid group: Volume in group \(group.id) is attached. Need to detach first.")
            }
            if try await !env.snapshots.of(volumeID: volume.id).isEmpty {
                throw AshlarError(.invalidInput, "Invalid group: Volume in group still has dependent snapshots.")
            }
            guard VolumeStateMachine.table[.deletedWithGroup].from.contains(volume.status) else {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) in group \(group.id) is \(volume.status.rawValue) and cannot be deleted now.")
            }
        }
        guard
            try await env.groups.apply(
                .deleteRequested, to: group.id, requiring: [GroupSnapshotStore.none(ofGroup: group.id)]) != nil
        else {
            let now = try await env.groups.get(group.id)?.status.rawValue ?? "deleted"
            throw AshlarError(
                .invalidInput, "Invalid group: Group status must be available or error, but current status is: \(now).")
        }
        if deleteVolumes { try await env.volumes.markDeleting(ofGroup: group.id) }
        do {
            try await env.volumeRPC.deleteGroup(host: host, .init(groupID: group.id), context: context.caller)
        } catch {
            // Recorded as deleting: the volume service's sweep finishes it once the bus is back.
            context.logger.error("delete of group \(group.id) could not be cast now; left to the recovery sweep: \(error)")
        }
        context.logger.info("group \(group.id) deleting", metadata: ["volumes": "\(members.count)"])
        return JSONResponse.empty(.accepted)
    }

    func resetStatus(_ arguments: Fields, _ context: APIRequestContext) async throws -> Response {
        try context.requireAdmin("group:reset_status")
        let status = try arguments.resetStatus(GroupStatus.all, of: "Group")
        let group = try await find(context)
        guard try await env.groups.apply(.reset, to: group.id, choosing: status) != nil else {
            throw AshlarError(
                .invalidInput, "Invalid group: group \(group.id) is \(group.status.rawValue) and its status cannot be reset now.")
        }
        context.logger.info("group \(group.id) status reset to \(status.rawValue)")
        return JSONResponse.empty(.accepted)
    }
}
