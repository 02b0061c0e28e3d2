import AshlarCore
import Foundation

/// The attachment representations of `cinder/api/v3/views/attachments.py`: summary (`GET /attachments`, and
/// the list a delete answers) and detail (show, create, update, `GET /attachments/detail`).
enum AttachmentView {
    static func summary(_ a: Attachment) -> JSONValue {
        [
            "id": .string(a.id), "status": .string(a.status.rawValue), "instance": VolumeView.optional(a.instanceUUID),
            "volume_id": .string(a.volumeID),
        ]
    }

    /// The summary plus `attached_at`, `detached_at` (an empty string when unset, as Cinder's view writes it),
    /// `attach_mode` and `connection_info` (null until a connector was given).
    static func detail(_ a: Attachment) -> JSONValue {
        guard case .object(var d) = summary(a) else { return .null }
        d["attached_at"] = .string(a.attachTime.map(Timestamp.format) ?? "")
        // A detached attachment is deleted at once, so no attachment shown has a detach time.
        d["detached_at"] = ""
        d["attach_mode"] = .string(a.mode)
        d["connection_info"] = a.connectionInfo.map(JSONValue.object) ?? .null
        return .object(d)
    }

    /// `{"attachments": […]}`.
    static func list(_ attachments: [Attachment], detail: Bool) -> JSONValue {
        ["attachments": .array(attachments.map { detail ? Self.detail($0) : summary($0) })]
    }

    /// One entry of a volume's `attachments` (`cinder/api/v3/views/volumes.py: _get_attachments`): `id` is the
    /// volume's id, as Cinder has it; `host_name` is shown to administrators only.
    static func ofVolume(_ a: Attachment, _ context: APIRequestContext) -> JSONValue {
        [
            "id": .string(a.volumeID), "attachment_id": .string(a.id), "volume_id": .string(a.volumeID),
            "server_id": VolumeView.optional(a.instanceUUID),
            "host_name": context.caller.isAdmin ? VolumeView.optional(a.attachedHost) : .null,
            "device": VolumeView.optional(a.mountpoint),
            "attached_at": a.attachTime.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }
}
