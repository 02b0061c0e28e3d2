import AshlarCore
import Foundation

/// The volume representations: summary (`GET /volumes`) and detail, fields gated by microversion as
/// `cinder/api/v3/views/volumes.py` gates them.
enum VolumeView {
    static func summary(_ v: Volume, _ context: APIRequestContext) -> JSONValue {
        [
            "id": .string(v.id), "name": optional(v.name),
            "links": Links.resource(context, collection: "volumes", id: v.id),
        ]
    }

    /// `attachments` are the volume's attachments; those `attached` are listed, as Cinder lists them. The tenant,
    /// host, migration and image-metadata attributes come only with show and detail (upstream adds them through
    /// its contrib extensions, which extend those two actions alone), not with the answers to create and update.
    static func detail(
        _ v: Volume, _ context: APIRequestContext, attachments: [Attachment] = [], form: ViewForm = .shown
    ) -> JSONValue {
        let version = context.version
        let admin = context.caller.isAdmin
        var d: [String: JSONValue] = [
            "id": .string(v.id),
            "status": .string(v.status.displayed.rawValue),
            "size": .int(Int64(v.size)),
            "availability_zone": .string(v.availabilityZone),
            "created_at": .string(Timestamp.format(v.createdAt)),
            "updated_at": v.updatedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "name": optional(v.name),
            "description": optional(v.description),
            "volume_type": optional(v.volumeTypeName),
            "snapshot_id": optional(v.snapshotID),
            "source_volid": optional(v.sourceVolumeID),
            "metadata": .object(v.metadata.mapValues(JSONValue.string)),
            "links": Links.resource(context, collection: "volumes", id: v.id),
            "user_id": .string(v.userID),
            "bootable": .string(v.bootable ? "true" : "false"),
            "encrypted": .bool(v.encrypted),
            "replication_status": optional(v.replicationStatus),
            "consistencygroup_id": .null,
            "multiattach": .bool(v.multiattach),
            "attachments": .array(
                attachments.filter { $0.status == .attached }.map { AttachmentView.ofVolume($0, context) }),
        ]
        if admin { d["migration_status"] = optional(v.migrationStatus) }
        if form == .shown {
            d["os-vol-tenant-attr:tenant_id"] = .string(v.projectID)
            if admin {
                d["os-vol-host-attr:host"] = optional(v.host)
                d["os-vol-mig-status-attr:migstat"] = optional(v.migrationStatus)
                d["os-vol-mig-status-attr:name_id"] = .null
            }
            if !v.imageMetadata.isEmpty {
                d["volume_image_metadata"] = .object(v.imageMetadata.mapValues(JSONValue.string))
            }
        }
        if version >= APIVersion(3, 13) { d["group_id"] = optional(v.groupID) }
        if version >= APIVersion(3, 21), admin { d["provider_id"] = .null }
        if version >= APIVersion(3, 48) {
            d["shared_targets"] = .bool(false)
            d["service_uuid"] = .null
        }
        if version >= APIVersion(3, 61), admin {
            d["cluster_name"] = .null
        }
        if version >= APIVersion(3, 63) { d["volume_type_id"] = .string(v.volumeTypeID) }
        if version >= APIVersion(3, 64) { d["encryption_key_id"] = .null }
        if version >= APIVersion(3, 65) { d["consumes_quota"] = .bool(v.consumesQuota) }
        return .object(d)
    }

    static func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
}
