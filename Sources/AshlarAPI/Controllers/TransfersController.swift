import AshlarCore
import AshlarStore
import Crypto
import Foundation
import Hummingbird
import Logging

/// Volume transfers: `/os-volume-transfer` (every microversion) and `/volume-transfers` (3.55). A transfer puts the
/// volume in `awaiting-transfer`; the project that presents the key gets the volume (and its snapshots unless
/// `no_snapshots`), admitted against its own quota in the statement that moves the volume; a delete withdraws it.
struct TransfersController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        for (base, minimum) in [("/v3/os-volume-transfer", APIVersion(3, 0)), ("/v3/volume-transfers", APIVersion(3, 55))] {
            func gated(
                _ handler: @escaping @Sendable (Request, APIRequestContext) async throws -> Response
            ) -> @Sendable (Request, APIRequestContext) async throws -> Response { since(minimum, handler) }
            router.post(RouterPath(base), use: gated(create))
            router.get(RouterPath(base), use: gated { try await list($0, $1, detail: false) })
            router.get(RouterPath(base + "/detail"), use: gated { try await list($0, $1, detail: true) })
            router.get(RouterPath(base + "/:id"), use: gated(show))
            router.delete(RouterPath(base + "/:id"), use: gated(delete))
            router.post(RouterPath(base + "/:id/accept"), use: gated(accept))
        }
    }

    static func notFound(_ id: String) -> AshlarError { AshlarError(.notFound, "Transfer \(id) could not be found.") }

    /// The transfer in the URL, if the caller may see it (its source project, or an administrator).
    func find(_ context: APIRequestContext) async throws -> Transfer {
        let id = context.parameters.get("id") ?? ""
        guard let transfer = try await env.transfers.pending(id: id),
            context.caller.isAdmin || transfer.sourceProjectID == context.caller.projectID
        else { throw Self.notFound(id) }
        return transfer
    }

    // MARK: Views (`cinder/api/views/transfers.py`)

    func summary(_ t: Transfer, _ context: APIRequestContext) -> JSONValue {
        [
            "id": .string(t.id), "volume_id": .string(t.volumeID), "name": VolumeView.optional(t.name),
            "links": Links.resource(context, collection: "os-volume-transfer", id: t.id),
        ]
    }

    func detail(_ t: Transfer, _ context: APIRequestContext) -> JSONValue {
        var d: [String: JSONValue] = [
            "id": .string(t.id), "volume_id": .string(t.volumeID), "name": VolumeView.optional(t.name),
            "created_at": .string(Timestamp.format(t.createdAt)),
            "links": Links.resource(context, collection: "os-volume-transfer", id: t.id),
        ]
        if context.version >= APIVersion(3, 55) { d["no_snapshots"] = .bool(t.noSnapshots) }
        if context.version >= APIVersion(3, 57) {
            d["source_project_id"] = .string(t.sourceProjectID)
            d["destination_project_id"] = VolumeView.optional(t.destinationProjectID)
            d["accepted"] = .bool(t.accepted)
        }
        return .object(d)
    }

    // MARK: Create

    static func hash(salt: String, key: String) -> String {
        SHA256.hash(data: Data((salt + key).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `volume_transfer_key_length` characters from letters and digits.
    static func randomText(_ length: Int) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("transfer", context, limit: env.maxRequestBodySize)
        var allowed: Set<String> = ["volume_id", "name"]
        if context.version >= APIVersion(3, 55) { allowed.insert("no_snapshots") }
        try body.rejectUnknown(allowed)
        guard let volumeID = try body.uuid("volume_id") ?? nil else {
            throw AshlarError(.invalidInput, "Invalid input received: 'volume_id' is a required property.")
        }
        let name = try body.string("name") ?? nil
        let noSnapshots = try body.bool("no_snapshots") ?? false
        guard
            let volume = try await env.volumes.get(
                volumeID, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.volumeNotFound(volumeID) }
        if !noSnapshots {
            let snapshots = try await env.snapshots.of(volumeID: volume.id)
            if let busy = snapshots.first(where: { $0.status != .available }) {
                throw AshlarError.invalidVolume(
                    "Invalid volume: snapshot \(busy.id) of volume \(volume.id) is \(busy.status.rawValue); every snapshot must be available to transfer the volume with them.")
            }
        }
        let key = Self.randomText(16)
        let salt = Self.randomText(8)
        let transfer = Transfer(
            volumeID: volume.id, name: name, salt: salt, cryptHash: Self.hash(salt: salt, key: key),
            sourceProjectID: volume.projectID, noSnapshots: noSnapshots)
        // The offer first, then the volume's compare-and-swap; the offer goes again if the volume was not
        // available, so a refused create leaves nothing.
        try await env.transfers.insert(transfer)
        guard try await env.volumes.apply(.transferOffered, to: volume.id) != nil else {
            _ = try await env.transfers.deletePending(id: transfer.id)
            let status = try await env.volumes.get(volume.id)?.status.rawValue ?? "deleted"
            throw AshlarError.invalidVolume("Invalid volume: status must be available to transfer, but it is \(status).")
        }
        context.logger.info("transfer \(transfer.id) of volume \(volume.id) offered")
        guard case .object(var shown) = detail(transfer, context) else { return JSONResponse.empty(.accepted) }
        shown["auth_key"] = .string(key)
        return JSONResponse.make(["transfer": .object(shown)], status: .accepted)
    }

    // MARK: Read

    func list(_ request: Request, _ context: APIRequestContext, detail: Bool) async throws -> Response {
        // An administrator sees every project's offers, as upstream's transfer API lists them.
        let transfers = try await env.transfers.list(projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        return JSONResponse.make([
            "transfers": .array(transfers.map { detail ? self.detail($0, context) : summary($0, context) })
        ])
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(["transfer": detail(try await find(context), context)])
    }

    // MARK: Delete

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let transfer = try await find(context)
        guard try await env.transfers.deletePending(id: transfer.id) else { throw Self.notFound(transfer.id) }
        _ = try await env.volumes.apply(.transferEnded, to: transfer.volumeID)
        context.logger.info("transfer \(transfer.id) of volume \(transfer.volumeID) withdrawn")
        return JSONResponse.empty(.accepted)
    }

    // MARK: Accept

    func accept(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("accept", context, limit: env.maxRequestBodySize)
        let key = try body.requiredString("auth_key")
        let id = context.parameters.get("id") ?? ""
        // Any project may accept: it only has to know the key.
        guard let transfer = try await env.transfers.pending(id: id) else { throw Self.notFound(id) }
        guard Self.hash(salt: transfer.salt, key: key) == transfer.cryptHash else {
            throw AshlarError(.invalidInput, "Invalid auth key: Attempt to transfer \(id) with invalid auth key.")
        }
        let recipient = context.caller.projectID
        guard let volume = try await env.volumes.get(transfer.volumeID) else {
            throw AshlarError.volumeNotFound(transfer.volumeID)
        }
        let snapshots = transfer.noSnapshots ? [] : try await env.snapshots.of(volumeID: volume.id)
        var deltas = QuotaDeltas.volume(size: volume.size, volumeTypeName: volume.volumeTypeName)
        for snapshot in snapshots where snapshot.consumesQuota {
            let more = env.quotaStore.snapshotDeltas(size: snapshot.volumeSize, volumeTypeName: volume.volumeTypeName)
            deltas.gigabytes += more.gigabytes
            deltas.snapshots += more.snapshots
        }
        let limits = try await env.quotaStore.limits(projectID: recipient)
        var condition = VolumeCondition()
        if recipient != volume.projectID,
            let quota = env.quotaStore.requirement(projectID: recipient, deltas: deltas, limits: limits)
        {
            condition.requiring = [quota]
        }
        // The volume changes hands in one statement that also admits it against the recipient's quota; its usage
        // leaves the donor's count with it (usage is counted from the rows).
        var owner = VolumeUpdate()
        owner.projectID = recipient
        owner.userID = context.caller.userID
        let moved = try await env.volumes.apply(.transferEnded, to: volume.id, where: condition, also: owner)
        guard moved != nil else {
            guard let now = try await env.volumes.get(volume.id), now.status == .awaitingTransfer else {
                throw AshlarError.invalidVolume("Invalid volume: the volume is no longer awaiting this transfer.")
            }
            throw try await env.quotaStore.refusal(projectID: recipient, deltas: deltas, limits: limits)
        }
        if !transfer.noSnapshots {
            try await env.snapshots.changeOwner(ofSnapshotsOf: volume.id, to: recipient, userID: context.caller.userID)
        }
        try await env.transfers.markAccepted(id: transfer.id, by: recipient)
        context.logger.info("transfer \(transfer.id): volume \(volume.id) now belongs to project \(recipient)")
        return JSONResponse.make(["transfer": summary(transfer, context)], status: .accepted)
    }
}
