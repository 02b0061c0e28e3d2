import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension SchedulerService {
    /// Places a new group on one backend that can take every one of its volume types (each type's extra specs
    /// filtered as for a volume of it), records it, and casts the create to that backend; when none can, the
    /// group goes to `error` with a user message that says why.
    func createGroup(_ args: VolumeRPC.GroupArgs, context: CallerContext) async {
        let log = logger(for: context)
        do {
            guard let group = try await groups.get(args.groupID), group.status == .creating, group.host == nil else {
                log.warning("group \(args.groupID) is gone, placed or not creating; not scheduled")
                return
            }
            await waitForFirstReports()
            try await refreshUsableBackends()
            var backend: String?
            var zone = group.availabilityZone
            for typeID in group.volumeTypeIDs {
                let type = try await types.get(id: typeID)
                let spec = RequestSpec(
                    volumeID: group.id, size: 0, availabilityZone: group.availabilityZone, volumeTypeName: type?.name,
                    extraSpecs: type?.extraSpecs ?? [:], resourceBackend: backend)
                switch await hostManager.place(spec, with: scheduler) {
                case .chosen(let pool):
                    backend = backend ?? pool.backend
                    zone = pool.availabilityZone
                case .noValidBackend(let rejections):
                    var detail = "No valid backend was found for volume type \(type?.name ?? typeID)"
                    detail += rejections.isEmpty
                        ? ": no volume service is up and enabled."
                        : ": " + rejections.map(\.description).joined(separator: "; ") + "."
                    try await failGroup(group, context: context, detail: detail)
                    return
                }
            }
            guard let backend else {
                try await failGroup(group, context: context, detail: "The group has no volume type.")
                return
            }
            guard try await groups.place(group.id, on: backend, availabilityZone: zone) else {
                log.warning("group \(group.id) was placed or changed while it was scheduled; not cast to \(backend)")
                return
            }
            log.info("group \(group.id) scheduled to \(backend)")
            try await VolumeRPC.Client(transport: transport).createGroup(host: backend, args, context: context)
        } catch {
            log.error("scheduling group \(args.groupID) failed: \(error)")
        }
    }

    /// Groups accepted but never placed (their message was lost with the process that held it) are scheduled
    /// again; placing twice is harmless, as only an unplaced group is placed.
    func recoverUnplacedGroups(changedBefore cutoff: Date) async {
        let context = CallerContext.service(requestID: "req-" + UUID().uuidString.lowercased())
        do {
            for group in try await groups.unplaced(changedBefore: cutoff) {
                logger.warning("group \(group.id) was accepted but never placed; scheduling it again")
                await createGroup(.init(groupID: group.id), context: context)
            }
        } catch {
            logger.error("recovery of unplaced groups failed: \(error)")
        }
    }

    private func failGroup(_ group: VolumeGroup, context: CallerContext, detail: String) async throws {
        logger.warning(
            "group \(group.id) could not be scheduled: \(detail)", metadata: ["request_id": "\(context.requestID)"])
        guard try await groups.apply(.createFailed, to: group.id) != nil else { return }
        try await messages.insert(
            projectID: group.projectID, requestID: context.requestID, resourceType: "VOLUME_GROUP", resourceID: group.id,
            eventID: "VOLUME_GROUP_001_003", "schedule allocate volume group: \(detail)")
    }
}
