import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

extension VolumeManager {
    /// `initialize_connection`: exports the volume (LUN 1 of its own target, behind CHAP credentials made on its
    /// first export and kept in `provider_auth`) and answers what the connector needs to log in, as Cinder's
    /// iSCSI drivers do. Read-only volumes, and read-only attachments while no read-write one is live, are
    /// exported read-only.
    func initializeConnection(_ args: VolumeRPC.InitializeConnection, context: CallerContext) async throws
        -> [String: JSONValue]
    {
        let log = logger(for: context)
        guard let target else {
            throw AshlarError(.invalidInput, "Backend \(host) exports no volumes: it has no target_helper.")
        }
        guard var volume = try await volumes.get(args.volumeID) else { throw AshlarError.volumeNotFound(args.volumeID) }
        let export = try await export(of: &volume, adding: args.mode, besides: args.attachmentID)
        let (iqn, readOnly) = (export.iqn, export.readOnly)
        do {
            try await targetQueue.run { try await target.createExport(export) }
        } catch {
            // Asked only when the export failed, so an attach costs no extra round trip to the daemon.
            if let problem = await target.checkReachable() {
                throw AshlarError(.unavailable, "The iSCSI target of backend \(host) cannot be reached: \(problem)")
            }
            throw error
        }
        CrashPoint.volumeAttachExported.reach()
        let location = "\(iscsi.portal),1 \(iqn) 1"
        if volume.providerLocation != location {
            try await volumes.update(volume.id, set: .init(providerLocation: .some(location)))
        }
        log.info("volume \(volume.id) exported as \(iqn)", metadata: ["read_only": "\(readOnly)"])
        var data: [String: JSONValue] = [
            "target_discovered": false, "target_portal": .string(iscsi.portal), "target_iqn": .string(iqn),
            "target_lun": 1, "target_portals": [.string(iscsi.portal)], "target_iqns": [.string(iqn)],
            "target_luns": [1], "volume_id": .string(volume.id), "access_mode": .string(readOnly ? "ro" : "rw"),
            "encrypted": .bool(volume.encrypted), "discard": false, "qos_specs": try await frontEndQoS(of: volume),
            "cacheable": false,
        ]
        if let user = export.chapUser, let password = export.chapPassword {
            data["auth_method"] = "CHAP"
            data["auth_username"] = .string(user)
            data["auth_password"] = .string(password)
        }
        return ["driver_volume_type": "iscsi", "data": .object(data)]
    }

    /// The QoS limits the attaching host enforces: the volume type's specs when their consumer is front-end or
    /// both, per-GiB limits worked out for the volume's size; null otherwise, as upstream sends it.
    func frontEndQoS(of volume: Volume) async throws -> JSONValue {
        guard let specsID = try await types.get(id: volume.volumeTypeID)?.qosSpecsID,
            let specs = try await qosSpecs.get(id: specsID), specs.isFrontEnd
        else { return .null }
        return .object(specs.connectionSpecs(size: volume.size))
    }

    /// `terminate_connection`: the export goes once no attachment other than `attachmentID` holds it
    /// (`exportHolding`: given a connector and not being removed). Decided in the target queue, as
    /// `ensureExports` decides to restore one, so that the two never cross.
    func terminateConnection(_ args: VolumeRPC.TerminateConnection, context: CallerContext) async throws {
        guard let target else { return }
        let attachments = self.attachments
        let iqn = iscsi.iqn(forVolume: args.volumeID)
        let removed = try await targetQueue.run {
            let others = try await attachments.of(volumeID: args.volumeID).filter {
                $0.id != args.attachmentID && Self.exportHolding.contains($0.status)
            }
            guard others.isEmpty else { return false }
            try await target.removeExport(iqn: iqn)
            return true
        }
        guard removed else { return }
        CrashPoint.volumeDetachUnexported.reach()
        try await volumes.update(args.volumeID, set: .init(providerLocation: .some(nil)))
        logger(for: context).info("volume \(args.volumeID) no longer exported")
    }

    /// Attachment statuses whose export `ensureExports` restores: those given a connector. A `reserved`
    /// attachment was never exported, and one being removed is no longer live.
    static let exportHolding: Set<AttachStatus> = [.attaching, .attached, .detaching]

    /// `ensure_export`: every volume of this backend with a live attachment is exported again if the target
    /// daemon lost it (it keeps nothing across a restart), with the same IQN and credentials, so a host that
    /// was attached logs in again as before.
    func ensureExports() async {
        guard let target else { return }
        do {
            let held = Set(
                try await attachments.onBackend(host).filter { Self.exportHolding.contains($0.status) }.map(\.volumeID))
            guard !held.isEmpty else { return }
            let present = try await target.exports()
            for id in held where present[iscsi.iqn(forVolume: id)] == nil {
                guard var volume = try await volumes.get(id) else { continue }
                let export = try await export(of: &volume, adding: nil, besides: nil)
                let attachments = self.attachments
                let restored = try await targetQueue.run {
                    // Still needed? A detach may have ended since `held` was read.
                    guard try await attachments.of(volumeID: id).contains(where: { Self.exportHolding.contains($0.status) })
                    else { return false }
                    try await target.createExport(export)
                    return true
                }
                if restored { logger.info("export of volume \(id) restored") }
            }
        } catch {
            logger.warning("could not restore exports: \(error)")
        }
    }

