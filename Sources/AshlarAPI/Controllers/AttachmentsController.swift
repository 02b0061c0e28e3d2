import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `/attachments` (3.27+, `cinder/api/v3/attachments.py`): reserve a volume for a host or instance, connect it
/// (the backend exports it and answers the connection info), complete, list and delete.
///
/// The API reserves (the volume's and the attachment's first transitions) and completes; connecting and ending an
/// attachment are the volume service's (`attachment_update`, `attachment_delete`), which exports and rolls back.
/// Every status change is a transition of the state tables; the volume's own status follows its attachments,
/// recomputed from them in one statement (`VolumeStore.settleAttachStatus`).
struct AttachmentsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.post("/v3/attachments", use: create)
        router.get("/v3/attachments", use: { try await list($0, $1, detail: false) })
        router.get("/v3/attachments/detail", use: { try await list($0, $1, detail: true) })
        router.get("/v3/attachments/:id", use: show)
        router.put("/v3/attachments/:id", use: update)
        router.delete("/v3/attachments/:id", use: delete)
        router.post("/v3/attachments/:id/action", use: act)
    }

    static let minimum = APIVersion(3, 27)

    /// The fields a non-admin list may filter on (`resource_filters.json`).
    static let userFilters: Set<String> = ["volume_id", "status", "instance_id", "attach_status"]

    /// Attachment statuses a connector may be given in (again): Nova updates an attached attachment when it
    /// moves an instance, and a failed attempt may be retried.
    static let connectable = AttachmentStateMachine.connectable

    // MARK: Create

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(Self.minimum)
        let body = try await request.object("attachment", context, limit: env.maxRequestBodySize)
        var allowed: Set<String> = ["volume_uuid", "instance_uuid", "connector"]
        if context.version >= APIVersion(3, 54) { allowed.insert("mode") }
        try body.rejectUnknown(allowed)
        guard let volumeID = try body.uuid("volume_uuid") ?? nil else {
            throw AshlarError(.invalidInput, "Invalid input received: 'volume_uuid' is a required property.")
        }
        let instanceUUID = try body.uuid("instance_uuid") ?? nil
        let connector = try Self.connector(body, "connector", required: false)
        var mode = connector?["mode"]?.stringValue == "ro" ? "ro" : "rw"
        if let requested = try body.string("mode", nullable: false) ?? nil {
            guard requested == "rw" || requested == "ro" else {
                throw Fields.invalid("mode", .string(requested), "'\(requested)' is not one of ['rw', 'ro'].")
            }
            mode = requested
        }
        guard
            let volume = try await env.volumes.get(
                volumeID, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.volumeNotFound(volumeID) }
        if volume.status.rawValue.contains("error") {
            throw AshlarError.invalidVolume(
                "Volume attachments can not be created if the volume is in an error state. The Volume \(volume.id) currently has a status of: \(volume.status.rawValue).")
        }
        if volume.isReadOnly, mode != "ro" { throw Self.invalidMode(mode, volume) }
        var attachment = try await reserve(volume, instanceUUID: instanceUUID, mode: mode)
        if let connector {
            attachment = try await connect(attachment, volume: volume, connector: connector, context: context)
        }
        context.logger.info(
            "attachment \(attachment.id) of volume \(volume.id) created",
            metadata: ["status": "\(attachment.status.rawValue)"])
        return JSONResponse.make(["attachment": AttachmentView.detail(attachment)])
    }

    /// Cinder's `_attachment_reserve`: the volume goes to `reserved` by compare-and-swap from `available` (a
    /// multiattach volume also from `in-use` or `reserved`), and, for a volume that is not multiattach, only
    /// while it has no other live attachment; then the attachment row is inserted by a statement that checks the
    /// same again. A volume that is not multiattach may be reserved again for the instance that holds it (a live
    /// migration).
    func reserve(_ volume: Volume, instanceUUID: String?, mode: String) async throws -> Attachment {
        let event: VolumeEvent = volume.multiattach ? .attachmentReservedMultiattach : .attachmentReserved
        let allowed = VolumeStateMachine.table[event].from
        let alone = AttachmentStore.noOtherLiveAttachment(volumeID: volume.id)
        var requirements: [Requirement]
        if try await env.volumes.apply(
            event, to: volume.id, where: .init(requiring: volume.multiattach ? [] : [alone])) != nil
        {
            let held: Set<VolumeStatus> = volume.multiattach ? [.reserved, .attaching, .inUse, .detaching] : [.reserved]
            requirements = [VolumeStore.volume(volume.id, statusIn: held)]
            if !volume.multiattach { requirements.append(alone) }
        } else if let instanceUUID, !volume.multiattach {
            requirements = [
                VolumeStore.volume(volume.id, statusIn: [.reserved, .attaching, .inUse]),
                AttachmentStore.liveAttachmentsOnlyOf(volumeID: volume.id, instanceUUID: instanceUUID),
            ]
        } else {
            throw try await notReservable(volume.id, allowed: allowed)
        }
        let attachment = Attachment(
            volumeID: volume.id, projectID: volume.projectID, instanceUUID: instanceUUID, mode: mode,
            status: .reserved, connectionInfo: [:])
        guard try await env.attachments.insert(attachment, requiring: requirements) else {
            try await env.volumes.settleAttachStatus(volume.id)
            throw try await notReservable(volume.id, allowed: allowed)
        }
        try await env.volumes.settleAttachStatus(volume.id)
        return attachment
    }

    private func notReservable(_ volumeID: String, allowed: Set<VolumeStatus>) async throws -> AshlarError {
        guard let now = try await env.volumes.get(volumeID) else { return AshlarError.volumeNotFound(volumeID) }
        let expected = [VolumeStatus.available, .inUse, .reserved].filter(allowed.contains).map(\.rawValue)
            .joined(separator: " or ")
        if allowed.contains(now.status) {
            return AshlarError.invalidVolume(
                "Volume \(volumeID) already has a live attachment and is not multiattach.")
        }
        return AshlarError.invalidVolume(
            "Volume \(volumeID) status must be \(expected) to reserve, but the current status is \(now.status.rawValue).")
    }

    // MARK: Update (connect)

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(Self.minimum)
        let body = try await request.object("attachment", context, limit: env.maxRequestBodySize)
        try body.rejectUnknown(["connector"])
        guard let connector = try Self.connector(body, "connector", required: true) else {
            throw AshlarError(.invalidInput, "Invalid input received: 'connector' is a required property.")
        }
        let attachment = try await find(context)
        guard let volume = try await env.volumes.get(attachment.volumeID) else {
            throw AshlarError.volumeNotFound(attachment.volumeID)
        }
        if volume.status.rawValue.contains("error") {
            throw AshlarError(
                .conflict,
                "Volume attachments can not be updated if the volume is in an error state. The Volume \(volume.id) currently has a status of: \(volume.status.rawValue).")
        }
        let connected = try await connect(attachment, volume: volume, connector: connector, context: context)
        return JSONResponse.make(["attachment": AttachmentView.detail(connected)])
    }

    /// Cinder's `attachment_update`: the attachment goes to `attaching` with the connector, the backend exports
    /// the volume and answers the connection info, which is stored (flattened, as Cinder stores it). When the
    /// backend fails, the attachment goes to `error_attaching`, the volume's status is recomputed (a lone
    /// attachment leaves it `available`), the project gets a user message, and the error is the answer.
    func connect(
        _ attachment: Attachment, volume: Volume, connector: [String: JSONValue], context: APIRequestContext
    ) async throws -> Attachment {
        guard let host = volume.host else {
            throw AshlarError.invalidVolume("Volume \(volume.id) is on no backend; it cannot be attached.")
        }
        let mode = attachment.mode == "ro" || connector["mode"]?.stringValue == "ro" ? "ro" : "rw"
        if volume.isReadOnly, mode != "ro" { throw Self.invalidMode(mode, volume) }
        // The volume service owns the rest: the transition, the export, the connection info, the rollback.
        _ = try await env.volumeRPC.attachmentUpdate(
            host: host,
            .init(attachmentID: attachment.id, volumeID: volume.id, connector: connector, mode: mode),
            context: context.caller)
        guard let connected = try await env.attachments.get(attachment.id) else { throw Self.notFound(attachment.id) }
        return connected
    }

    /// A connector: a JSON object with at least one key when `required`; otherwise also null, absent or `{}`,
    /// which all mean none (Cinder's create reserves only when the connector is falsy).
    static func connector(
        _ fields: Fields, _ key: String, required: Bool
    ) throws(AshlarError) -> [String: JSONValue]? {
        switch fields.values[key] {
        case .none, .null?:
            if required {
                throw AshlarError(.invalidInput, "Invalid input received: '\(key)' is a required property.")
            }
            return nil
        case .object(let connector)?:
            if connector.isEmpty {
                if !required { return nil }
                throw Fields.invalid(key, .object(connector), "{} does not have enough properties.")
            }
            return connector
        case let other?:
            throw Fields.invalid(key, other, "\(other.rendered) is not of type 'object'.")
        }
    }

    static func invalidMode(_ mode: String, _ volume: Volume) -> AshlarError {
        AshlarError(
            .invalidInput,
            "Invalid input received: Invalid attaching mode '\(mode)' for volume \(volume.id): the volume is read-only and can only be attached with mode 'ro'.")
    }

    static func notFound(_ id: String) -> AshlarError {
        AshlarError(.notFound, "Volume attachment could not be found with filter: attachment_id = \(id).")
    }

    // MARK: Actions

    func act(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(Self.minimum)
        let body = try await request.json(context, limit: env.maxRequestBodySize)
        guard case .object(let top) = body, top.count == 1, let (action, argument) = top.first else {
            throw AshlarError(
                .invalidInput, "Malformed request body: an action body has exactly one key, the action's name.")
        }
        if !argument.isNull, argument.objectValue == nil {
            throw AshlarError(
                .invalidInput,
                "Invalid input for field/attribute \(action). Value: \(argument.rendered). It must be an object.")
        }
        switch action {
        case "os-complete":
            try context.require(APIVersion(3, 44))
            try await complete(try await find(context))
            return JSONResponse.empty(.noContent)
        default:
            _ = try await find(context)
            throw AshlarError(.invalidInput, "There is no such action: \(action)")
        }
    }

    /// `os-complete` (3.44): the attachment is `attached` (attach time now) and the volume `in-use`/`attached`.
    /// Completing an attachment that is already attached changes nothing.
    func complete(_ attachment: Attachment) async throws {
        if try await env.attachments.apply(.completed, to: attachment.id, also: .init(attachTime: Date())) == nil
        {
            guard let now = try await env.attachments.get(attachment.id) else { throw Self.notFound(attachment.id) }
            guard now.status == .attached else {
                throw AshlarError(
                    .invalidState,
                    "Invalid attachment: attachment \(attachment.id) must be attaching (given a connector) to be completed, but it is \(now.status.rawValue).")
            }
        }
        try await env.volumes.settleAttachStatus(attachment.volumeID)
    }

    // MARK: Delete

    /// Cinder's `attachment_delete`: the backend ends the connection (the export goes once no other
    /// attachment holds it), the row is removed and the volume's status recomputed. Answers the volume's
    /// remaining attachments, `{"attachments": [summary…]}`.
    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(Self.minimum)
        let attachment = try await find(context)
        try await disconnect(attachment, context: context)
        let remaining = try await env.attachments.of(volumeID: attachment.volumeID)
        context.logger.info("attachment \(attachment.id) of volume \(attachment.volumeID) deleted")
        return JSONResponse.make(AttachmentView.list(remaining, detail: false))
    }

    /// Ends the attachment. One that was ever given a connector is the volume service's to end
    /// (`attachment_delete`: marked detached, connection ended, removed, rolled back when the backend fails, as
    /// upstream, where a failed `terminate_connection` changes nothing); one only reserved is just removed.
    func disconnect(_ attachment: Attachment, context: APIRequestContext) async throws {
        if attachment.status != .reserved, let host = try await env.volumes.get(attachment.volumeID)?.host {
            try await env.volumeRPC.attachmentDelete(
                host: host,
                .init(
                    attachmentID: attachment.id, volumeID: attachment.volumeID,
                    tolerant: attachment.status == .errorAttaching),
                context: context.caller)
        } else {
            // Never exported: nothing on a backend to end.
            try await env.attachments.delete(attachment.id)
            try await env.volumes.settleAttachStatus(attachment.volumeID)
        }
    }

    // MARK: Read

    func find(_ context: APIRequestContext) async throws -> Attachment {
        let id = context.parameters.get("id") ?? ""
        guard
            let attachment = try await env.attachments.get(
                id, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw Self.notFound(id) }
        return attachment
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try context.require(Self.minimum)
        return JSONResponse.make(["attachment": AttachmentView.detail(try await find(context))])
    }

    func list(_ request: Request, _ context: APIRequestContext, detail: Bool) async throws -> Response {
        try context.require(Self.minimum)
        let params = ListParameters(request)
        let page = try params.pagination(maxLimit: env.osapiMaxLimit)
        var attachments: [Attachment] = []
        if let query = try await params.listQuery(
            context, userFilters: Self.userFilters, columns: AttachmentStore.columns)
        {
            attachments = try await env.attachments.list(query.paged(page))
        }
        return JSONResponse.make(AttachmentView.list(attachments, detail: detail))
    }
}
