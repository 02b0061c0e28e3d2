import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging

/// `POST /volumes/{id}/action`: one action per body, named by its only key.
struct VolumeActionsController {
    let env: APIEnvironment
    let volumes: VolumesController

    func register(on router: Router<APIRequestContext>) {
        router.post("/v3/volumes/:id/action", use: act)
    }

    /// Actions that need backend work arriving in later releases: refused clearly, changing nothing.
    static let later: Set<String> = [
        "os-reimage", "os-unmanage",
    ]

    func act(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (action, argument) = try await request.action(context, limit: env.maxRequestBodySize)
        let volume = try await volumes.find(context)
        let fields = try Fields(action: action, argument)
        switch action {
        case "os-set_bootable":
            guard let bootable = try fields.bool("bootable") else {
                throw AshlarError(.invalidInput, "Invalid input received: 'bootable' is a required property.")
            }
            try await change(volume, .init(bootable: bootable))
            return JSONResponse.empty(.ok)
        case "os-update_readonly_flag":
            guard let readonly = try fields.bool("readonly") else {
                throw AshlarError(.invalidInput, "Invalid input received: 'readonly' is a required property.")
            }
            var admin = volume.adminMetadata
            admin["readonly"] = readonly ? "True" : "False"
            let done = try await env.volumes.update(
                volume.id, where: .init(statusIn: [.available], adminMetadataEquals: volume.adminMetadata),
                set: .init(adminMetadata: admin))
            if done == nil {
                throw AshlarError.invalidVolume(
                    "The volume must be available to change its read-only flag (it is \(volume.status.rawValue)).")
            }
            return JSONResponse.empty(.accepted)
        case "os-reset_status":
            try context.requireAdmin("volume_extension:volume_admin_actions:reset_status")
            try await resetStatus(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-force_delete":
            try context.requireAdmin("volume_extension:volume_admin_actions:force_delete")
            try await VolumesController.startDelete(volume, force: true, env: env, context: context)
            return JSONResponse.empty(.accepted)
        case "os-set_image_metadata":
            guard let metadata = try fields.metadata("metadata", nullable: false) else {
                throw AshlarError(.invalidInput, "Invalid input received: 'metadata' is a required property.")
            }
            let updated = try await env.volumes.modify(volume, .imageMetadata) {
                $0.merging(metadata) { _, new in new }
            }
            return JSONResponse.make(["metadata": .object(updated.mapValues(JSONValue.string))])
        case "os-unset_image_metadata":
            let key = try fields.requiredString("key")
            guard volume.imageMetadata[key] != nil else {
                throw AshlarError(
                    .notFound, "Glance metadata for volume \(volume.id) with key \(key) could not be found.")
            }
            _ = try await env.volumes.modify(volume, .imageMetadata) { $0.filter { $0.key != key } }
            return JSONResponse.empty(.ok)
        case "os-extend":
            try await extend(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-retype":
            try await retype(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-migrate_volume":
            try context.requireAdmin("volume_extension:volume_admin_actions:migrate_volume")
            try await migrate(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-migrate_volume_completion":
            try context.requireAdmin("volume_extension:volume_admin_actions:migrate_volume_completion")
            try fields.rejectUnknown(["new_volume", "error"])
            // Nova's swap of an attached volume ends here upstream. Ashlar's moves copy into the volume's own id on
            // the destination, with no second volume to swap in, and never move an attached volume.
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) is not mid-migration to a temporary volume: Ashlar moves volumes without one, so there is nothing to complete.")
        case "revert":
            try context.require(APIVersion(3, 40))
            try await revert(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-volume_upload_image":
            return try await uploadToImage(volume, fields, context)
        case "os-show_image_metadata":
            return JSONResponse.make(["metadata": .object(volume.imageMetadata.mapValues(JSONValue.string))])
        case "os-reserve":
            try await reserve(volume)
            return JSONResponse.empty(.accepted)
        case "os-unreserve":
            try await unreserve(volume)
            return JSONResponse.empty(.accepted)
        case "os-begin_detaching":
            try await beginDetaching(volume)
            return JSONResponse.empty(.accepted)
        case "os-roll_detaching":
            try await env.volumes.apply(.detachRolledBack, to: volume.id)
            return JSONResponse.empty(.accepted)
        case "os-initialize_connection":
            let info = try await initializeConnection(volume, fields, context)
            return JSONResponse.make(["connection_info": .object(info)])
        case "os-terminate_connection":
            try await terminateConnection(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-attach":
            try await attach(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-detach":
            try await detach(volume, fields, force: false, context)
            return JSONResponse.empty(.accepted)
        case "os-force_detach":
            try context.requireAdmin("volume_extension:volume_admin_actions:force_detach")
            try await detach(volume, fields, force: true, context)
            return JSONResponse.empty(.accepted)
        case "os-extend_volume_completion":
            try context.require(APIVersion(3, 71))
            try context.requireAdmin("volume:extend_volume_completion")
            try fields.rejectUnknown(["error"])
            _ = try fields.bool("error")
            // Cinder leaves an in-use volume `extending` for Nova to grow (drivers whose compute host does the
            // extend) and waits for this call. Ashlar's backends grow volumes themselves, in use or not, so no
            // volume ever waits for it: as upstream answers for a volume not waiting.
            throw AshlarError(
                .invalidInput,
                "Invalid volume: Volume \(volume.id) is not being extended by a compute host (status \(volume.status.rawValue)); "
                    + "Ashlar's backends extend volumes themselves, so there is nothing to complete.")
        default:
            if Self.later.contains(action) {
                throw AshlarError(.notImplemented, "The action \(action) is not available yet in this Ashlar version.")
            }
            throw AshlarError(.invalidInput, "There is no such action: \(action)")
        }
    }

    /// `os-extend`: the volume goes to `extending` with its new size held against the gigabytes quota, in one
    /// statement; the scheduler then checks its pool has room and the backend grows it.
    private func extend(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["new_size"])
        guard let newSize = try fields.positiveInt("new_size", nullable: false) else {
            throw AshlarError(.invalidInput, "Invalid input received: 'new_size' is a required property.")
        }
        guard newSize > volume.size else {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: New size for extend must be greater than current size. (current: \(volume.size), extended: \(newSize)).")
        }
        if let type = try await env.types.get(id: volume.volumeTypeID) { try volumes.checkTypeSizeLimits(type, size: newSize) }
        let limits = try await env.quotaStore.limits(projectID: volume.projectID)
        if let perVolume = limits[QuotaResource.perVolumeGigabytes], perVolume >= 0, newSize > perVolume {
            throw AshlarError(
                .overLimit,
                "VolumeSizeExceedsLimit: Requested volume size \(newSize)G is larger than maximum allowed limit \(perVolume)G.")
        }
        let deltas = QuotaDeltas(gigabytes: newSize - volume.size, volumeTypeName: volume.volumeTypeName)
        // An attached volume may grow from 3.42 (its export is made again at the new size); the host rescans.
        let event: VolumeEvent = context.version >= APIVersion(3, 42) ? .extendAttachedRequested : .extendRequested
        let extendable = VolumeStateMachine.table[event].from
        var condition = VolumeCondition()
        if let quota = env.quotaStore.requirement(projectID: volume.projectID, deltas: deltas, limits: limits) {
            condition.requiring = [quota]
        }
        guard
            try await env.volumes.apply(event, to: volume.id, where: condition, also: .init(extendTo: .some(newSize)))
                != nil
        else {
            guard let now = try await env.volumes.get(volume.id) else { throw AshlarError.volumeNotFound(volume.id) }
            guard extendable.contains(now.status) else {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) status must be available (or in-use from microversion 3.42) to extend, but it is \(now.status.rawValue).")
            }
            throw try await env.quotaStore.refusal(projectID: volume.projectID, deltas: deltas, limits: limits)
        }
        CrashPoint.apiExtendMarked.reach()
        try await env.scheduler.extendVolume(.init(volumeID: volume.id, newSize: newSize), context: context.caller)
        context.logger.info("extend of volume \(volume.id) to \(newSize) GiB accepted")
    }

    /// `os-retype`: the volume goes to `retyping`, admitted against the new type's per-type quotas in the same
    /// statement (the totals do not change); the scheduler checks its backend satisfies the new type and the
    /// backend takes it. Refused as upstream: the same type, a change of encryption, of multiattach or of
    /// front-end QoS while attached, a type its group does not take.
    private func retype(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["new_type", "migration_policy"])
        guard let requested = try fields.string("new_type", nullable: false) ?? nil, !requested.isEmpty else {
            throw AshlarError(.invalidInput, "Invalid input received: 'new_type' is a required property.")
        }
        let policy: String = (try fields.string("migration_policy") ?? nil) ?? "never"
        guard ["never", "on-demand"].contains(policy) else {
            throw AshlarError(
                .invalidInput, "Invalid input received: migration_policy must be 'never' or 'on-demand' (got '\(policy)').")
        }
        let newType = try await volumes.resolveType(requested, context: context)
        guard newType.id != volume.volumeTypeID else {
            throw AshlarError(
                .invalidInput, "Invalid input received: New volume type must be different from the original (\(newType.name)).")
        }
        guard VolumeStateMachine.table[.retypeRequested].from.contains(volume.status), volume.host != nil else {
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) status must be available or in-use to be retyped, but it is \(volume.status.rawValue).")
        }
        if volume.isMigrating {
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) is being migrated (\(volume.migrationStatus ?? "")); retype it afterwards.")
        }
        let oldType = try await env.types.get(id: volume.volumeTypeID)
        let oldEncryption = try await env.types.encryption(ofType: volume.volumeTypeID)
        let newEncryption = try await env.types.encryption(ofType: newType.id)
        if (oldEncryption == nil) != (newEncryption == nil) || oldEncryption?.provider != newEncryption?.provider {
            throw AshlarError(.invalidInput, "Invalid input received: Retype cannot change encryption requirements.")
        }
        if volume.status == .inUse {
            if (oldType?.isMultiattach ?? false) != newType.isMultiattach {
                throw AshlarError(
                    .invalidInput, "Invalid input received: Retype of an attached volume cannot change multiattach.")
            }
            if try await frontEndQoS(oldType) != frontEndQoS(newType) {
                throw AshlarError(
                    .invalidInput, "Invalid input received: Retype cannot change front-end qos specs for in-use volume.")
            }
        }
        if let groupID = volume.groupID, let group = try await env.groups.get(groupID),
            !group.volumeTypeIDs.contains(newType.id)
        {
            throw AshlarError(
                .invalidInput, "Invalid input received: Volume \(volume.id) is in group \(groupID), which does not take volume type \(newType.name).")
        }
        // Only the new type's own resources grow: the volume is counted once overall either way.
        let limits = try await env.quotaStore.limits(projectID: volume.projectID).filter { key, _ in
            [QuotaResource.volumes, QuotaResource.gigabytes].map { QuotaResource.perType($0, typeName: newType.name) }
                .contains(key)
        }
        let deltas = QuotaDeltas.volume(size: volume.size, volumeTypeName: newType.name)
        var condition = VolumeCondition()
        if let quota = env.quotaStore.requirement(projectID: volume.projectID, deltas: deltas, limits: limits) {
            condition.requiring = [quota]
        }
        guard try await env.volumes.apply(.retypeRequested, to: volume.id, where: condition) != nil else {
            guard let now = try await env.volumes.get(volume.id) else { throw AshlarError.volumeNotFound(volume.id) }
            guard VolumeStateMachine.table[.retypeRequested].from.contains(now.status) else {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) status must be available or in-use to be retyped, but it is \(now.status.rawValue).")
            }
            throw try await env.quotaStore.refusal(projectID: volume.projectID, deltas: deltas, limits: limits)
        }
        do {
            try await env.scheduler.retype(
                .init(volumeID: volume.id, newTypeID: newType.id, migrationPolicy: policy), context: context.caller)
        } catch {
            context.logger.error("retype of volume \(volume.id) could not be handed to the scheduler: \(error)")
            try await env.volumes.apply(.retypeFailed, to: volume.id)
            throw AshlarError(
                .unavailable, "The scheduler could not be reached; the volume keeps its type, try again later.",
                underlying: error)
        }
        context.logger.info("retype of volume \(volume.id) to \(newType.name) accepted", metadata: ["migration_policy": "\(policy)"])
    }

