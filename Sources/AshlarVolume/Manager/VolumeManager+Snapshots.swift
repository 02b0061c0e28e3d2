import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension VolumeManager {
    /// Takes the snapshot on the backend: `creating` → `available` (progress 100%), or `error` with its quota
    /// released and a user message.
    func createSnapshot(_ snapshotID: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let snapshot = try await snapshots.get(snapshotID), snapshot.status == .creating else {
                log.info("create of snapshot \(snapshotID) skipped: it is gone or no longer creating")
                return
            }
            do {
                try await driver.createSnapshot(id: snapshot.id, volumeID: snapshot.volumeID)
            } catch {
                log.error("create of snapshot \(snapshot.id) failed: \(error)")
                try? await driver.deleteSnapshot(id: snapshot.id)
                try await snapshots.apply(.createFailed, to: snapshot.id)
                try await messages.insert(
                    UserMessage(
                        projectID: snapshot.projectID, requestID: context.requestID, resourceType: "VOLUME_SNAPSHOT",
                        resourceUUID: snapshot.id, eventID: "VOLUME_VOLUME_SNAPSHOT_004_015",
                        userMessage: "create snapshot: the backend failed to create the snapshot: \(Self.userReason(error))"))
                return
            }
            CrashPoint.volumeSnapshotMade.reach()
            if try await snapshots.apply(.created, to: snapshot.id, also: .init(progress: "100%")) == nil
            {
                // Deleted or reset while we worked: whatever we made must not outlive the row.
                if try await snapshots.get(snapshot.id) == nil { try await driver.deleteSnapshot(id: snapshot.id) }
            } else {
                log.info("snapshot \(snapshot.id) of volume \(snapshot.volumeID) created")
            }
        } catch {
            log.error("create of snapshot \(snapshotID) could not be completed: \(error)")
        }
    }

    /// Deletes the snapshot's data, then its row; a failure leaves it in `error_deleting` for a retry.
    func deleteSnapshot(_ snapshotID: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let snapshot = try await snapshots.get(snapshotID) else { return }
            guard snapshot.status == .deleting else {
                log.warning("delete of snapshot \(snapshotID) skipped: it is \(snapshot.status.rawValue), not deleting")
                return
            }
            do {
                try await driver.deleteSnapshot(id: snapshotID)
            } catch {
                log.error("delete of snapshot \(snapshotID) failed: \(error)")
                try await snapshots.apply(.deleteFailed, to: snapshotID)
                return
            }
            CrashPoint.volumeSnapshotDeleteRemoved.reach()
            try await snapshots.delete(snapshotID)
            log.info("snapshot \(snapshotID) deleted")
            try? await publishCapabilities()
        } catch {
            log.error("delete of snapshot \(snapshotID) could not be completed: \(error)")
        }
    }

    /// Grows the volume: `extending` → its previous status with the new size; on failure `error_extending`.
    /// Either way the pending size (and with it the quota held for it) is cleared in the same statement.
    func extend(_ args: VolumeRPC.ExtendVolume, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .extending else { return }
            do {
                try await driver.extendVolume(id: volume.id, newSizeGB: args.newSize)
            } catch {
                log.error("extend of volume \(volume.id) to \(args.newSize) GiB failed: \(error)")
                try await volumes.apply(.extendFailed, to: volume.id)
                try await messages.insert(
                    UserMessage(
                        projectID: volume.projectID, requestID: context.requestID, resourceType: "VOLUME",
                        resourceUUID: volume.id, eventID: "VOLUME_VOLUME_006_007",
                        userMessage: "extend volume: the backend failed to extend the volume: \(Self.userReason(error))"))
                return
            }
            CrashPoint.volumeExtendGrown.reach()
            let previous = VolumeStatus(volume.previousStatus ?? VolumeStatus.available.rawValue)
            if previous == .inUse { await refreshExport(of: volume.id) }
            try await volumes.apply(.extended, to: volume.id, also: .init(size: args.newSize))
            log.info("volume \(volume.id) extended", metadata: ["size_gb": "\(args.newSize)"])
            try? await publishCapabilities()
        } catch {
            log.error("extend of volume \(args.volumeID) could not be completed: \(error)")
        }
    }

    /// Makes the volume's data the snapshot's: volume `reverting` → `available`, snapshot `restoring` →
    /// `available`. On failure the volume goes to `error` (as upstream) and the snapshot back to `available`.
    func revert(_ args: VolumeRPC.RevertToSnapshot, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .reverting else { return }
            var reverted = true
            do {
                try await driver.revertVolume(id: volume.id, toSnapshot: args.snapshotID)
                CrashPoint.volumeRevertDone.reach()
                log.info("volume \(volume.id) reverted to snapshot \(args.snapshotID)")
            } catch {
                log.error("revert of volume \(volume.id) to snapshot \(args.snapshotID) failed: \(error)")
                reverted = false
                try await messages.insert(
                    UserMessage(
                        projectID: volume.projectID, requestID: context.requestID, resourceType: "VOLUME",
                        resourceUUID: volume.id, eventID: "VOLUME_VOLUME_009_012",
                        userMessage: "revert to snapshot: the backend failed to revert the volume: \(Self.userReason(error))"))
            }
            try await snapshots.apply(.restoreEnded, to: args.snapshotID)
            try await volumes.apply(reverted ? .reverted : .revertFailed, to: volume.id)
        } catch {
            log.error("revert of volume \(args.volumeID) could not be completed: \(error)")
        }
    }

    func logger(for context: CallerContext) -> Logger {
        var log = logger
        log[metadataKey: "request_id"] = "\(context.requestID)"
        return log
    }
}
