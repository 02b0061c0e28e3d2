import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension VolumeManager {
    /// `create_group`: the file backend keeps no state of its own for a group, so a new group is ready at once;
    /// a group made from a group snapshot or another group has its members made here first (each a copy of its
    /// source on this backend). The group then settles to `available`, or `error` if a member failed.
    func createGroup(_ groupID: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let group = try await groups.get(groupID), group.status == .creating else {
                log.info("create of group \(groupID) skipped: it is gone or no longer creating")
                return
            }
            for volume in try await volumes.members(ofGroup: groupID) where volume.status == .creating {
                let spec = RequestSpec(volumeID: volume.id, size: volume.size, resourceBackend: volume.host)
                await inFlight.during(volume.id) {
                    await create(.init(volumeID: volume.id, requestSpec: spec, allowReschedule: false), context: context)
                }
            }
            switch try await groups.settleCreate(groupID) {
            case .available?: log.info("group \(groupID) created")
            case .error?:
                log.warning("group \(groupID) failed: a member volume could not be made")
                await tell(group.projectID, "VOLUME_GROUP", groupID, eventID: "VOLUME_GROUP_002_009", "create group: a volume of the group could not be made; see the volumes' messages.", context: context)
            default: log.info("group \(groupID) changed during create; left as it is")
            }
        } catch {
            log.error("create of group \(groupID) could not be completed: \(error)")
        }
    }

    /// `delete_group`: deletes every member volume (data, then row), then the group; a member that cannot be
    /// deleted leaves the group in `error_deleting` for a retry.
    func deleteGroup(_ groupID: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let group = try await groups.get(groupID), group.status == .deleting else {
                log.info("delete of group \(groupID) skipped: it is gone or not deleting")
                return
            }
            // Members the API did not get to mark (it stopped between its two statements) are marked now.
            try await volumes.markDeleting(ofGroup: groupID)
            for volume in try await volumes.members(ofGroup: groupID)
            where volume.status == .deleting || volume.status == .errorManagingDeleting {
                await inFlight.during(volume.id) { await delete(volume.id, context: context) }
            }
            if try await groups.settleDelete(groupID) {
                log.info("group \(groupID) deleted")
            } else if try await groups.apply(.deleteFailed, to: groupID) != nil {
                log.warning("group \(groupID) still has volumes that could not be deleted; left error_deleting")
                await tell(group.projectID, "VOLUME_GROUP", groupID, eventID: "VOLUME_GROUP_003_009", "delete group: some volumes of the group could not be deleted; delete the group again.", context: context)
            }
        } catch {
            log.error("delete of group \(groupID) could not be completed: \(error)")
        }
    }

    /// `create_group_snapshot`: takes every member snapshot in one pass with nothing between the backend's
    /// copies (reflinks, each a point-in-time image of its volume), then records them; the group snapshot settles
    /// to `available`, or `error` if a member failed (its quota goes back).
    func createGroupSnapshot(_ id: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let groupSnapshot = try await groupSnapshots.get(id), groupSnapshot.status == .creating else {
                log.info("create of group snapshot \(id) skipped: it is gone or no longer creating")
                return
            }
            let members = try await snapshots.members(ofGroupSnapshot: id).filter { $0.status == .creating }
            var failed = Set<String>()
            for snapshot in members {
                do {
                    try await driver.createSnapshot(id: snapshot.id, volumeID: snapshot.volumeID)
                } catch {
                    log.error("snapshot \(snapshot.id) of group snapshot \(id) failed: \(error)")
                    failed.insert(snapshot.id)
                }
            }
            for snapshot in members {
                if failed.contains(snapshot.id) {
                    try? await driver.deleteSnapshot(id: snapshot.id)
                    try await snapshots.apply(.createFailed, to: snapshot.id)
                } else if try await snapshots.apply(.created, to: snapshot.id, also: .init(progress: "100%")) == nil,
                    try await snapshots.get(snapshot.id) == nil
                {
                    try await driver.deleteSnapshot(id: snapshot.id)  // deleted while we worked
                }
            }
            switch try await groupSnapshots.settleCreate(id) {
            case .available?: log.info("group snapshot \(id) of group \(groupSnapshot.groupID) created")
            case .error?:
                await tell(groupSnapshot.projectID, "VOLUME_GROUP_SNAPSHOT", id, eventID: "VOLUME_GROUP_SNAPSHOT_004_015", "create group snapshot: the backend failed to take a snapshot of the group; delete the group snapshot and try again.", context: context)
            default: break
            }
        } catch {
            log.error("create of group snapshot \(id) could not be completed: \(error)")
        }
    }

    /// `delete_group_snapshot`: deletes every member snapshot, then the group snapshot; a member that cannot be
    /// deleted leaves it in `error_deleting` for a retry.
    func deleteGroupSnapshot(_ id: String, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let groupSnapshot = try await groupSnapshots.get(id), groupSnapshot.status == .deleting else {
                log.info("delete of group snapshot \(id) skipped: it is gone or not deleting")
                return
            }
            try await snapshots.markDeleting(ofGroupSnapshot: id)
            for snapshot in try await snapshots.members(ofGroupSnapshot: id) where snapshot.status == .deleting {
                await inFlight.during(snapshot.id) { await deleteSnapshot(snapshot.id, context: context) }
            }
            if try await groupSnapshots.settleDelete(id) {
                log.info("group snapshot \(id) deleted")
            } else if try await groupSnapshots.apply(.deleteFailed, to: id) != nil {
                await tell(groupSnapshot.projectID, "VOLUME_GROUP_SNAPSHOT", id, eventID: "VOLUME_GROUP_SNAPSHOT_005_009", "delete group snapshot: some snapshots could not be deleted; delete the group snapshot again.", context: context)
            }
        } catch {
            log.error("delete of group snapshot \(id) could not be completed: \(error)")
        }
    }

    /// Recovery of this backend's groups and group snapshots left creating or deleting (after their members'
    /// own recovery): each operation is done again, which settles them.
    func recoverGroups(context: CallerContext, stale: (String, Date) -> Bool) async throws {
        for groupSnapshot in try await groupSnapshots.onBackend(host, statusIn: GroupSnapshotStateMachine.transitional)
        where stale(groupSnapshot.id, groupSnapshot.updatedAt ?? groupSnapshot.createdAt) {
            logger.warning("group snapshot \(groupSnapshot.id) was left \(groupSnapshot.status.rawValue); finishing it")
            await inFlight.during(groupSnapshot.id) {
                if groupSnapshot.status == .creating {
                    await createGroupSnapshot(groupSnapshot.id, context: context)
                } else {
                    await deleteGroupSnapshot(groupSnapshot.id, context: context)
                }
            }
        }
        for group in try await groups.onBackend(host, statusIn: GroupStateMachine.transitional)
        where stale(group.id, group.updatedAt ?? group.createdAt) {
            logger.warning("group \(group.id) was left \(group.status.rawValue); finishing it")
            await inFlight.during(group.id) {
                if group.status == .creating {
                    await createGroup(group.id, context: context)
                } else {
                    await deleteGroup(group.id, context: context)
                }
            }
        }
    }
}
