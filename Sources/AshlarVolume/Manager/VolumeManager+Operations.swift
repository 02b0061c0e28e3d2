import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension VolumeManager {
    /// Creates the volume on the backend. On a driver failure the volume goes back to the scheduler for another
    /// backend while attempts remain, else to `error` with a user message.
    func create(_ args: VolumeRPC.CreateVolume, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), [.creating, .downloading].contains(volume.status)
            else {
                log.info("create of volume \(args.volumeID) skipped: it is gone or no longer creating")
                return
            }
            var finish = VolumeUpdate(launchedAt: Date())
            do {
                if let imageID = volume.adminMetadata[Volume.imageSourceKey] {
                    guard let image = try await createFromImage(volume, imageID: imageID, context: context) else { return }
                    finish.bootable = true
                    finish.imageMetadata = image.volumeImageMetadata
                    var admin = volume.adminMetadata
                    admin[Volume.imageSourceKey] = nil
                    finish.adminMetadata = admin
                } else if let snapshotID = volume.snapshotID {
                    try await driver.createVolume(id: volume.id, sizeGB: volume.size, fromSnapshot: snapshotID)
                    CrashPoint.volumeFromSnapshotMade.reach()
                } else if let sourceID = volume.sourceVolumeID {
                    try await driver.createVolume(id: volume.id, sizeGB: volume.size, cloneOf: sourceID)
                    CrashPoint.volumeCloneMade.reach()
                } else {
                    try await driver.createVolume(id: volume.id, sizeGB: volume.size)
                    CrashPoint.volumeCreateMade.reach()
                }
            } catch {
                log.error("create of volume \(volume.id) failed: \(error)")
                try? await driver.deleteVolume(id: volume.id)
                // A copy can only be made where its source lives: another backend would fail the same way; nor can
                // an image that is refused for what it is.
                let copy = volume.snapshotID != nil || volume.sourceVolumeID != nil
                    || volume.adminMetadata[Volume.imageSourceKey] != nil
                if args.allowReschedule && !copy {
                    var spec = args.requestSpec
                    spec.attemptedHosts.append(host)
                    // Given back to the scheduler unplaced, as upstream does: only an unplaced volume is placed.
                    guard
                        try await volumes.update(
                            volume.id, where: .init(statusIn: [.creating], hostEquals: .some(volume.host)),
                            set: .init(host: .some(nil))) != nil
                    else { return }
                    try await scheduler.createVolume(.init(volumeID: volume.id, requestSpec: spec), context: context)
                } else {
                    try await fail(volume, context: context, reason: Self.userReason(error))
                }
                return
            }
            let done = try await volumes.apply(.created, to: volume.id, also: finish)
            if done == nil {
                // Deleted or reset while we worked: whatever we made must not outlive the row.
                if try await volumes.get(volume.id) == nil { try await driver.deleteVolume(id: volume.id) }
                log.info("volume \(volume.id) changed during create; left as it is")
            } else {
                log.info("volume \(volume.id) created", metadata: ["size_gb": "\(volume.size)"])
            }
        } catch {
            log.error("create of volume \(args.volumeID) could not be completed: \(error)")
        }
    }

    private func fail(_ volume: Volume, context: CallerContext, reason: String) async throws {
        let fromImage = volume.adminMetadata[Volume.imageSourceKey] != nil
        try await volumes.failCreate(
            volume, messages: messages, requestID: context.requestID,
            eventID: fromImage ? "VOLUME_VOLUME_005_001" : "VOLUME_VOLUME_003_009",
            message: fromImage
                ? "copy image to volume: the volume could not be made from image \(volume.adminMetadata[Volume.imageSourceKey] ?? ""): \(reason)"
                : "create volume from backend storage: the backend failed to create the volume: \(reason)")
    }

    /// What a user message says of a failure: the person-written message of a request that cannot be done, never
    /// a driver's or the system's own text (paths, errno, hosts), which goes to the log.
    static func userReason(_ error: any Error) -> String {
        if let error = error as? AshlarError, [.invalidInput, .invalidState, .notFound, .overLimit].contains(error.code) {
            return error.message
        }
        return "the storage reported an error; an administrator can find it in the volume service's log."
    }

    /// Deletes the volume's data, then its row. A failure leaves it in `error_deleting` for a retry.
    func delete(_ volumeID: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            // A stale or repeated message must not destroy the data of a volume that is no longer being deleted.
            if let volume = try await volumes.get(volumeID),
                volume.status != .deleting && volume.status != .errorManagingDeleting
            {
                log.warning("delete of volume \(volumeID) skipped: it is \(volume.status.rawValue), not deleting")
                return
            }
            do {
                // A cascading delete takes the snapshots first; without cascade the API let none remain.
                for snapshot in try await snapshots.of(volumeID: volumeID) {
                    try await driver.deleteSnapshot(id: snapshot.id)
                    try await snapshots.delete(snapshot.id)
                }
                try await driver.deleteVolume(id: volumeID)
            } catch {
                log.error("delete of volume \(volumeID) failed: \(error)")
                try await volumes.apply(.deleteFailed, to: volumeID)
                return
            }
            CrashPoint.volumeDeleteRemoved.reach()
            try await attachments.deleteAll(ofVolume: volumeID)
            try await volumes.delete(volumeID, expected: [.deleting, .errorManagingDeleting])
            log.info("volume \(volumeID) deleted")
            try? await publishCapabilities()
        } catch {
            log.error("delete of volume \(volumeID) could not be completed: \(error)")
        }
    }
}

