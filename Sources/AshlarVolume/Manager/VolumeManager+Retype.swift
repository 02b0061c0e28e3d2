import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension VolumeManager {
    /// Takes the new type in place: the file backend keeps nothing per type, so the volume's data stays as it
    /// is; the type (and the multiattach flag that follows it) and the previous status are set in one statement.
    func retype(_ args: VolumeRPC.Retype, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .retyping else {
                log.info("retype of volume \(args.volumeID) skipped: it is gone or no longer retyping")
                return
            }
            guard let type = try await types.get(id: args.newTypeID) else {
                try await volumes.apply(.retypeFailed, to: volume.id)
                await tell(volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_001_003", "retype volume: volume type \(args.newTypeID) no longer exists. The volume keeps its type.", context: context)
                return
            }
            var update = VolumeUpdate()
            update.volumeTypeID = type.id
            update.multiattach = type.isMultiattach
            if try await volumes.apply(.retyped, to: volume.id, also: update) != nil {
                log.info("volume \(volume.id) retyped to \(type.name)")
            } else {
                log.info("volume \(volume.id) changed during retype; left as it is")
            }
        } catch {
            log.error("retype of volume \(args.volumeID) could not be completed: \(error)")
        }
    }
}