    /// `os-migrate_volume` (administrators): to a named pool or backend of another backend, with a real copy of
    /// the data. The volume is in maintenance meanwhile and returns to its status wherever it ends up.
    private func migrate(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["host", "force_host_copy", "lock_volume", "cluster"])
        _ = try fields.bool("force_host_copy")
        _ = try fields.bool("lock_volume")
        if let cluster = try fields.string("cluster") ?? nil {
            throw AshlarError(
                .invalidInput, "Invalid input received: clusters are not used in this deployment (got cluster \(cluster)); name a host.")
        }
        guard let target = try fields.string("host", nullable: false) ?? nil, !target.isEmpty else {
            throw AshlarError(.invalidInput, "Invalid input received: 'host' is a required property.")
        }
        let backend = HostName.backend(of: target)
        let services = try await env.services.list(binary: ServiceRecord.volumeBinary)
        guard services.contains(where: { $0.host == backend }) else {
            throw AshlarError(.invalidInput, "Invalid host: No available service named '\(target)'.")
        }
        guard let current = volume.host else { throw AshlarError.invalidVolume("Volume \(volume.id) has no backend.") }
        if HostName.backend(of: current) == backend {
            throw AshlarError(.invalidInput, "Invalid host: Destination host must be different than the current host.")
        }
        if volume.status == .inUse {
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) is attached: moving an attached volume needs its compute host to swap it, which this deployment does not do; detach it first.")
        }
        if volume.groupID != nil {
            throw AshlarError.invalidVolume("Volume \(volume.id) is part of a group; remove it from the group to migrate it.")
        }
        if volume.isMigrating {
            throw AshlarError.invalidVolume("Volume \(volume.id) is already being migrated (\(volume.migrationStatus ?? "")).")
        }
        var update = VolumeUpdate()
        update.migrationStatus = .some("starting")
        guard
            try await env.volumes.apply(
                .migrationRequested, to: volume.id, where: VolumeCondition(hasNoSnapshots: true), also: update) != nil
        else {
            if try await !env.snapshots.of(volumeID: volume.id).isEmpty {
                throw AshlarError.invalidVolume("Volume \(volume.id) must not have snapshots to be migrated.")
            }
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) status must be available to be migrated, but it is \(try await env.volumes.get(volume.id)?.status.rawValue ?? "deleted").")
        }
        do {
            try await env.scheduler.migrateVolume(.init(volumeID: volume.id, host: target), context: context.caller)
        } catch {
            context.logger.error("migration of volume \(volume.id) could not be handed to the scheduler: \(error)")
            var undo = VolumeUpdate()
            undo.migrationStatus = .some(nil)
            try await env.volumes.apply(.migrationFailed, to: volume.id, also: undo)
            throw AshlarError(
                .unavailable, "The scheduler could not be reached; the volume stays where it is, try again later.",
                underlying: error)
        }
        context.logger.info("migration of volume \(volume.id) to \(target) accepted")
    }

    /// A type's QoS specs when the attaching host enforces them (consumer front-end or both), else nil.
    private func frontEndQoS(_ type: VolumeType?) async throws -> [String: String]? {
        guard let id = type?.qosSpecsID, let specs = try await env.qosSpecs.get(id: id), specs.isFrontEnd
        else { return nil }
        return specs.specs
    }

    /// `revert` (3.40): only to the volume's latest snapshot, of the same size; volume `reverting` and snapshot
    /// `restoring`, each by compare-and-swap (the first undone when the second fails).
    private func revert(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["snapshot_id"])
        guard let snapshotID = try fields.uuid("snapshot_id") ?? nil else {
            throw AshlarError(.invalidInput, "Invalid input received: 'snapshot_id' is a required property.")
        }
        guard let snapshot = try await env.snapshots.get(snapshotID, projectID: volume.projectID) else {
            throw AshlarError.snapshotNotFound(snapshotID)
        }
        guard snapshot.volumeID == volume.id, try await env.snapshots.of(volumeID: volume.id).first?.id == snapshot.id
        else {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Volume \(volume.id) can only be reverted to its latest snapshot, and \(snapshot.id) is not.")
        }
        guard snapshot.volumeSize == volume.size else {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Volume \(volume.id) has been extended since snapshot \(snapshot.id) was taken; it can only be reverted to a snapshot of its own size.")
        }
        // Checked before anything changes: a volume on no backend has nothing to revert.
        guard let host = volume.host else { throw AshlarError.invalidVolume("Volume \(volume.id) has no backend.") }
        guard
            try await env.volumes.apply(.revertRequested, to: volume.id) != nil
        else {
            throw AshlarError(
                .conflict, "Volume \(volume.id) status must be available to revert, but it is \(volume.status.rawValue).")
        }
        guard try await env.snapshots.apply(.restoreBegun, to: snapshot.id) != nil else {
            try await env.volumes.apply(.revertAbandoned, to: volume.id)
            throw AshlarError(
                .conflict, "Snapshot \(snapshot.id) status must be available to revert to it, but it is \(snapshot.status.rawValue).")
        }
        CrashPoint.apiRevertMarked.reach()
        try await env.volumeRPC.revertToSnapshot(
            host: host, .init(volumeID: volume.id, snapshotID: snapshot.id), context: context.caller)
    }

    private func change(_ volume: Volume, _ update: VolumeUpdate) async throws {
        guard try await env.volumes.update(volume.id, where: .init(statusNotIn: [.maintenance]), set: update) != nil
        else {
            throw AshlarError.invalidVolume("The volume is in maintenance.")
        }
    }

    /// `os-reset_status`: sets the fields directly, refusing `deleting` and statuses Cinder does not know.
    private func resetStatus(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["status", "attach_status", "migration_status"])
        let status = try fields.string("status", nullable: false) ?? nil
        let attach = try fields.string("attach_status", nullable: false) ?? nil
        let migration = try fields.string("migration_status") ?? nil
        if status == nil && attach == nil && !fields.has("migration_status") {
            throw AshlarError(
                .invalidInput,
                "Invalid input received: Must specify 'status', 'attach_status' or 'migration_status' for update.")
        }
        var update = VolumeUpdate()
        var chosen: VolumeStatus?
        if let status {
            let s = VolumeStatus(status.lowercased())
            guard VolumeStatus.all.contains(s), !VolumeTransitions.resetRefused.contains(s) else {
                throw AshlarError(
                    .invalidInput, "Invalid input received: Status '\(status)' cannot be set with os-reset_status.")
            }
            if s == .inUse {
                throw AshlarError(
                    .invalidInput,
                    "Invalid input received: Volume \(volume.id) cannot be set to in-use: it has no attachments.")
            }
            chosen = s
        }
        if let attach {
            let a = AttachStatus(attach.lowercased())
            guard a == .attached || a == .detached else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid input received: Must specify a valid attach status: attached or detached, not '\(attach)'."
                )
            }
            update.attachStatus = a
        }
        if fields.has("migration_status") {
            let allowed: Set<String> = ["migrating", "error", "success", "completing", "none", "starting"]
            if let migration, !allowed.contains(migration.lowercased()) {
                throw AshlarError(
                    .invalidInput, "Invalid input received: Must specify a valid migration status, not '\(migration)'.")
            }
            update.migrationStatus = .some(migration?.lowercased() == "none" ? nil : migration?.lowercased())
        }
        let changed =
            if let chosen {
                try await env.volumes.apply(.reset, to: volume.id, choosing: chosen, also: update)
            } else {
                try await env.volumes.update(volume.id, set: update)
            }
        guard changed != nil else {
            guard try await env.volumes.get(volume.id) != nil else { throw AshlarError.volumeNotFound(volume.id) }
            throw AshlarError.invalidVolume("Volume \(volume.id) is being deleted; its status cannot be reset.")
        }
        context.logger.info("volume \(volume.id) status reset", metadata: ["status": "\(status ?? "-")"])
    }
}

