import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension SchedulerService {
    /// Checks that the volume's own pool satisfies the new type (every filter, the capacity it already holds
    /// not counted again) and hands the retype to its backend. When it does not, the volume returns to its
    /// previous status and the user is told which filter refused and why.
    func retype(_ args: SchedulerRPC.Retype, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .retyping,
                let host = volume.host
            else {
                log.warning("volume \(args.volumeID) is no longer retyping; the retype is dropped")
                return
            }
            guard let type = try await types.get(id: args.newTypeID) else {
                try await failRetype(volume, context: context, detail: "volume type \(args.newTypeID) no longer exists.")
                return
            }
            await waitForFirstReports()
            try await refreshUsableBackends()
            let spec = RequestSpec(
                volumeID: volume.id, size: 0, availabilityZone: volume.availabilityZone, volumeTypeName: type.name,
                extraSpecs: type.extraSpecs, resourceBackend: host)
            switch await hostManager.place(spec, with: scheduler) {
            case .chosen:
                log.info("volume \(volume.id) can take type \(type.name) on \(host)")
                try await VolumeRPC.Client(transport: transport).retype(
                    host: host, .init(volumeID: volume.id, newTypeID: type.id), context: context)
            case .noValidBackend(let rejections):
                let reasons = rejections.filter { $0.pool == host }.map(\.description)
                var detail = "the volume's backend \(host) does not satisfy volume type \(type.name)"
                detail += reasons.isEmpty ? " (no capability report from it has reached the scheduler)" : ": " + reasons.joined(separator: "; ")
                guard args.migrationPolicy == "on-demand" else {
                    try await failRetype(volume, context: context, detail: detail + ", and migration_policy is never.")
                    return
                }
                // On demand: another backend that satisfies the new type, and room for the whole volume.
                if volume.previousStatus == VolumeStatus.inUse.rawValue || volume.attachStatus != .detached {
                    try await failRetype(
                        volume, context: context,
                        detail: detail + "; an attached volume cannot move to another backend here (its compute host would have to swap it).")
                    return
                }
                if try await !snapshots.of(volumeID: volume.id).isEmpty {
                    try await failRetype(
                        volume, context: context, detail: detail + "; a volume with snapshots cannot move to another backend.")
                    return
                }
                var elsewhere = spec
                elsewhere.size = volume.size
                elsewhere.resourceBackend = nil
                elsewhere.attemptedHosts = [HostName.backend(of: host)]
                switch await hostManager.place(elsewhere, with: scheduler) {
                case .chosen(let pool):
                    try await handOver(volume, from: host, to: pool, newTypeID: type.id, context: context)
                case .noValidBackend(let others):
                    let why = others.filter { $0.filter != "Retry" }.map(\.description)
                    try await failRetype(
                        volume, context: context,
                        detail: detail + "; no other backend can take it either"
                            + (why.isEmpty ? "." : ": " + why.joined(separator: "; ") + "."))
                }
            }
        } catch {
            log.error("retype of volume \(args.volumeID) failed: \(error)")
            if let volume = try? await volumes.get(args.volumeID), volume.status == .retyping {
                try? await failRetype(volume, context: context, detail: "the scheduler could not decide.")
            }
        }
    }

    /// `os-migrate_volume`: checks that the named pool (or backend) can take the volume as its type asks, then
    /// hands the move to it; when it cannot, the volume leaves maintenance where it was and the user is told why.
    func migrateVolume(_ args: SchedulerRPC.MigrateVolume, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let volume = try await volumes.get(args.volumeID), volume.status == .maintenance,
                volume.migrationStatus == "starting", let host = volume.host
            else {
                log.warning("volume \(args.volumeID) is no longer waiting to migrate; the migration is dropped")
                return
            }
            await waitForFirstReports()
            try await refreshUsableBackends()
            let type = try await types.get(id: volume.volumeTypeID)
            let spec = RequestSpec(
                volumeID: volume.id, size: volume.size, volumeTypeName: type?.name, extraSpecs: type?.extraSpecs ?? [:],
                resourceBackend: args.host)
            switch await hostManager.place(spec, with: scheduler) {
            case .chosen(let pool):
                try await handOver(volume, from: host, to: pool, newTypeID: nil, context: context)
            case .noValidBackend(let rejections):
                let why = rejections.filter { $0.filter != "ResourceBackend" }.map(\.description)
                try await failMigration(
                    volume, context: context,
                    detail: "\(args.host) cannot take the volume"
                        + (why.isEmpty ? " (no capability report from it has reached the scheduler)." : ": " + why.joined(separator: "; ") + "."))
            }
        } catch {
            log.error("migration of volume \(args.volumeID) failed: \(error)")
        }
    }

    /// Records that the move is under way and casts it to the destination's volume service, which copies the
    /// data and takes the volume over in one statement.
    private func handOver(
        _ volume: Volume, from host: String, to pool: PoolState, newTypeID: String?, context: CallerContext
    ) async throws {
        var update = VolumeUpdate()
        update.migrationStatus = .some("migrating")
        // Where it goes, so that the source's recovery can tell the destination to drop a half-made copy.
        update.adminMetadata = volume.adminMetadata.merging([Volume.migrationTargetKey: pool.name]) { _, new in new }
        guard
            try await volumes.update(
                volume.id, where: .init(statusIn: [volume.status], hostEquals: .some(host)), set: update) != nil
        else { return }
        logger.info(
            "volume \(volume.id) moves from \(host) to \(pool.name)", metadata: ["request_id": "\(context.requestID)"])
        try await VolumeRPC.Client(transport: transport).migrateVolumeIn(
            host: pool.name,
            .init(volumeID: volume.id, sourceHost: host, destinationHost: pool.name, newTypeID: newTypeID),
            context: context)
    }

    private func failMigration(_ volume: Volume, context: CallerContext, detail: String) async throws {
        logger.warning("migration of volume \(volume.id) refused: \(detail)", metadata: ["request_id": "\(context.requestID)"])
        var update = VolumeUpdate()
        update.migrationStatus = .some("error")
        guard try await volumes.apply(.migrationFailed, to: volume.id, also: update) != nil else { return }
        try await messages.insert(
            projectID: volume.projectID, requestID: context.requestID, resourceType: "VOLUME", resourceID: volume.id,
            eventID: "VOLUME_VOLUME_001_003", "migrate volume: \(detail) The volume stays where it was.")
    }

    private func failRetype(_ volume: Volume, context: CallerContext, detail: String) async throws {
        logger.warning("retype of volume \(volume.id) refused: \(detail)", metadata: ["request_id": "\(context.requestID)"])
        guard try await volumes.apply(.retypeFailed, to: volume.id) != nil else { return }
        try await messages.insert(
            projectID: volume.projectID, requestID: context.requestID, resourceType: "VOLUME", resourceID: volume.id,
            eventID: "VOLUME_VOLUME_001_003", "retype volume: \(detail) The volume keeps its type.")
    }
}
