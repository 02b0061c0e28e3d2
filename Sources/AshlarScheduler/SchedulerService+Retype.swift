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
        var log = logger
        log[metadataKey: "request_id"] = "\(context.requestID)"
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
                detail += args.migrationPolicy == "on-demand"
                    ? "; moving a volume to another backend is not available in this Ashlar version."
                    : ", and migration_policy is never."
                try await failRetype(volume, context: context, detail: detail)
            }
        } catch {
            log.error("retype of volume \(args.volumeID) failed: \(error)")
            if let volume = try? await volumes.get(args.volumeID), volume.status == .retyping {
                try? await failRetype(volume, context: context, detail: "the scheduler could not decide.")
            }
        }
    }

    private func failRetype(_ volume: Volume, context: CallerContext, detail: String) async throws {
        logger.warning("retype of volume \(volume.id) refused: \(detail)", metadata: ["request_id": "\(context.requestID)"])
        guard try await volumes.apply(.retypeFailed, to: volume.id) != nil else { return }
        try await messages.insert(
            UserMessage(
                projectID: volume.projectID, requestID: context.requestID, resourceType: "VOLUME",
                resourceUUID: volume.id, eventID: "VOLUME_VOLUME_001_003",
                userMessage: "retype volume: \(detail) The volume keeps its type."))
    }
}