// MARK: - The legacy attach actions

/// The attach and detach actions Nova used before the attachments API (`cinder/api/contrib/volume_actions.py`,
/// `admin_actions.py`), each state change a compare-and-swap with Cinder's 400 when the volume is not in the
/// state it needs. `os-initialize_connection` exports the volume without an attachment row; `os-attach` records
/// the attachment; `os-detach` removes it and ends the connection once nothing else needs it, so the export goes
/// whichever of `os-detach` and `os-terminate_connection` comes last.
extension VolumeActionsController {
    /// `os-reserve`: `available` (a multiattach volume also `in-use`) → `attaching`.
    func reserve(_ volume: Volume) async throws {
        let event: VolumeEvent = volume.multiattach ? .legacyReservedMultiattach : .legacyReserved
        let allowed = VolumeStateMachine.table[event].from
        var condition = VolumeCondition()
        if !volume.multiattach { condition.requiring = [AttachmentStore.noOtherLiveAttachment(volumeID: volume.id)] }
        guard try await env.volumes.apply(event, to: volume.id, where: condition) != nil else {
            let now = try await env.volumes.get(volume.id)?.status ?? volume.status
            let expected = [VolumeStatus.available, .inUse].filter(allowed.contains).map(\.rawValue)
            throw AshlarError.invalidVolume(
                "Volume status must be \(expected.joined(separator: " or ")) to reserve, but the status is \(now.rawValue).")
        }
    }

