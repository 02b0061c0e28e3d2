import AshlarCore

/// The volume type representation (`cinder/api/views/types.py`).
enum VolumeTypeView {
    static func show(_ t: VolumeType, _ context: APIRequestContext) -> JSONValue {
        let specs =
            context.caller.isAdmin ? t.extraSpecs : t.extraSpecs.filter { VolumeType.userVisibleSpecs.contains($0.key) }
        var d: [String: JSONValue] = [
            "id": .string(t.id),
            "name": .string(t.name),
            "is_public": .bool(t.isPublic),
            "description": VolumeView.optional(t.description),
            "extra_specs": .object(specs.mapValues(JSONValue.string)),
            "os-volume-type-access:is_public": .bool(t.isPublic),
        ]
        if context.caller.isAdmin { d["qos_specs_id"] = VolumeView.optional(t.qosSpecsID) }
        return .object(d)
    }
}
