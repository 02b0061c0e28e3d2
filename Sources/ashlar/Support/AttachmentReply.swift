import Foundation

/// The request bodies of the attachments API and what the client reads from its answers.
enum AttachmentRequests {
    /// `{"attachment": {"volume_uuid": ID, "instance_uuid": null, "connector": {…}, "mode": "rw"|"ro"}}`.
    static func createBody(volumeID: String, connector: ISCSIConnector, mode: String) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(CreateBody(attachment: .init(volumeID: volumeID, connector: connector, mode: mode)))
    }

    static let completeBody = Data(#"{"os-complete": null}"#.utf8)

    private struct CreateBody: Encodable {
        var attachment: Fields
        struct Fields: Encodable {
            var volumeID: String
            var connector: ISCSIConnector
            var mode: String
            enum CodingKeys: String, CodingKey {
                case volumeID = "volume_uuid", instanceUUID = "instance_uuid", connector, mode
            }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(volumeID, forKey: .volumeID)
                try c.encodeNil(forKey: .instanceUUID)
                try c.encode(connector, forKey: .connector)
                try c.encode(mode, forKey: .mode)
            }
        }
    }

    /// The one volume named `name` in a `GET /volumes?name=…` answer (`{"volumes": [{"id", "name"}, …]}`).
    /// Only exact name matches count, whatever filtering the server did.
    static func volumeID(named name: String, listBody: Data) throws(CinderClientError) -> String {
        guard let object = (try? JSONSerialization.jsonObject(with: listBody)) as? [String: Any],
            let volumes = object["volumes"] as? [[String: Any]]
        else { throw .transport("unexpected answer to the volume list: no \"volumes\" array") }
        let ids = volumes.filter { ($0["name"] as? String) == name }.compactMap { $0["id"] as? String }
        switch ids.count {
        case 1: return ids[0]
        case 0: throw .api(status: 404, message: "No volume with a name or ID of '\(name)' exists.")
        default:
            throw .api(
                status: 409,
                message: "More than one volume is named '\(name)' (\(ids.joined(separator: ", "))); give its ID.")
        }
    }
}

/// The parts of `{"attachment": {…}}` the attach command shows.
struct AttachmentReply: Equatable, Sendable {
    var id: String
    var status: String?
    var volumeID: String?
    var mode: String?
    var driverVolumeType: String?
    /// The connection's data, values as text (numbers and booleans written out), for display. The attachments API
    /// gives it flattened, beside `driver_volume_type` (as Cinder does); `os-initialize_connection` nests it under
    /// `data`: both are read.
    var data: [String: String]
    var hasConnectionInfo: Bool

    static func parse(_ body: Data) throws(CinderClientError) -> AttachmentReply {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let attachment = object["attachment"] as? [String: Any], let id = attachment["id"] as? String
        else { throw .transport("unexpected answer to the attachment create: no attachment id") }
        let info = attachment["connection_info"] as? [String: Any]
        var data: [String: String] = [:]
        for (key, value) in (info?["data"] as? [String: Any]) ?? info ?? [:] where key != "driver_volume_type" {
            if let text = scalarText(value) { data[key] = text }
        }
        return AttachmentReply(
            id: id, status: attachment["status"] as? String,
            volumeID: attachment["volume_id"] as? String,
            mode: attachment["attach_mode"] as? String,
            driverVolumeType: info?["driver_volume_type"] as? String,
            data: data, hasConnectionInfo: info != nil)
    }

    /// A JSON scalar as text; nil for null, arrays and objects.
    static func scalarText(_ value: Any) -> String? {
        switch value {
        case let s as String: return s
        case let n as NSNumber:
            // JSONSerialization gives booleans as NSNumber too, with the objCType of a char.
            if String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
            return n.stringValue
        default: return nil
        }
    }

    /// The iSCSI target in the data, when it is an iSCSI connection with portal, IQN and LUN.
    var iscsiTarget: (portal: String, iqn: String, lun: Int)? {
        guard driverVolumeType?.lowercased() == "iscsi", let portal = data["target_portal"],
            let iqn = data["target_iqn"], let lunText = data["target_lun"], let lun = Int(lunText)
        else { return nil }
        return (portal, iqn, lun)
    }

    /// CHAP user and secret, when the connection uses CHAP (or names no method but carries both).
    var chap: (username: String, password: String)? {
        guard let user = data["auth_username"], let password = data["auth_password"], !user.isEmpty,
            !password.isEmpty
        else { return nil }
        if let method = data["auth_method"], method.uppercased() != "CHAP" { return nil }
        return (user, password)
    }
}
