import AshlarCore

/// The group representation (`cinder/api/v3/views/groups.py`): create and the plain list answer with id and
/// name; the detail adds `group_snapshot_id`/`source_group_id` from 3.14, the member ids with `list_volume` from
/// 3.25, `replication_status` from 3.38 and, for administrators, `project_id` from 3.58.
enum GroupView {
    static func summary(_ g: VolumeGroup) -> JSONValue {
        ["id": .string(g.id), "name": VolumeView.optional(g.name)]
    }

    static func detail(_ g: VolumeGroup, _ context: APIRequestContext, volumeIDs: [String]? = nil) -> JSONValue {
        var d: [String: JSONValue] = [
            "id": .string(g.id), "status": .string(g.status.rawValue),
            "availability_zone": .string(g.availabilityZone), "created_at": .string(Timestamp.format(g.createdAt)),
            "name": VolumeView.optional(g.name), "description": VolumeView.optional(g.description),
            "group_type": .string(g.groupTypeID), "volume_types": .array(g.volumeTypeIDs.map(JSONValue.string)),
        ]
        let version = context.version
        if version >= APIVersion(3, 14) {
            d["group_snapshot_id"] = VolumeView.optional(g.groupSnapshotID)
            d["source_group_id"] = VolumeView.optional(g.sourceGroupID)
        }
        if version >= APIVersion(3, 25), let volumeIDs { d["volumes"] = .array(volumeIDs.map(JSONValue.string)) }
        if version >= APIVersion(3, 38) { d["replication_status"] = VolumeView.optional(g.replicationStatus) }
        if version >= APIVersion(3, 58), context.caller.isAdmin { d["project_id"] = .string(g.projectID) }
        return .object(d)
    }
}
