import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `/volumes`: create, list, show, update, delete, summary.
struct VolumesController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.post("/v3/volumes", use: create)
        router.get("/v3/volumes", use: { try await list($0, $1, detail: false) })
        router.get("/v3/volumes/detail", use: { try await list($0, $1, detail: true) })
        router.get("/v3/volumes/summary", use: summary)
        router.get("/v3/volumes/:id", use: show)
        router.put("/v3/volumes/:id", use: update)
        router.delete("/v3/volumes/:id", use: delete)
    }

    /// The fields a list may filter on before 3.31 and generically after (`resource_filters.json`).
    static let userFilters: Set<String> = [
        "name", "status", "metadata", "bootable", "migration_status", "availability_zone", "group_id", "size",
        "created_at", "updated_at", "consumes_quota",
    ]

    // MARK: Create

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("volume", context, limit: env.maxRequestBodySize)
        var allowed: Set<String> = [
            "name", "description", "display_name", "display_description", "volume_type", "metadata", "snapshot_id",
            "source_volid", "consistencygroup_id", "size", "availability_zone", "multiattach", "image_id", "imageRef",
        ]
        if context.version >= APIVersion(3, 13) { allowed.insert("group_id") }
        if context.version >= APIVersion(3, 47) { allowed.insert("backup_id") }
        if context.version >= APIVersion(3, 53) { try body.rejectUnknown(allowed) }

        let name = try body.string("name") ?? body.string("display_name")
        let description = try body.string("description") ?? body.string("display_description")
        let metadata = try body.metadata("metadata") ?? [:]
        let size = try body.positiveInt("size")
        if body.has("multiattach") {
            throw AshlarError(
                .invalidInput,
                "The multiattach parameter is no longer supported; use a volume type with the extra spec multiattach=\"<is> True\"."
            )
        }
        // A copy of a snapshot or of another volume: same backend, same zone, at least the source's size.
        var source: (volume: Volume, snapshot: Snapshot?)? = nil
        if let snapshotID = try body.uuid("snapshot_id") ?? nil {
            guard let snapshot = try await env.snapshots.get(snapshotID, projectID: context.caller.projectID) else {
                throw AshlarError.snapshotNotFound(snapshotID)
            }
            guard snapshot.status == .available else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values (it is \(snapshot.status.rawValue)).")
            }
            guard let volume = try await env.volumes.get(snapshot.volumeID) else {
                throw AshlarError.volumeNotFound(snapshot.volumeID)
            }
            source = (volume, snapshot)
        } else if let sourceID = try body.uuid("source_volid") ?? nil {
            guard let volume = try await env.volumes.get(sourceID, projectID: context.caller.projectID) else {
                throw AshlarError.volumeNotFound(sourceID)
            }
            guard VolumeTransitions.cloneable.contains(volume.status), volume.host != nil else {
                throw AshlarError.invalidVolume(
                    "Source volume \(volume.id) must be available or in-use to be cloned (it is \(volume.status.rawValue)).")
            }
            source = (volume, nil)
        }
        if let value = try body.string("backup_id"), value != nil {
            throw AshlarError(
                .notImplemented, "Creating a volume from backup_id is not available yet in this Ashlar version.")
        }
        let image = try await imageSource(body, context: context)
        if image != nil, source != nil {
            throw AshlarError(
                .invalidInput, "Invalid input received: a volume is made from one source: an image, a snapshot or a volume.")
        }
        let sourceSize = source.map { $0.snapshot?.volumeSize ?? $0.volume.size } ?? image.map(Self.sizeNeeded)
        guard let size = size ?? sourceSize else {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: size is required when the volume is not made from a snapshot, volume, image or backup."
            )
        }
        if let image { try Self.checkFits(image, size: size) }
        if let sourceSize, image == nil, size < sourceSize {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Volume size '\(size)'GB cannot be smaller than the \(source?.snapshot == nil ? "source volume" : "snapshot") size \(sourceSize)GB. They must be >= original size.")
        }

        let requestedType = try body.string("volume_type") ?? nil
        let type: VolumeType
        if requestedType == nil, let source, let sourceType = try await env.types.get(id: source.volume.volumeTypeID) {
            type = sourceType  // a copy keeps its source's type unless told otherwise
        } else {
            type = try await resolveType(requestedType, context: context)
        }
        try checkTypeSizeLimits(type, size: size)
        if try await env.types.encryption(ofType: type.id) != nil {
            // A volume key needs a key manager, and this deployment has none: refused rather than made unencrypted.
            throw AshlarError(
                .invalidInput,
                "Invalid volume type: volume type \(type.name) is encrypted, and no key manager is configured to hold volume keys.")
        }
        // A member of a group (3.13): of one of the group's types, on the group's backend.
        var group: VolumeGroup?
        if context.version >= APIVersion(3, 13), let groupID = try body.uuid("group_id") ?? nil {
            guard let found = try await env.groups.get(groupID, projectID: context.caller.projectID) else {
                throw AshlarError.groupNotFound(groupID)
            }
            guard found.volumeTypeIDs.contains(type.id) else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid input received: Invalid volume_type provided: \(type.id) (requested type must be supported by group \(found.id)).")
            }
            guard GroupsController.acceptsVolumes.contains(found.status), found.host != nil else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid group: group \(found.id) must be available to take new volumes (it is \(found.status.rawValue)).")
            }
            group = found
        }
        let limits = try await env.quotaStore.limits(projectID: context.caller.projectID)
        if let perVolume = limits[QuotaResource.perVolumeGigabytes], perVolume >= 0, size > perVolume {
            throw AshlarError(
                .overLimit,
                "VolumeSizeExceedsLimit: Requested volume size \(size)G is larger than maximum allowed limit \(perVolume)G.")
        }
        var zone: String? = nil
        if let requested = try body.string("availability_zone"), let requested {
            zone = try await env.knownZone(requested)
        }
        var hints: [String: JSONValue] = [:]
        switch body.top["OS-SCH-HNT:scheduler_hints"] {
        case .none, .null: break
        case .object(let h): hints = h
        case .some(let other):
            throw Fields.invalid("OS-SCH-HNT:scheduler_hints", other, "\(other.rendered) is not of type 'object'.")
        }

        if let source, let requested = zone, requested != source.volume.availabilityZone {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Availability zone '\(requested)' is invalid: the volume must be made in its source's zone \(source.volume.availabilityZone).")
        }
        var volume = Volume(
            projectID: context.caller.projectID, userID: context.caller.userID, name: name ?? nil,
            description: description ?? nil, size: size, status: .creating,
            availabilityZone: zone ?? source?.volume.availabilityZone ?? env.defaultAvailabilityZone,
            volumeTypeID: type.id, multiattach: type.isMultiattach, snapshotID: source?.snapshot?.id,
            sourceVolumeID: source?.snapshot == nil ? source?.volume.id : nil, metadata: metadata)
        volume.groupID = group?.id
        if let image { volume.adminMetadata[Volume.imageSourceKey] = image.id }
        // A copy boots as its source did, with the source's image properties (upstream copies the Glance metadata).
        if let source {
            volume.bootable = source.volume.bootable
            volume.imageMetadata = source.volume.imageMetadata.filter { $0.key != Volume.imageProgressKey }
        }
        // One statement admits the volume against the quota and the source's state, and inserts it.
        let deltas = QuotaDeltas.volume(size: size, volumeTypeName: type.name)
        var requirements: [Requirement] = []
        if let quota = env.quotaStore.requirement(projectID: volume.projectID, deltas: deltas, limits: limits) {
            requirements.append(quota)
        }
        if let snapshot = source?.snapshot {
            requirements.append(SnapshotStore.snapshot(snapshot.id, statusIn: [.available]))
        } else if let source {
            requirements.append(VolumeStore.volume(source.volume.id, statusIn: VolumeTransitions.cloneable))
        }
        if let group { requirements.append(GroupStore.group(group.id, statusIn: GroupsController.acceptsVolumes)) }
        guard try await env.volumes.insert(volume, requiring: requirements) else {
            if let group, try await env.groups.get(group.id).map({ GroupsController.acceptsVolumes.contains($0.status) }) != true {
                throw AshlarError(.invalidInput, "Invalid group: group \(group.id) is no longer available.")
            }
            if let snapshot = source?.snapshot, try await env.snapshots.get(snapshot.id)?.status != .available {
                throw AshlarError(.invalidInput, "Invalid snapshot: snapshot \(snapshot.id) is no longer available.")
            }
            if let source, source.snapshot == nil,
                !VolumeTransitions.cloneable.contains(try await env.volumes.get(source.volume.id)?.status ?? .deleting)
            {
                throw AshlarError.invalidVolume("Source volume \(source.volume.id) is no longer available or in-use.")
            }
            throw try await env.quotaStore.refusal(projectID: volume.projectID, deltas: deltas, limits: limits)
        }
        volume.volumeTypeName = type.name
        CrashPoint.apiCreateInserted.reach()
        let spec = RequestSpec(
            volumeID: volume.id, size: size, availabilityZone: zone, volumeTypeName: type.name,
            extraSpecs: type.extraSpecs, schedulerHints: hints, resourceBackend: source?.volume.host ?? group?.host)
        do {
            try await env.scheduler.createVolume(.init(volumeID: volume.id, requestSpec: spec), context: context.caller)
        } catch {
            // The bus could not take the request (broker away): undo the insert, so the answer is a 503 that
            // changed nothing, rather than a volume accepted that nobody will make.
            context.logger.error("volume \(volume.id) could not be handed to the scheduler: \(error)")
            if (try? await env.volumes.delete(volume.id, expected: [.creating], unplaced: true)) == true {
                throw AshlarError(
                    .unavailable, "The scheduler could not be reached; nothing was created, try again later.",
                    underlying: error)
            }
            // A publish whose confirm was lost with the connection may have arrived: if the scheduler has placed
            // the volume, it is being made, and the answer says so.
            if let now = try? await env.volumes.get(volume.id), now.host != nil || now.status != .creating {
                context.logger.info("volume \(volume.id) reached the scheduler after all; accepted")
                return JSONResponse.make(["volume": VolumeView.detail(volume, context, form: .created)], status: .accepted)
            }
            // Not even that: the volume can never leave `creating`, so say so now rather than leave it stuck.
            try await env.volumes.failCreate(
                volume, messages: env.messages, requestID: context.requestID, eventID: "VOLUME_VOLUME_001_003",
                message: "schedule allocate volume: the scheduler could not be reached; delete the volume and try again.")
            throw AshlarError(.unavailable, "The scheduler could not be reached; try again later.", underlying: error)
        }
        context.logger.info("volume \(volume.id) accepted", metadata: ["size_gb": "\(size)", "type": "\(type.name)"])
        return JSONResponse.make(["volume": VolumeView.detail(volume, context, form: .created)], status: .accepted)
    }

    /// The type a create asks for, by id or name, or the project's default type.
    func resolveType(_ requested: String?, context: APIRequestContext) async throws -> VolumeType {
        if let requested {
            guard let type = try await env.types.find(requested) else {
                throw AshlarError(.notFound, "Volume type with name \(requested) could not be found.")
            }
            if !type.isPublic, !context.caller.isAdmin,
                !(try await env.types.projects(typeID: type.id)).contains(context.caller.projectID)
            {
                throw AshlarError(.notFound, "Volume type with name \(requested) could not be found.")
            }
            return type
        }
        return try await DefaultTypes.resolve(env: env, projectID: context.caller.projectID)
    }

    /// `provisioning:min_vol_size` / `provisioning:max_vol_size`.
    func checkTypeSizeLimits(_ type: VolumeType, size: Int) throws(AshlarError) {
        if let min = type.extraSpecs["provisioning:min_vol_size"].flatMap(Int.init), size < min {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Volume size \(size)GiB is less than the minimum size \(min)GiB of volume type \(type.name)."
            )
        }
        if let max = type.extraSpecs["provisioning:max_vol_size"].flatMap(Int.init), size > max {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Volume size \(size)GiB is larger than the maximum size \(max)GiB of volume type \(type.name)."
            )
        }
    }

    // MARK: Read

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let volume = try await find(context)
        let attached = try await attachments(of: [volume])[volume.id] ?? []
        return JSONResponse.make(["volume": VolumeView.detail(volume, context, attachments: attached)])
    }

    /// The attached attachments of `volumes`, in one query, asked only for volumes not `detached`: most volumes
    /// are, and a show or a list then costs no query more than before attachments existed.
    func attachments(of volumes: [Volume]) async throws -> [String: [Attachment]] {
        let held = volumes.filter { $0.attachStatus != .detached }.map(\.id)
        return held.isEmpty ? [:] : try await env.attachments.attached(toVolumes: held)
    }

    func find(_ context: APIRequestContext) async throws -> Volume {
        let id = context.parameters.get("id") ?? ""
        guard
            let volume = try await env.volumes.get(
                id, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.volumeNotFound(id) }
        return volume
    }

    func list(_ request: Request, _ context: APIRequestContext, detail: Bool) async throws -> Response {
        let params = ListParameters(request)
        let filtered = try await listQuery(params, context)
        let page = try params.pagination(maxLimit: env.osapiMaxLimit)
        var volumes: [Volume] = []
        if let query = filtered { volumes = try await env.volumes.list(query.paged(page)) }
        var body: [String: JSONValue] = [:]
        if detail {
            // One query for the attachments of the whole page.
            let attached = try await attachments(of: volumes)
            body["volumes"] = .array(volumes.map { VolumeView.detail($0, context, attachments: attached[$0.id] ?? []) })
        } else {
            body["volumes"] = .array(volumes.map { VolumeView.summary($0, context) })
        }
        if let last = volumes.last, page.limit <= volumes.count {
            body["volumes_links"] = Links.next(
                context, path: detail ? "volumes/detail" : "volumes", parameters: params, lastID: last.id)
        }
        if try params.withCount(context) {
            var count = 0
            if let filtered { count = try await env.volumes.count(filtered) }
            body["count"] = .int(Int64(count))
        }
        return JSONResponse.make(.object(body))
    }

    /// Filters and sort of a volume list; nil when a filter names a field volumes do not have, which gives an
    /// admin an empty list, as Cinder's database layer does.
    func listQuery(_ params: ListParameters, _ context: APIRequestContext) async throws -> ListQuery? {
        try await params.listQuery(context, userFilters: Self.userFilters, columns: VolumeStore.columns) {
            key, value, query in
            switch key {
            case "bootable":
                guard let b = ExtraSpecMatcher.parseBool(value) else {
                    if context.version >= APIVersion(3, 2) {
                        throw AshlarError(
                            .invalidInput, "Invalid input received: bootable={\(value)} is not a boolean.")
                    }
                    return .handled
                }
                query.conditions.append(.init("bootable", .eq, .bool(b)))
            case "size":
                guard let n = Int(value) else {
                    throw AshlarError(
                        .invalidInput, "Invalid input received: size filter '\(value)' is not a whole number.")
                }
                query.conditions.append(.init("size", .eq, .int(n)))
            case "created_at", "updated_at":
                if context.version >= APIVersion(3, 60) {
                    query.conditions += try ListParameters.timeConditions(field: key, text: value)
                } else if let date = Timestamp.parse(value) {
                    query.conditions.append(.init(key, .eq, .date(date)))
                }
            case "volume_type":
                let type = try await env.types.find(value)
                query.conditions.append(.init("volume_type_id", .eq, .string(type?.id ?? value)))
            default:
                return .generic
            }
            return .handled
        }
    }

    func summary(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(APIVersion(3, 12))
        let params = ListParameters(request)
        let query = try await listQuery(params, context)
        var totals = (count: 0, gigabytes: 0)
        if let query { totals = try await env.volumes.totals(projectID: query.projectID, query: query) }
        var summary: [String: JSONValue] = [
            "total_count": .int(Int64(totals.count)), "total_size": .int(Int64(totals.gigabytes)),
        ]
        if context.version >= APIVersion(3, 36) {
            var merged: [String: Set<String>] = [:]
            for v in query == nil ? [] : try await env.volumes.list(query!) {
                for (k, value) in v.metadata { merged[k, default: []].insert(value) }
            }
            summary["metadata"] = .object(merged.mapValues { .array($0.sorted().map(JSONValue.string)) })
        }
        return JSONResponse.make(["volume-summary": .object(summary)])
    }

    // MARK: Update

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("volume", context, limit: env.maxRequestBodySize)
        let allowed: Set<String> = ["name", "description", "display_name", "display_description", "metadata"]
        if context.version >= APIVersion(3, 53) {
            try body.rejectUnknown(allowed)
            if body.values.isEmpty {
                throw AshlarError(.invalidInput, "Invalid input received: {} does not have enough properties.")
            }
        }
        let name = try body.string("name") ?? body.string("display_name")
        let description = try body.string("description") ?? body.string("display_description")
        let metadata = try body.metadata("metadata")
        let volume = try await find(context)
        guard
            let updated = try await env.volumes.update(
                volume.id, where: .init(statusNotIn: VolumeTransitions.updateRefused),
                set: .init(name: name, description: description, metadata: metadata))
        else {
            if try await env.volumes.get(volume.id) == nil { throw AshlarError.volumeNotFound(volume.id) }
            throw AshlarError.invalidVolume("The volume is in maintenance and cannot be updated.")
        }
        var shown = updated
        shown.volumeTypeName = volume.volumeTypeName  // an update never changes the type
        let attached = try await attachments(of: [shown])[shown.id] ?? []
        return JSONResponse.make(["volume": VolumeView.detail(shown, context, attachments: attached, form: .updated)])
    }

    // MARK: Delete

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let params = ListParameters(request)
        let cascade = try params.flag("cascade")
        var force = false
        if context.version >= APIVersion(3, 23) {
            force = try params.flag("force")
            if force { try context.requireAdmin("volume:force_delete") }
        }
        let volume = try await find(context)
        try await Self.startDelete(volume, force: force, cascade: cascade, env: env, context: context)
        return JSONResponse.empty(.accepted)
    }

    /// Moves the volume to `deleting` with one compare-and-swap and hands it to its backend. Of two racing
    /// deletes exactly one passes; the other gets Cinder's 400. The same statement checks that no snapshot is
    /// left (or, with `cascade`, that every one may go) and that no volume is being cloned from it.
    static func startDelete(
        _ volume: Volume, force: Bool, cascade: Bool = false, env: APIEnvironment, context: APIRequestContext
    )
        async throws
    {
        // A volume whose manage failed goes its own way (upstream's error_managing_deleting); the status read
        // picks the event, and the compare-and-swap refuses it if the status has moved since.
        let event: VolumeEvent =
            volume.status == .errorManaging
            ? .deleteOfFailedManageRequested : force ? .forceDeleteRequested : .deleteRequested
        var condition = VolumeCondition(attachStatusNot: .attached)
        condition.notSourceOfCreatingVolume = true
        // Attached, or on its way to or from it: the export must end first (attachment-delete, os-detach).
        condition.requiring = [AttachmentStore.noLiveAttachment(volumeID: volume.id), VolumeStore.notGrouped(volume.id)]
        if cascade {
            condition.snapshotsIn = SnapshotStateMachine.cascadable
        } else {
            condition.hasNoSnapshots = true
        }
        guard let deleting = try await env.volumes.apply(event, to: volume.id, where: condition) else {
            guard let current = try await env.volumes.get(volume.id) else {
                throw AshlarError.volumeNotFound(volume.id)
            }
            if try await env.attachments.of(volumeID: volume.id).contains(where: { Attachment.live.contains($0.status) }) {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) has attachments (it is \(current.status.rawValue)); detach it before deleting it.")
            }
            if let group = current.groupID {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) belongs to group \(group); remove it from the group, or delete the group with delete-volumes.")
            }
            let snapshots = try await env.snapshots.of(volumeID: volume.id)
            if let member = snapshots.first(where: { $0.groupSnapshotID != nil }), let groupSnapshot = member.groupSnapshotID {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) has snapshot \(member.id) in group snapshot \(groupSnapshot); delete the group snapshot first.")
            }
            if !snapshots.isEmpty, !cascade || snapshots.contains(where: { !(condition.snapshotsIn ?? []).contains($0.status) }) {
                throw AshlarError.invalidVolume(
                    cascade
                        ? "Volume \(volume.id) has snapshots that are busy (creating or restoring); try again when they are done."
                        : "Volume \(volume.id) still has \(snapshots.count) dependent snapshot(s); delete them first or use cascade=true.")
            }
            let sourcing = try await env.volumes.list(
                ListQuery(projectID: nil, conditions: [.init("source_volid", .eq, .string(volume.id)), .init("status", .eq, .string("creating"))]))
            if !sourcing.isEmpty {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) is being cloned to volume \(sourcing[0].id); delete it once that is done.")
            }
            for snapshot in snapshots {
                let copies = try await env.volumes.list(
                    ListQuery(projectID: nil, conditions: [.init("snapshot_id", .eq, .string(snapshot.id)), .init("status", .eq, .string("creating"))]))
                if let copy = copies.first {
                    throw AshlarError.invalidVolume(
                        "Volume \(copy.id) is being created from snapshot \(snapshot.id) of volume \(volume.id); delete the volume once that is done.")
                }
            }
            throw AshlarError.invalidVolume(
                "Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer. (It is \(current.status.rawValue), attach status \(current.attachStatus.rawValue).)"
            )
        }
        if cascade {
            _ = try await env.snapshots.apply(.deletedWithVolume, toSnapshotsOf: deleting.id)
        }
        CrashPoint.apiDeleteMarked.reach()
        guard let host = deleting.host else {
            // Never placed: nothing exists on a backend, so the row goes at once.
            try await env.volumes.delete(deleting.id)
            return
        }
        try await env.volumeRPC.deleteVolume(
            host: host, .init(volumeID: deleting.id, cascade: cascade), context: context.caller)
    }
}