/// The RPC face of a volume manager.
struct VolumeEndpoint: RPCEndpoint {
    let manager: VolumeManager

    func handle(_ message: RPCMessage) async throws -> Data? {
        switch message.method {
        case VolumeRPC.Method.createVolume:
            let args = try message.arguments(VolumeRPC.CreateVolume.self)
            await manager.inFlight.during(args.volumeID) { await manager.create(args, context: message.context) }
            return nil
        case VolumeRPC.Method.deleteVolume:
            let id = try message.arguments(VolumeRPC.DeleteVolume.self).volumeID
            await manager.inFlight.during(id) { await manager.delete(id, context: message.context) }
            return nil
        case VolumeRPC.Method.createSnapshot:
            let id = try message.arguments(VolumeRPC.SnapshotArgs.self).snapshotID
            await manager.inFlight.during(id) { await manager.createSnapshot(id, context: message.context) }
            return nil
        case VolumeRPC.Method.deleteSnapshot:
            let id = try message.arguments(VolumeRPC.SnapshotArgs.self).snapshotID
            await manager.inFlight.during(id) { await manager.deleteSnapshot(id, context: message.context) }
            return nil
        case VolumeRPC.Method.migrateVolumeIn:
            let args = try message.arguments(VolumeRPC.MigrateVolumeIn.self)
            await manager.inFlight.during(args.volumeID) { await manager.migrateIn(args, context: message.context) }
            return nil
        case VolumeRPC.Method.sourceForCopy:
            return try RPCCoding.encoder.encode(
                try await manager.sourceForCopy(try message.arguments(VolumeRPC.VolumeArgs.self)))
        case VolumeRPC.Method.removeStrayCopy:
            await manager.removeStrayCopy(try message.arguments(VolumeRPC.VolumeArgs.self), context: message.context)
            return nil
        case VolumeRPC.Method.copyVolumeToImage:
            let args = try message.arguments(VolumeRPC.CopyVolumeToImage.self)
            await manager.inFlight.during(args.volumeID) { await manager.copyVolumeToImage(args, context: message.context) }
            return nil
        case VolumeRPC.Method.retype:
            let args = try message.arguments(VolumeRPC.Retype.self)
            await manager.inFlight.during(args.volumeID) { await manager.retype(args, context: message.context) }
            return nil
        case VolumeRPC.Method.createGroup:
            let id = try message.arguments(VolumeRPC.GroupArgs.self).groupID
            await manager.inFlight.during(id) { await manager.createGroup(id, context: message.context) }
            return nil
        case VolumeRPC.Method.deleteGroup:
            let id = try message.arguments(VolumeRPC.GroupArgs.self).groupID
            await manager.inFlight.during(id) { await manager.deleteGroup(id, context: message.context) }
            return nil
        case VolumeRPC.Method.createGroupSnapshot:
            let id = try message.arguments(VolumeRPC.GroupSnapshotArgs.self).groupSnapshotID
            await manager.inFlight.during(id) { await manager.createGroupSnapshot(id, context: message.context) }
            return nil
        case VolumeRPC.Method.deleteGroupSnapshot:
            let id = try message.arguments(VolumeRPC.GroupSnapshotArgs.self).groupSnapshotID
            await manager.inFlight.during(id) { await manager.deleteGroupSnapshot(id, context: message.context) }
            return nil
        case VolumeRPC.Method.extendVolume:
            let args = try message.arguments(VolumeRPC.ExtendVolume.self)
            await manager.inFlight.during(args.volumeID) { await manager.extend(args, context: message.context) }
            return nil
        case VolumeRPC.Method.revertToSnapshot:
            let args = try message.arguments(VolumeRPC.RevertToSnapshot.self)
            await manager.inFlight.during(args.volumeID) { await manager.revert(args, context: message.context) }
            return nil
        case VolumeRPC.Method.initializeConnection:
            let info = try await manager.initializeConnection(
                try message.arguments(VolumeRPC.InitializeConnection.self), context: message.context)
            return try RPCCoding.encoder.encode(info)
        case VolumeRPC.Method.attachmentUpdate:
            let args = try message.arguments(VolumeRPC.AttachmentUpdate.self)
            let info = try await manager.inFlight.during(args.attachmentID) {
                try await manager.attachmentUpdate(args, context: message.context)
            }
            return try RPCCoding.encoder.encode(info)
        case VolumeRPC.Method.attachmentDelete:
            let args = try message.arguments(VolumeRPC.AttachmentDelete.self)
            try await manager.inFlight.during(args.attachmentID) {
                try await manager.attachmentDelete(args, context: message.context)
            }
            return try RPCCoding.encoder.encode([String: String]())
        case VolumeRPC.Method.doCleanup:
            // Everything no operation of this service is working on, however recent.
            await manager.recoverInterruptedWork(olderThan: Date())
            return nil
        case VolumeRPC.Method.terminateConnection:
            try await manager.terminateConnection(
                try message.arguments(VolumeRPC.TerminateConnection.self), context: message.context)
            return try RPCCoding.encoder.encode([String: String]())
        case VolumeRPC.Method.publishServiceCapabilities:
            try await manager.publishCapabilities()
            return nil
        case VolumeRPC.Method.getCapabilities:
            return try RPCCoding.encoder.encode(try await manager.currentCapabilities())
        default:
            throw AshlarError(.invalidInput, "The volume service has no method \(message.method).")
        }
    }
}
