import AshlarCore
import Foundation

/// The snapshot representation (`cinder/api/views/snapshots.py` plus the extended attributes), fields gated by
/// microversion.
enum SnapshotView {
    /// The extended attributes come with show and detail only, as upstream's extension adds them.
    static func detail(_ s: Snapshot, _ context: APIRequestContext, form: ViewForm = .shown) -> JSONValue {
        let version = context.version
        var d: [String: JSONValue] = [
            "id": .string(s.id),
            "created_at": .string(Timestamp.format(s.createdAt)),
            "updated_at": s.updatedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "name": VolumeView.optional(s.name),
            "description": VolumeView.optional(s.description),
            "volume_id": .string(s.volumeID),
            "status": .string(s.status.rawValue),
            "size": .int(Int64(s.volumeSize)),
            "metadata": .object(s.metadata.mapValues(JSONValue.string)),
        ]
        if form == .shown {
            d["os-extended-snapshot-attributes:progress"] = .string(s.progress)
            d["os-extended-snapshot-attributes:project_id"] = .string(s.projectID)
        }
        if version >= APIVersion(3, 14) { d["group_snapshot_id"] = VolumeView.optional(s.groupSnapshotID) }
        if version >= APIVersion(3, 41) { d["user_id"] = .string(s.userID) }
        if version >= APIVersion(3, 65) { d["consumes_quota"] = .bool(s.consumesQuota) }
        return .object(d)
    }

    /// The list (non-detail) form: Cinder shows the same fields without the extended attributes.
    static func summary(_ s: Snapshot, _ context: APIRequestContext) -> JSONValue {
        detail(s, context, form: .summary)
    }
}
