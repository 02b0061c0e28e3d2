import AshlarCore

/// The volume type representation. Show and list use `cinder/api/v3/views/types.py` with the type-access
/// extension (`qos_specs_id` for administrators, `os-volume-type-access:is_public`); create and update answer
/// with the older view of `cinder/api/views/types.py`, which has neither, and create alone gets the access
/// extension's `os-volume-type-access:is_public`.
enum VolumeTypeView {
    static func show(_ t: VolumeType, _ context: APIRequestContext, form: ViewForm = .shown) -> JSONValue {
        let specs =
            context.caller.isAdmin ? t.extraSpecs : t.extraSpecs.filter { VolumeType.userVisibleSpecs.contains($0.key) }
        var d: [String: JSONValue] = [
            "id": .string(t.id),
            "name": .string(t.name),
            "is_public": .bool(t.isPublic),
            "description": VolumeView.optional(t.description),
            "extra_specs": .object(specs.mapValues(JSONValue.string)),
        ]
        if form != .updated { d["os-volume-type-access:is_public"] = .bool(t.isPublic) }
        if form == .shown, context.caller.isAdmin { d["qos_specs_id"] = VolumeView.optional(t.qosSpecsID) }
        return .object(d)
    }
}
