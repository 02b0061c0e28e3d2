import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Logging

/// The attachments API's work, owned by the volume service as upstream's `attachment_update` and
/// `attachment_delete` are: each status change is a transition of `AttachmentStateMachine`, the export is made
/// or ended here, and a failure is rolled back here. The API checks the request and calls.
extension VolumeManager {
    /// Cinder's event for a failed `attachment_update` (`message_field`: resource VOLUME, action 004 update
    /// attachment, detail 001 unknown error).
    static let updateFailedEvent = "VOLUME_VOLUME_004_001"

    /// The attachment goes to `attaching` with the connector, the volume is exported and the connection info
    /// stored (flattened, as Cinder stores it) and answered. When the export fails, the attachment goes to
    /// `error_attaching`, the volume's status follows, the project gets a user message, and the error is the
    /// answer.
    func attachmentUpdate(_ args: VolumeRPC.AttachmentUpdate, context: CallerContext) async throws
        -> [String: JSONValue]
    {
        let log = logger(for: context)
        let id = args.attachmentID
        guard
            try await attachments.apply(
                .connecting, to: id,
                also: .init(
                    connector: .some(args.connector), attachedHost: .some(args.connector["host"]?.stringValue),
                    mountpoint: .some(args.connector["mountpoint"]?.stringValue), mode: args.mode)) != nil
        else {
            guard let now = try await attachments.get(id) else {
                throw AshlarError(.notFound, "Attachment \(id) could not be found.")
            }
            throw AshlarError(
                .invalidState,
                "Invalid attachment: attachment \(id) is \(now.status.rawValue); only a reserved, attaching, attached or error_attaching attachment can be given a connector.")
        }
        try await volumes.settleAttachStatus(args.volumeID)
        CrashPoint.attachConnecting.reach()
        let info: [String: JSONValue]
        do {
            info = try await initializeConnection(
                .init(volumeID: args.volumeID, connector: args.connector, mode: args.mode, attachmentID: id),
                context: context)
        } catch {
            try await attachments.apply(.connectFailed, to: id)
            try await volumes.settleAttachStatus(args.volumeID)
            let reason: String
            if let error = error as? AshlarError, error.code != .internalError {
                reason = error.message
            } else {
                reason = "An unknown error occurred."
            }
            if let attachment = try await attachments.get(id) {
                try await messages.insert(
                    UserMessage(
                        projectID: attachment.projectID, requestID: context.requestID, resourceType: "VOLUME",
                        resourceUUID: args.volumeID, eventID: Self.updateFailedEvent,
                        userMessage: "update attachment: \(reason)"))
            }
            log.error("attachment \(id) of volume \(args.volumeID) could not be connected: \(error)")
            if error is AshlarError { throw error }
            throw AshlarError(.internalError, "Unable to update the attachment.", underlying: error)
        }
        let flat = Self.flatten(info, attachmentID: id, connector: args.connector)
        guard try await attachments.update(id, statusIn: [.attaching], set: .init(connectionInfo: .some(flat))) != nil
        else {
            // Deleted or changed while the export was made: give it back if nothing else needs it.
            try? await terminateConnection(
                .init(volumeID: args.volumeID, connector: args.connector, attachmentID: id), context: context)
            throw AshlarError(.conflict, "Attachment \(id) was changed or deleted while its volume was being exported.")
        }
        return flat
    }

    /// Ends the attachment: unless already detached, it is first marked `detached`, so that it no longer holds
    /// the export (nothing keeps or restores an export for it), then the connection ends (the export goes once no
    /// other attachment holds it), then the row goes and the volume's status follows. When ending the connection
    /// fails, the attachment goes back to the status it had, so that the volume stays held while it is still
    /// exported, and the error is the answer (as upstream, where a failed `terminate_connection` changes nothing);
    /// with `tolerant` (an attachment that never connected) the failure is only logged.
    func attachmentDelete(_ args: VolumeRPC.AttachmentDelete, context: CallerContext) async throws {
        guard let attachment = try await attachments.get(args.attachmentID) else { return }
        var previous: AttachStatus?
        if attachment.status != .detached,
            try await attachments.apply(.detached, to: attachment.id, expecting: attachment.status) != nil
        {
            previous = attachment.status
            try await volumes.settleAttachStatus(attachment.volumeID)
        }
        CrashPoint.detachDetached.reach()
        do {
            try await terminateConnection(
                .init(
                    volumeID: attachment.volumeID, connector: args.connector ?? attachment.connector,
                    attachmentID: attachment.id),
                context: context)
        } catch {
            guard args.tolerant else {
                if let previous {
                    try await attachments.apply(.detachRolledBack, to: attachment.id, choosing: previous)
                    try await volumes.settleAttachStatus(attachment.volumeID)
                }
                throw error
            }
            logger(for: context).warning("connection of attachment \(attachment.id) not ended: \(error)")
        }
        try await attachments.delete(attachment.id)
        try await volumes.settleAttachStatus(attachment.volumeID)
    }

    /// The connection info as the attachments API shows it: the driver's `data` keys at the top, with
    /// `driver_volume_type`, `attachment_id` and `enforce_multipath` (`manager._connection_create`).
    static func flatten(
        _ info: [String: JSONValue], attachmentID: String, connector: [String: JSONValue]
    ) -> [String: JSONValue] {
        var flat = info["data"]?.objectValue ?? [:]
        for (key, value) in info where key != "data" { flat[key] = value }
        flat["attachment_id"] = .string(attachmentID)
        flat["enforce_multipath"] = .bool(Attachment.enforcesMultipath(connector))
        return flat
    }
}
