import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import Hummingbird
import Logging

extension VolumeActionsController {
    /// The disk formats a volume may be uploaded as (upstream's schema, without `ploop`, which qemu-img does not
    /// write).
    static let uploadDiskFormats: Set<String> = ["raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx"]

    /// `os-volume_upload_image`: the image is recorded in the Image service (`queued`), the volume goes
    /// `uploading` in one compare-and-swap that also keeps the image's id for recovery, and its backend sends
    /// the data. A volume that cannot go `uploading` takes its image back out.
    func uploadToImage(_ volume: Volume, _ fields: Fields, _ context: APIRequestContext) async throws -> Response {
        var allowed: Set<String> = ["image_name", "disk_format", "container_format", "force"]
        if context.version >= APIVersion(3, 1) { allowed.formUnion(["visibility", "protected"]) }
        try fields.rejectUnknown(allowed)
        guard let images = env.images else {
            throw AshlarError(.invalidInput, "Invalid input received: this deployment has no Image service to upload to.")
        }
        let name = try fields.requiredString("image_name")
        let diskFormat = (try fields.string("disk_format", nullable: false) ?? nil) ?? "raw"
        guard Self.uploadDiskFormats.contains(diskFormat) else {
            throw AshlarError(
                .invalidInput,
                "Invalid input for field/attribute disk_format. Value: \(diskFormat). '\(diskFormat)' is not one of \(Self.uploadDiskFormats.sorted()).")
        }
        let containerFormat = (try fields.string("container_format", nullable: false) ?? nil) ?? "bare"
        guard containerFormat == "bare" else {
            throw AshlarError(
                .invalidInput,
                "Invalid input for field/attribute container_format. Value: \(containerFormat). '\(containerFormat)' is not one of ['bare'].")
        }
        var force = try fields.bool("force") ?? false
        if force && !env.imageOptions.enableForceUpload {
            // As upstream: without enable_force_upload the flag is ignored, so an in-use volume is refused below.
            force = false
        }
        var visibility: String?
        var protected = false
        if context.version >= APIVersion(3, 1) {
            visibility = (try fields.string("visibility", nullable: false) ?? nil) ?? "private"
            guard let chosen = visibility, ["public", "private", "community", "shared"].contains(chosen) else {
                throw AshlarError(
                    .invalidInput, "Invalid input for field/attribute visibility. Value: \(visibility ?? ""). It must be public, private, community or shared.")
            }
            protected = try fields.bool("protected") ?? false
        }
        let expected: Set<VolumeStatus> = force ? [.available, .inUse] : [.available]
        guard expected.contains(volume.status), let host = volume.host else {
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) status must be \(force ? "available or in-use" : "available") to upload to an image, but it is \(volume.status.rawValue)."
                    + (volume.status == .inUse && !env.imageOptions.enableForceUpload
                        ? " Uploading an in-use volume needs enable_force_upload." : ""))
        }
        // The volume's image properties go with it, except the ones the new image has of its own.
        let properties = volume.imageMetadata.filter { key, _ in
            !Self.glanceCoreProperties.contains(key) && !key.hasPrefix("os_glance") && !Image.baseAttributes.contains(key)
                && key != Volume.imageProgressKey
        }
        let minDisk = Int(volume.imageMetadata["min_disk"] ?? "") ?? 0
        let minRAM = Int(volume.imageMetadata["min_ram"] ?? "") ?? 0
        let image = try await images.create(
            ImageDraft(
                name: name, diskFormat: diskFormat, containerFormat: containerFormat, visibility: visibility,
                protected: protected, minDisk: minDisk, minRAM: minRAM, properties: properties),
            context: context.caller)
        var admin = volume.adminMetadata
        admin[Volume.uploadImageKey] = image.id
        let condition = VolumeCondition(statusIn: expected, adminMetadataEquals: volume.adminMetadata)
        guard
            try await env.volumes.apply(
                .uploadRequested, to: volume.id, where: condition, also: .init(adminMetadata: admin)) != nil
        else {
            try? await images.delete(image.id, context: context.caller)
            let now = try await env.volumes.get(volume.id)
            throw AshlarError.invalidVolume(
                "Volume \(volume.id) changed while the upload was being accepted (it is \(now?.status.rawValue ?? "deleted")); try again.")
        }
        do {
            try await env.volumeRPC.copyVolumeToImage(
                host: host, .init(volumeID: volume.id, imageID: image.id, diskFormat: diskFormat),
                context: context.caller)
        } catch {
            // The bus could not take it: nothing will upload, so the volume and the image go back.
            _ = try? await env.volumes.endUpload(volume.id)
            try? await images.delete(image.id, context: context.caller)
            throw AshlarError(
                .unavailable, "The volume service could not be reached; nothing was uploaded, try again later.",
                underlying: error)
        }
        context.logger.info("upload of volume \(volume.id) to image \(image.id) accepted")
        var body: [String: JSONValue] = [
            "id": .string(volume.id), "updated_at": .string(Timestamp.format(Date())), "status": "uploading",
            "display_description": volume.description.map(JSONValue.string) ?? .null, "size": .int(Int64(volume.size)),
            "volume_type": volume.volumeTypeName.map { .object(["name": .string($0), "id": .string(volume.volumeTypeID)]) } ?? .null,
            "image_id": .string(image.id), "container_format": .string(containerFormat),
            "disk_format": .string(diskFormat), "image_name": .string(name),
        ]
        if context.version >= APIVersion(3, 1) {
            body["protected"] = .bool(protected)
            body["visibility"] = .string(image.visibility)
        }
        return JSONResponse.make(["os-volume_upload_image": .object(body)], status: .accepted)
    }

    /// `glance_core_properties`' default: what an uploaded image has of its own, not copied from the volume.
    static let glanceCoreProperties: Set<String> = [
        "checksum", "container_format", "disk_format", "image_name", "image_id", "min_disk", "min_ram", "name", "size",
    ]
}
