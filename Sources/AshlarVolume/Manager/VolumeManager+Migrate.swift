import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension VolumeManager {
    /// `migrate_volume_in`, on the destination: copies the volume's data from its current backend into a volume
    /// of this one, then, in one statement that still finds the volume migrating from there, moves it here (with
    /// the new type of a retype) and asks the source to remove its copy. Whatever fails leaves the volume where it
    /// was, its status as before the move, `migration_status` error and a user message saying why.
    func migrateIn(_ args: VolumeRPC.MigrateVolumeIn, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.host == args.sourceHost,
                volume.migrationStatus == "migrating", volume.status == .maintenance || volume.status == .retyping
            else {
                log.info("move of volume \(args.volumeID) skipped: it is no longer moving from \(args.sourceHost)")
                return
            }
            do {
                let source = try await VolumeRPC.Client(transport: transport).sourceForCopy(
                    host: args.sourceHost, .init(volumeID: volume.id), context: context)
                // The data path this version has: both backends on one node, the source's data readable here.
                guard source.node == HostName.node(of: host), FileManager.default.isReadableFile(atPath: source.localPath)
                else {
                    throw AshlarError(
                        .invalidInput,
                        "moving a volume between nodes (\(HostName.node(of: args.sourceHost)) to \(HostName.node(of: host))) is not available in this Ashlar version; move it to a backend of the same node")
                }
                try await copyKeepingFresh(volume.id) {
                    try await driver.createVolume(id: volume.id, sizeGB: volume.size, copyingFile: source.localPath)
                }
            } catch {
                log.error("move of volume \(volume.id) to \(host) failed: \(error)")
                try? await driver.deleteVolume(id: volume.id)
                try await failMove(volume, context: context, reason: Self.userReason(error))
                return
            }
            let event: VolumeEvent = volume.status == .retyping ? .retyped : .migrated
            var update = VolumeUpdate(host: .some(args.destinationHost), availabilityZone: availabilityZone)
            update.migrationStatus = .some("success")
            update.adminMetadata = volume.adminMetadata.filter { $0.key != Volume.migrationTargetKey }
            if let typeID = args.newTypeID, let type = try await types.get(id: typeID) {
                update.volumeTypeID = type.id
                update.multiattach = type.isMultiattach
            }
            var condition = VolumeCondition(hostEquals: .some(args.sourceHost))
            condition.migrationStatusEquals = "migrating"
            guard try await volumes.apply(event, to: volume.id, where: condition, also: update) != nil else {
                // Given up on meanwhile (recovery, a reset): the copy here must not outlive the decision.
                try await driver.deleteVolume(id: volume.id)
                log.warning("volume \(volume.id) stopped moving while its data was copied; the copy is removed")
                return
            }
            log.info("volume \(volume.id) moved from \(args.sourceHost) to \(args.destinationHost)")
            try? await publishCapabilities()
            try await VolumeRPC.Client(transport: transport).removeStrayCopy(
                host: args.sourceHost, .init(volumeID: volume.id), context: context)
        } catch {
            log.error("move of volume \(args.volumeID) could not be completed: \(error)")
        }
    }

    /// The volume back where it was: the status it had, `migration_status` error, and a user message.
    func failMove(_ volume: Volume, context: CallerContext, reason: String) async throws {
        let retype = volume.status == .retyping
        var update = VolumeUpdate()
        update.migrationStatus = .some("error")
        update.adminMetadata = volume.adminMetadata.filter { $0.key != Volume.migrationTargetKey }
        guard try await volumes.apply(retype ? .retypeFailed : .migrationFailed, to: volume.id, also: update) != nil
        else { return }
        await tell(volume.projectID, "VOLUME", volume.id, eventID: "VOLUME_VOLUME_001_003", "\(retype ? "retype" : "migrate") volume: the volume could not be moved: \(reason) It stays where it was\(retype ? ", with its type" : "").", context: context)
    }

    /// `source_for_copy`, on the source: where this backend keeps the volume's data. Only for a volume moving
    /// away from here.
    func sourceForCopy(_ args: VolumeRPC.VolumeArgs) async throws -> VolumeRPC.CopySource {
        guard let volume = try await volumes.get(args.volumeID), volume.migrationStatus == "migrating",
            let volumeHost = volume.host, volumeHost.hasPrefix(host + "#")
        else {
            throw AshlarError(.invalidState, "volume \(args.volumeID) is not moving away from \(host)")
        }
        return .init(node: HostName.node(of: host), localPath: driver.localPath(forVolume: volume.id))
    }

    /// `remove_stray_copy`: a copy of a volume that does not live on this backend (the source's, once the volume
    /// moved; the destination's, once a move was given up) goes. A volume that lives here keeps its data, whatever
    /// the message says.
    func removeStrayCopy(_ args: VolumeRPC.VolumeArgs, context: CallerContext) async {
        let log = logger(for: context)
        do {
            let volume = try await volumes.get(args.volumeID)
            if let now = volume?.host, now.hasPrefix(host + "#") {
                log.warning("copy of volume \(args.volumeID) kept: the volume lives here")
                return
            }
            try await driver.deleteVolume(id: args.volumeID)
            log.info("stray copy of volume \(args.volumeID) removed (it lives on \(volume?.host ?? "no backend"))")
            try? await publishCapabilities()
        } catch {
            log.error("removing the stray copy of volume \(args.volumeID) failed: \(error)")
        }
    }

    /// Runs a long copy while touching the volume's row every half `stale_operation_timeout`, so that the sweep
    /// of the source does not take a move in progress for one that was abandoned.
    func copyKeepingFresh(_ volumeID: String, _ copy: @escaping @Sendable () async throws -> Void) async throws {
        let interval = staleAfter / 2
        let volumes = self.volumes
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await copy() }
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)
                    var condition = VolumeCondition()
                    condition.migrationStatusEquals = "migrating"
                    _ = try? await volumes.update(volumeID, where: condition, set: VolumeUpdate())
                }
            }
            // The copy ends first (or throws); the toucher is cancelled with it.
            try await group.next()
            group.cancelAll()
        }
    }

    /// Recovery, on the source, of a move the sweep finds abandoned: the volume stays here with its status as
    /// before and `migration_status` error, and the destination is told to drop whatever it copied.
    func abandonMove(_ volume: Volume, context: CallerContext) async throws {
        try await failMove(volume, context: context, reason: "the move was interrupted.")
        if let target = volume.adminMetadata[Volume.migrationTargetKey] {
            try? await VolumeRPC.Client(transport: transport).removeStrayCopy(
                host: target, .init(volumeID: volume.id), context: context)
        }
    }
}
