import AshlarCore

/// The QoS specs representation (`cinder/api/views/qos_specs.py`): the same four keys in the list and in show,
/// show adding the links beside the object.
enum QoSSpecsView {
    static func summary(_ q: QoSSpecs) -> JSONValue {
        [
            "id": .string(q.id), "name": .string(q.name), "consumer": .string(q.consumer.rawValue),
            "specs": .object(q.specs.mapValues(JSONValue.string)),
        ]
    }

    static func detail(_ q: QoSSpecs, _ context: APIRequestContext) -> JSONValue {
        ["qos_specs": summary(q), "links": Links.resource(context, collection: "qos-specs", id: q.id)]
    }
}