    /// `os-unreserve`: `attaching` → what the attachments make it (`in-use` with one attached, else
    /// `available`); nothing to do in any other status.
    func unreserve(_ volume: Volume) async throws {
        try await env.volumes.settleAttachStatus(volume.id, statusIn: [.attaching])
    }

    /// `os-begin_detaching`: `in-use` and `attached` → `detaching`.
    func beginDetaching(_ volume: Volume) async throws {
        guard
            try await env.volumes.apply(
                .detachBegun, to: volume.id, where: .init(requiring: [VolumeStore.rowAttachStatus(is: .attached)]))
                != nil
        else {
            throw AshlarError.invalidVolume(
                "Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
        }
    }

    /// `os-initialize_connection`: the backend exports the volume for the connector and answers the connection
    /// info, nested under `data` as the legacy API has it, with `enforce_multipath`.
    func initializeConnection(
        _ volume: Volume, _ fields: Fields, _ context: APIRequestContext
    ) async throws -> [String: JSONValue] {
        try fields.rejectUnknown(["connector"])
        guard let connector = try AttachmentsController.connector(fields, "connector", required: true) else {
            throw AshlarError(.invalidInput, "Invalid input received: 'connector' is a required property.")
        }
        let host = try Self.attachable(volume)
        var info = try await env.volumeRPC.initializeConnection(
            host: host, .init(volumeID: volume.id, connector: connector, mode: volume.isReadOnly ? "ro" : "rw"),
            context: context.caller)
        info["enforce_multipath"] = .bool(Attachment.enforcesMultipath(connector))
        return info
    }

    /// `os-terminate_connection`: the backend ends the connection (the export goes once no live attachment
    /// needs it), then the volume is unreserved, as Cinder's API does.
    func terminateConnection(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["connector"])
        guard let connector = try AttachmentsController.connector(fields, "connector", required: true) else {
            throw AshlarError(.invalidInput, "Invalid input received: 'connector' is a required property.")
        }
        let host = try Self.attachable(volume)
        try await env.volumeRPC.terminateConnection(
            host: host, .init(volumeID: volume.id, connector: connector, attachmentID: nil), context: context.caller)
        try await unreserve(volume)
    }

