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
        "os-reserve", "os-unreserve", "os-begin_detaching", "os-roll_detaching",
        "os-initialize_connection", "os-terminate_connection", "os-attach", "os-detach", "os-force_detach",
        "os-migrate_volume", "os-migrate_volume_completion", "os-extend_volume_completion", "os-volume_upload_image",
        "os-retype", "os-reimage", "os-unmanage",
    ]

    func act(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.json(context, limit: env.maxRequestBodySize)
        guard case .object(let top) = body, top.count == 1, let (action, argument) = top.first else {
            throw AshlarError(
                .invalidInput, "Malformed request body: an action body has exactly one key, the action's name.")
        }
        let volume = try await volumes.find(context)
        let fields = Fields(argument.objectValue ?? [:])
        if !argument.isNull, argument.objectValue == nil {
            throw AshlarError(
                .invalidInput,
                "Invalid input for field/attribute \(action). Value: \(argument.rendered). It must be an object.")
        }
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
        case "revert":
            try context.require(APIVersion(3, 40))
            try await revert(volume, fields, context)
            return JSONResponse.empty(.accepted)
        case "os-show_image_metadata":
            return JSONResponse.make(["metadata": .object(volume.imageMetadata.mapValues(JSONValue.string))])
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
        if volume.status == .inUse {
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) is in-use; extending an attached volume is not available yet in this Ashlar version.")
        }
        if let type = try await env.types.get(id: volume.volumeTypeID) { try volumes.checkTypeSizeLimits(type, size: newSize) }
        let limits = try await env.quotaStore.limits(projectID: volume.projectID)
        if let perVolume = limits[QuotaResource.perVolumeGigabytes], perVolume >= 0, newSize > perVolume {
            throw AshlarError(
                .overLimit,
                "VolumeSizeExceedsLimit: Requested volume size \(newSize)G is larger than maximum allowed limit \(perVolume)G.")
        }
        let deltas = QuotaDeltas(gigabytes: newSize - volume.size, volumeTypeName: volume.volumeTypeName)
        var condition = VolumeCondition(statusIn: VolumeTransitions.extendable)
        if let quota = env.quotaStore.requirement(projectID: volume.projectID, deltas: deltas, limits: limits) {
            condition.requiring = [quota]
        }
        guard
            try await env.volumes.update(
                volume.id, where: condition,
                set: .init(status: .extending, previousStatus: .some(volume.status.rawValue), extendTo: .some(newSize)))
                != nil
        else {
            guard let now = try await env.volumes.get(volume.id) else { throw AshlarError.volumeNotFound(volume.id) }
            guard VolumeTransitions.extendable.contains(now.status) else {
                throw AshlarError.invalidVolume(
                    "Volume \(volume.id) status must be available to extend, but it is \(now.status.rawValue).")
            }
            throw try await env.quotaStore.refusal(projectID: volume.projectID, deltas: deltas, limits: limits)
        }
        try await env.scheduler.extendVolume(.init(volumeID: volume.id, newSize: newSize), context: context.caller)
        context.logger.info("extend of volume \(volume.id) to \(newSize) GiB accepted")
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
        guard
            try await env.volumes.update(
                volume.id, where: .init(statusIn: [.available]), set: .init(status: .reverting)) != nil
        else {
            throw AshlarError(
                .conflict, "Volume \(volume.id) status must be available to revert, but it is \(volume.status.rawValue).")
        }
        guard try await env.snapshots.update(snapshot.id, statusIn: [.available], set: .init(status: .restoring)) != nil
        else {
            try await env.volumes.update(volume.id, where: .init(statusIn: [.reverting]), set: .init(status: .available))
            throw AshlarError(
                .conflict, "Snapshot \(snapshot.id) status must be available to revert to it, but it is \(snapshot.status.rawValue).")
        }
        guard let host = volume.host else { throw AshlarError.invalidVolume("Volume \(volume.id) has no backend.") }
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
            update.status = s
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
        guard try await env.volumes.update(volume.id, set: update) != nil else {
            throw AshlarError.volumeNotFound(volume.id)
        }
        context.logger.info("volume \(volume.id) status reset", metadata: ["status": "\(status ?? "-")"])
    }
}
