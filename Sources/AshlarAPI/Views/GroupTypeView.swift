import AshlarCore

/// The group type representation (`cinder/api/v3/views/group_types.py`): `group_specs` for administrators only.
enum GroupTypeView {
    static func show(_ t: GroupType, _ context: APIRequestContext) -> JSONValue {
        var d: [String: JSONValue] = [
            "id": .string(t.id), "name": .string(t.name), "description": VolumeView.optional(t.description),
            "is_public": .bool(t.isPublic),
        ]
        if context.caller.isAdmin { d["group_specs"] = .object(t.groupSpecs.mapValues(JSONValue.string)) }
        return .object(d)
    }
}
