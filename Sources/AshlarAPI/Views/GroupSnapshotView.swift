import AshlarCore

/// The group snapshot representation (`cinder/api/v3/views/group_snapshots.py`).
enum GroupSnapshotView {
    /// What a create answers.
    static func summary(_ g: GroupSnapshot) -> JSONValue {
        ["id": .string(g.id), "name": VolumeView.optional(g.name), "group_type_id": .string(g.groupTypeID)]
    }

    /// An item of the plain list: id and name only, as tempest's schema for it has them.
    static func listed(_ g: GroupSnapshot) -> JSONValue {
        ["id": .string(g.id), "name": VolumeView.optional(g.name)]
    }

    static func detail(_ g: GroupSnapshot, _ context: APIRequestContext) -> JSONValue {
        var d: [String: JSONValue] = [
            "id": .string(g.id), "group_id": .string(g.groupID), "group_type_id": .string(g.groupTypeID),
            "status": .string(g.status.rawValue), "created_at": .string(Timestamp.format(g.createdAt)),
            "name": VolumeView.optional(g.name), "description": VolumeView.optional(g.description),
        ]
        if context.version >= APIVersion(3, 58), context.caller.isAdmin { d["project_id"] = .string(g.projectID) }
        return .object(d)
    }
}