    /// `os-attach`: records an `attached` attachment for an instance or a host and makes the volume
    /// `in-use`/`attached`. The volume goes first, by compare-and-swap from `available`, `attaching` or
    /// `reserved` (a multiattach volume also `in-use`; one that is not, only while it has no live attachment);
    /// the row follows, inserted only while that still holds. Attaching again to the same instance or host
    /// changes nothing.
    func attach(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(["instance_uuid", "host_name", "mountpoint", "mode"])
        let mountpoint = try fields.requiredString("mountpoint")
        let instanceUUID = try fields.uuid("instance_uuid") ?? nil
        let hostName = try fields.string("host_name") ?? nil
        let mode = (try fields.string("mode", nullable: false) ?? nil) ?? "rw"
        guard mode == "rw" || mode == "ro" else {
            throw Fields.invalid("mode", .string(mode), "'\(mode)' is not one of ['rw', 'ro'].")
        }
        if let instanceUUID, let hostName {
            throw AshlarError(
                .invalidInput,
                "Invalid request to attach volume to an instance \(instanceUUID) and a host \(hostName) simultaneously")
        }
        if instanceUUID == nil, hostName == nil {
            throw AshlarError(.invalidInput, "Invalid request to attach volume to an invalid target")
        }
        _ = try Self.attachable(volume)
        if volume.isReadOnly, mode != "ro" { throw AttachmentsController.invalidMode(mode, volume) }
        let existing = try await env.attachments.of(volumeID: volume.id)
        if existing.contains(where: {
            $0.status == .attached
                && (instanceUUID != nil ? $0.instanceUUID == instanceUUID : $0.instanceUUID == nil && $0.attachedHost == hostName)
        }) {
            return
        }
        let event: VolumeEvent = volume.multiattach ? .attachedMultiattach : .attached
        let allowed = VolumeStateMachine.table[event].from
        let alone = AttachmentStore.noOtherLiveAttachment(volumeID: volume.id)
        guard
            try await env.volumes.apply(
                event, to: volume.id, where: .init(requiring: volume.multiattach ? [] : [alone]),
                also: .init(attachStatus: .attached)) != nil
        else {
            let now = try await env.volumes.get(volume.id)?.status ?? volume.status
            if now == .inUse || allowed.contains(now) {
                throw AshlarError.invalidVolume("Volume \(volume.id) is already attached and is not multiattach.")
            }
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) status must be available, attaching or reserved to attach, but it is \(now.rawValue).")
        }
        let attachment = Attachment(
            volumeID: volume.id, projectID: volume.projectID, instanceUUID: instanceUUID, attachedHost: hostName,
            mountpoint: mountpoint, mode: mode, status: .attached, attachTime: Date())
        var requirements = [VolumeStore.volume(volume.id, statusIn: [.inUse])]
        if !volume.multiattach { requirements.append(alone) }
        guard try await env.attachments.insert(attachment, requiring: requirements) else {
            try await env.volumes.settleAttachStatus(volume.id, statusIn: [.inUse])
            throw AshlarError.invalidVolume("Volume \(volume.id) changed while it was being attached; try again.")
        }
        context.logger.info("volume \(volume.id) attached", metadata: ["attachment": "\(attachment.id)"])
    }

    /// `os-detach` and `os-force_detach`: ends the connection of the attachment named, or of the volume's only
    /// one (as the attachments API's delete does: a failure changes nothing), removes it and recomputes the
    /// volume's status. An attachment id that is not the volume's changes
    /// only the status (Cinder's `finish_detach`). `os-force_detach` (admin) also ends the connection when there
    /// is no attachment, and unreserves the volume, as Cinder's `terminate_connection` before its detach.
    func detach(_ volume: Volume, _ fields: Fields, force: Bool, _ context: APIRequestContext) async throws {
        try fields.rejectUnknown(force ? ["attachment_id", "connector"] : ["attachment_id"])
        let attachmentID = try fields.uuid("attachment_id") ?? nil
        let connector = force ? try AttachmentsController.connector(fields, "connector", required: false) : nil
        if volume.status == .maintenance { throw AshlarError.invalidVolume("The volume \(volume.id) is in maintenance.") }
        let attachments = try await env.attachments.of(volumeID: volume.id)
        let attachment: Attachment?
        if let attachmentID {
            attachment = attachments.first { $0.id == attachmentID }
        } else if attachments.count > 1 {
            throw AshlarError.invalidVolume("Detach volume failed: More than one attachment, but no attachment_id provided.")
        } else {
            attachment = attachments.first
        }
        if let host = volume.host, let attachment {
            // The volume service ends the connection and removes the attachment (rolled back if it cannot).
            try await env.volumeRPC.attachmentDelete(
                host: host,
                .init(attachmentID: attachment.id, volumeID: volume.id, connector: connector, tolerant: false),
                context: context.caller)
        } else {
            if let host = volume.host, force {
                try await env.volumeRPC.terminateConnection(
                    host: host, .init(volumeID: volume.id, connector: connector, attachmentID: nil),
                    context: context.caller)
            }
            if let attachment { try await env.attachments.delete(attachment.id) }
        }
        try await env.volumes.settleAttachStatus(volume.id)
        context.logger.info(
            "volume \(volume.id) detached", metadata: ["attachment": "\(attachment?.id ?? "-")", "force": "\(force)"])
    }

    /// The volume's backend, when the volume may be connected: not in maintenance, and placed.
    static func attachable(_ volume: Volume) throws(AshlarError) -> String {
        if volume.status == .maintenance { throw AshlarError.invalidVolume("The volume \(volume.id) is in maintenance.") }
        guard let host = volume.host else {
            throw AshlarError.invalidVolume("Volume \(volume.id) is on no backend; it cannot be connected.")
        }
        return host
    }
}
