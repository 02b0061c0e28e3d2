import AshlarCore
import Foundation
import SQLKit

extension VolumeStore {
    /// The statuses a volume's status may be recomputed from its attachments in: those of attaching and
    /// detaching. Others belong to an operation under way (creating, deleting, extending, …) that sets the status
    /// itself when it ends, or are errors a detach must not clear (Cinder's `os-detach` would make an `error`
    /// volume `available`).
    public static let attachSettleable: Set<VolumeStatus> = [.available, .reserved, .attaching, .inUse, .detaching]

    /// Sets the volume's `status` and `attach_status` from its live attachments, as Cinder's
    /// `_get_statuses_from_attachments` does (`Attachment.volumeStatus(for:)`), in one statement, so that the
    /// result reflects the attachments as they are when it is written; only while the status is one of
    /// `statusIn`. Returns the volume as updated, nil when its status did not match (or it is gone).
    @discardableResult
    public func settleAttachStatus(
        _ id: String, statusIn: Set<VolumeStatus> = VolumeStore.attachSettleable
    ) async throws -> Volume? {
        var status: SQLQueryString = "CASE"
        var attach: SQLQueryString = "CASE"
        for held in [AttachStatus.attached, .attaching, .detaching, .reserved] {
            let implied = Attachment.volumeStatus(for: [held])
            let exists: SQLQueryString =
                " WHEN EXISTS (SELECT 1 FROM volume_attachments WHERE volume_id = \(bind: id) AND attach_status = \(bind: held.rawValue))"
            status += exists + " THEN \(bind: implied.status.rawValue)"
            attach += exists + " THEN \(bind: implied.attach.rawValue)"
        }
        let none = Attachment.volumeStatus(for: [])
        status += " ELSE \(bind: none.status.rawValue) END"
        attach += " ELSE \(bind: none.attach.rawValue) END"
        let builder = db.write.update("volumes")
        builder.set("status", to: status as any SQLExpression)
        builder.set("attach_status", to: attach as any SQLExpression)
        builder.set("updated_at", to: Date().stored)
        builder.where("id", .equal, id)
        builder.where("status", .in, statusIn.map(\.rawValue).sorted())
        return try await builder.returning("*").first().map(Self.decode)
    }

    /// The row being updated has this `attach_status` (a condition of a volume update only).
    public static func rowAttachStatus(is status: AttachStatus) -> Requirement {
        Requirement(SQLQueryString("attach_status = \(bind: status.rawValue)"))
    }
}

extension AttachmentStore {
    /// The volume has a live attachment.
    public static func hasLiveAttachment(volumeID: String) -> Requirement {
        Requirement(
            SQLQueryString(
                "EXISTS (SELECT 1 FROM volume_attachments WHERE volume_id = \(bind: volumeID) AND attach_status IN (\(binds: Attachment.live.map(\.rawValue).sorted())))"
            ))
    }

    /// Every live attachment of the volume belongs to `instanceUUID`, and there is at least one: the condition
    /// under which a volume that is not multiattach may be reserved again for the same instance (Cinder allows
    /// it for a live migration, LP #1694530).
    public static func liveAttachmentsOnlyOf(volumeID: String, instanceUUID: String) -> Requirement {
        let live = Attachment.live.map(\.rawValue).sorted()
        return Requirement(
            SQLQueryString(
                "EXISTS (SELECT 1 FROM volume_attachments WHERE volume_id = \(bind: volumeID) AND attach_status IN (\(binds: live)) AND instance_uuid = \(bind: instanceUUID)) AND NOT EXISTS (SELECT 1 FROM volume_attachments WHERE volume_id = \(bind: volumeID) AND attach_status IN (\(binds: live)) AND (instance_uuid IS NULL OR instance_uuid != \(bind: instanceUUID)))"
            ))
    }

    /// The `attached` attachments of these volumes, by volume id, oldest first (one query, for a page of
    /// volume views).
    public func attached(toVolumes ids: [String]) async throws -> [String: [Attachment]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await db.read.select().column(SQLLiteral.all).from("volume_attachments")
            .where("volume_id", .in, Array(Set(ids)).sorted())
            .where("attach_status", .equal, AttachStatus.attached.rawValue)
            .orderBy("created_at").orderBy("id").all()
        var result: [String: [Attachment]] = [:]
        for row in rows {
            let a = try Self.decode(row)
            result[a.volumeID, default: []].append(a)
        }
        return result
    }
}