    /// At start, before anything is in flight: exports of this backend's volumes that no attachment holds (a
    /// crash between making an export and recording the attachment, or between ending an attachment and removing
    /// its export) are removed, so nothing stays exported that nobody attached.
    func removeUnheldExports() async {
        guard let target else { return }
        do {
            let held = Set(
                try await attachments.onBackend(host).filter { Self.exportHolding.contains($0.status) }.map(\.volumeID))
            let prefix = iscsi.iqn(forVolume: "")
            for (iqn, state) in try await target.exports() {
                guard iqn.hasPrefix(prefix) else { continue }
                let id = String(iqn.dropFirst(prefix.count))
                // Only this backend's own volumes: another backend may share the daemon.
                guard let path = state.path, path == driver.localPath(forVolume: id), !held.contains(id) else { continue }
                try await targetQueue.run { try await target.removeExport(iqn: iqn) }
                try await volumes.update(id, set: .init(providerLocation: .some(nil)))
                logger.warning("export \(iqn) was held by no attachment; removed")
            }
        } catch {
            logger.warning("could not look for exports no attachment holds: \(error)")
        }
    }

    /// After an in-use extend: the target reads a LUN's size when it is made, so the export is made again (as
    /// Cinder's tgt helper does with `tgt-admin --update -f`); connected hosts log in again and see the new size.
    func refreshExport(of volumeID: String) async {
        guard let target else { return }
        do {
            let iqn = iscsi.iqn(forVolume: volumeID)
            try await targetQueue.run { try await target.removeExport(iqn: iqn) }
            await ensureExports()
        } catch {
            logger.warning("could not refresh the export of volume \(volumeID): \(error)")
        }
    }

    /// What the target should export for the volume: its file, its CHAP credentials, and read-only when the
    /// volume is, or when no live read-write attachment (besides `attachmentID`, and with the one being added in
    /// `mode`) needs to write.
    private func export(of volume: inout Volume, adding mode: String?, besides attachmentID: String?) async throws
        -> ISCSIExport
    {
        let credentials = try await credentials(for: &volume)
        let writers = try await attachments.of(volumeID: volume.id).filter {
            $0.id != attachmentID && Attachment.live.contains($0.status) && $0.mode == "rw"
        }
        return ISCSIExport(
            iqn: iscsi.iqn(forVolume: volume.id), path: driver.localPath(forVolume: volume.id),
            chapUser: credentials?.user, chapPassword: credentials?.password,
            readOnly: volume.isReadOnly || (mode != "rw" && writers.isEmpty))
    }

    /// The volume's CHAP credentials: those in `provider_auth`, else new ones (configured or generated), stored
    /// with a compare-and-swap so that two first attaches agree.
    private func credentials(for volume: inout Volume) async throws -> CHAPCredentials? {
        if let auth = volume.providerAuth {
            let parts = auth.split(separator: " ").map(String.init)
            if parts.count == 3, parts[0] == "CHAP" { return CHAPCredentials(user: parts[1], password: parts[2]) }
        }
        guard let fresh = iscsi.newCHAPCredentials() else { return nil }
        let auth = "CHAP \(fresh.user) \(fresh.password)"
        if let stored = try await volumes.update(
            volume.id, where: .init(providerAuthIsNull: true), set: .init(providerAuth: .some(auth)))
        {
            volume = stored
            return fresh
        }
        // Someone else stored credentials first: use theirs.
        guard let reread = try await volumes.get(volume.id), reread.providerAuth != nil else {
            throw AshlarError.volumeNotFound(volume.id)
        }
        volume = reread
        return try await credentials(for: &volume)
    }

    /// Says in a capability report whether volumes can be attached now (`iscsi_target_state` up or down, with
    /// the reason), for get_pools and whoever reads the capabilities; the storage's `backend_state` is not
    /// touched.
    static func markTarget(_ capabilities: inout [String: JSONValue], problem: String?) {
        func mark(_ entry: inout [String: JSONValue]) {
            entry["iscsi_target_state"] = problem == nil ? "up" : "down"
            entry["iscsi_target_state_reason"] = problem.map {
                .string("attaching waits for the iSCSI target daemon: \($0)")
            } ?? .null
        }
        mark(&capabilities)
        if case .array(let pools) = capabilities["pools"] {
            capabilities["pools"] = .array(
                pools.map { pool in
                    guard case .object(var p) = pool else { return pool }
                    mark(&p)
                    return .object(p)
                })
        }
    }
}
