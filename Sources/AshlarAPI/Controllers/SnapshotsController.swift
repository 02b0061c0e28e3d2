import AshlarCore
import AshlarMessaging
import AshlarStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// `/snapshots`: create, list, show, update, delete, and the snapshot actions.
struct SnapshotsController {
    let env: APIEnvironment

    func register(on router: Router<APIRequestContext>) {
        router.post("/v3/snapshots", use: create)
        router.get("/v3/snapshots", use: { try await list($0, $1, detail: false) })
        router.get("/v3/snapshots/detail", use: { try await list($0, $1, detail: true) })
        router.get("/v3/snapshots/:id", use: show)
        router.put("/v3/snapshots/:id", use: update)
        router.delete("/v3/snapshots/:id", use: delete)
        router.post("/v3/snapshots/:id/action", use: act)
    }

    /// The fields a list may filter on (`resource_filters.json`).
    static let userFilters: Set<String> = [
        "name", "status", "volume_id", "metadata", "availability_zone", "consumes_quota",
    ]

    // MARK: Create

    func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("snapshot", context, limit: env.maxRequestBodySize)
        let allowed: Set<String> = [
            "volume_id", "name", "description", "display_name", "display_description", "force", "metadata",
        ]
        // Upstream's schema is strict at every microversion.
        try body.rejectUnknown(allowed)
        let volumeID: String
        switch try body.uuid("volume_id") {
        case .none: throw AshlarError(.invalidInput, "Invalid input received: 'volume_id' is a required property.")
        // Upstream looks a null id up, and finds no such volume.
        case .some(.none): throw AshlarError.volumeNotFound("None")
        case .some(.some(let id)): volumeID = id
        }
        let name = try body.string("name") ?? body.string("display_name")
        let description = try body.string("description") ?? body.string("display_description")
        let metadata = try body.metadata("metadata") ?? [:]
        let force = try Self.forceFlag(body)
        guard
            let volume = try await env.volumes.get(
                volumeID, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.volumeNotFound(volumeID) }

        // An in-use volume needs force before 3.66; from 3.66 it is allowed, and force=false is refused.
        var statuses: Set<VolumeStatus> = [.available]
        if context.version >= APIVersion(3, 66) {
            if force == false {
                throw AshlarError(
                    .invalidInput,
                    "Invalid input received: The force flag is no longer accepted as false from microversion 3.66; leave it out to snapshot an in-use volume."
                )
            }
            statuses.insert(.inUse)
        } else if force == true {
            statuses.insert(.inUse)
        }
        guard volume.host != nil, statuses.contains(volume.status) else {
            throw Self.notSnapshottable(volume, statuses: statuses)
        }
        let snapshot = Snapshot(
            projectID: volume.projectID, userID: context.caller.userID, volumeID: volume.id, name: name ?? nil,
            description: description ?? nil, volumeSize: volume.size, volumeTypeID: volume.volumeTypeID,
            metadata: metadata)
        let deltas = env.quotaStore.snapshotDeltas(size: volume.size, volumeTypeName: volume.volumeTypeName)
        let limits = try await env.quotaStore.limits(projectID: volume.projectID)
        var requirements = [VolumeStore.volume(volume.id, statusIn: statuses, placed: true)]
        if let quota = env.quotaStore.requirement(projectID: volume.projectID, deltas: deltas, limits: limits) {
            requirements.append(quota)
        }
        guard try await env.snapshots.insert(snapshot, requiring: requirements) else {
            // Refused: either the volume changed meanwhile, or the quota is full.
            guard let now = try await env.volumes.get(volume.id) else { throw AshlarError.volumeNotFound(volume.id) }
            guard statuses.contains(now.status) else { throw Self.notSnapshottable(now, statuses: statuses) }
            throw try await env.quotaStore.refusal(projectID: volume.projectID, deltas: deltas, limits: limits)
        }
        CrashPoint.apiSnapshotInserted.reach()
        try await env.volumeRPC.createSnapshot(
            host: volume.host ?? "", .init(snapshotID: snapshot.id), context: context.caller)
        context.logger.info("snapshot \(snapshot.id) of volume \(volume.id) accepted")
        return JSONResponse.make(["snapshot": SnapshotView.detail(snapshot, context, form: .created)], status: .accepted)
    }

    /// `force` as Cinder reads it: a boolean or a boolean-like string; nil when absent.
    static func forceFlag(_ body: Fields) throws(AshlarError) -> Bool? {
        switch body.values["force"] {
        case .none, .null: return nil
        case .bool(let b): return b
        case .string(let s):
            guard let b = ExtraSpecMatcher.parseBool(s) else {
                throw Fields.invalid("force", .string(s), "'\(s)' is not a boolean.")
            }
            return b
        case .some(let other): throw Fields.invalid("force", other, "\(other.rendered) is not a boolean.")
        }
    }

    static func notSnapshottable(_ volume: Volume, statuses: Set<VolumeStatus>) -> AshlarError {
        if volume.status == .inUse {
            return AshlarError.invalidVolume(
                "Volume \(volume.id) is in-use: snapshotting it needs force=True before microversion 3.66.")
        }
        let allowed = statuses.map(\.rawValue).sorted().joined(separator: " or ")
        return AshlarError.invalidVolume(
            "Volume \(volume.id) status must be \(allowed) to take a snapshot, but it is \(volume.status.rawValue).")
    }

    // MARK: Read

    func find(_ context: APIRequestContext) async throws -> Snapshot {
        let id = context.parameters.get("id") ?? ""
        guard
            let snapshot = try await env.snapshots.get(
                id, projectID: context.caller.isAdmin ? nil : context.caller.projectID)
        else { throw AshlarError.snapshotNotFound(id) }
        return snapshot
    }

    func show(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        JSONResponse.make(["snapshot": SnapshotView.detail(try await find(context), context)])
    }

    func list(_ request: Request, _ context: APIRequestContext, detail: Bool) async throws -> Response {
        let params = ListParameters(request)
        let page = try params.pagination(maxLimit: env.osapiMaxLimit)
        let filtered = try await params.listQuery(
            context, userFilters: Self.userFilters, columns: SnapshotStore.columns
        ) { key, value, _ in
            guard key == "availability_zone" else { return .generic }
            // Snapshots live in their volume's zone; a zone no volume service has matches nothing.
            return try await env.volumeZones().contains(value) ? .handled : .matchesNothing
        }
        var snapshots: [Snapshot] = []
        if let query = filtered { snapshots = try await env.snapshots.list(query.paged(page)) }
        var body: [String: JSONValue] = [
            "snapshots": .array(snapshots.map { detail ? SnapshotView.detail($0, context) : SnapshotView.summary($0, context) })
        ]
        if let last = snapshots.last, page.limit <= snapshots.count {
            body["snapshots_links"] = Links.next(
                context, path: detail ? "snapshots/detail" : "snapshots", parameters: params, lastID: last.id)
        }
        if try params.withCount(context) {
            var count = 0
            if let filtered { count = try await env.snapshots.count(filtered) }
            body["count"] = .int(Int64(count))
        }
        return JSONResponse.make(.object(body))
    }

    // MARK: Update

    func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let body = try await request.object("snapshot", context, limit: env.maxRequestBodySize)
        if context.version >= APIVersion(3, 53) {
            try body.rejectUnknown(["name", "description", "display_name", "display_description"])
        }
        if body.values.isEmpty {
            throw AshlarError(.invalidInput, "Invalid input received: {} does not have enough properties.")
        }
        let name = try body.string("name") ?? body.string("display_name")
        let description = try body.string("description") ?? body.string("display_description")
        let snapshot = try await find(context)
        guard
            let updated = try await env.snapshots.update(
                snapshot.id, set: .init(name: name, description: description))
        else { throw AshlarError.snapshotNotFound(snapshot.id) }
        return JSONResponse.make(["snapshot": SnapshotView.detail(updated, context, form: .updated)])
    }

    // MARK: Delete

    func delete(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try await startDelete(try await find(context), force: false, context: context)
        return JSONResponse.empty(.accepted)
    }

    /// Moves the snapshot to `deleting` with one compare-and-swap (never while a volume is being made from it)
    /// and hands it to its volume's backend.
    func startDelete(_ snapshot: Snapshot, force: Bool, context: APIRequestContext) async throws {
        let event: SnapshotEvent = force ? .forceDeleteRequested : .deleteRequested
        let statuses: Set<SnapshotStatus>? = SnapshotStateMachine.table[event].from
        guard
            let deleting = try await env.snapshots.apply(
                event, to: snapshot.id,
                requiring: [SnapshotStore.notSourceOfCreatingVolume(snapshot.id), SnapshotStore.notGrouped])
        else {
            guard let now = try await env.snapshots.get(snapshot.id) else {
                throw AshlarError.snapshotNotFound(snapshot.id)
            }
            if let groupSnapshot = now.groupSnapshotID {
                throw AshlarError(
                    .invalidInput,
                    "Invalid snapshot: Snapshot \(snapshot.id) is part of group snapshot \(groupSnapshot); delete the group snapshot instead.")
            }
            if let statuses, !statuses.contains(now.status) {
                throw AshlarError(
                    .invalidInput,
                    "Invalid snapshot: Snapshot status must be available or error and must not be part of a group (it is \(now.status.rawValue)).")
            }
            throw AshlarError(
                .invalidInput,
                "Invalid snapshot: a volume is being created from snapshot \(snapshot.id); delete it once that is done.")
        }
        CrashPoint.apiSnapshotDeleteMarked.reach()
        guard let host = try await env.volumes.get(deleting.volumeID)?.host else {
            // Its volume was never placed: nothing exists on a backend.
            try await env.snapshots.delete(deleting.id)
            return
        }
        try await env.volumeRPC.deleteSnapshot(host: host, .init(snapshotID: deleting.id), context: context.caller)
    }

    // MARK: Actions

    func act(_ request: Request, _ context: APIRequestContext) async throws -> Response {
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
        let fields = Fields(argument.objectValue ?? [:])
        let snapshot = try await find(context)
        switch action {
        case "os-reset_status":
            try context.requireAdmin("volume_extension:snapshot_admin_actions:reset_status")
            try fields.rejectUnknown(["status"])
            let status = try Self.status(fields.requiredString("status"))
            guard try await env.snapshots.apply(.reset, to: snapshot.id, choosing: status) != nil else {
                guard let now = try await env.snapshots.get(snapshot.id) else {
                    throw AshlarError.snapshotNotFound(snapshot.id)
                }
                throw AshlarError(
                    .invalidInput,
                    "Invalid snapshot: snapshot \(snapshot.id) is \(now.status.rawValue): a delete in progress finishes (or os-force_delete does it) before its status can be reset.")
            }
            return JSONResponse.empty(.accepted)
        case "os-force_delete":
            try context.requireAdmin("volume_extension:snapshot_admin_actions:force_delete")
            try await startDelete(snapshot, force: true, context: context)
            return JSONResponse.empty(.accepted)
        case "os-update_snapshot_status":
            try fields.rejectUnknown(["status", "progress"])
            let status = try Self.status(fields.requiredString("status"))
            let progress = try fields.string("progress") ?? nil
            // The event that fits the snapshot's status; its compare-and-swap refuses a status that moved since.
            let event: SnapshotEvent =
                snapshot.status == .deleting ? .statusUpdatedWhileDeleting : .statusUpdatedWhileCreating
            let allowed: Set<SnapshotStatus> =
                if case .chosen(let allowed) = SnapshotStateMachine.table[event].to { allowed } else { [] }
            guard allowed.contains(status),
                try await env.snapshots.apply(event, to: snapshot.id, choosing: status, also: .init(progress: progress))
                    != nil
            else {
                throw AshlarError(
                    .invalidInput,
                    "Invalid input received: Provided snapshot status \(status.rawValue) is not allowed for snapshot with status \(snapshot.status.rawValue).")
            }
            return JSONResponse.empty(.accepted)
        case "os-unmanage":
            throw AshlarError(.notImplemented, "The action os-unmanage is not available yet in this Ashlar version.")
        default:
            throw AshlarError(.invalidInput, "There is no such action: \(action)")
        }
    }

    static func status(_ text: String) throws(AshlarError) -> SnapshotStatus {
        let status = SnapshotStatus(text.lowercased())
        guard SnapshotStatus.all.contains(status) else {
            throw AshlarError(.invalidInput, "Invalid input received: '\(text)' is not a snapshot status.")
        }
        return status
    }
}

/// The snapshot side of `/snapshots/{id}/metadata`.
struct SnapshotMetadataSubject: MetadataSubject {
    let env: APIEnvironment
    let snapshots: SnapshotsController
    var collection: String { "snapshots" }
    var noun: String { "Snapshot" }

    func read(_ context: APIRequestContext) async throws -> (id: String, metadata: [String: String]) {
        let snapshot = try await snapshots.find(context)
        return (snapshot.id, snapshot.metadata)
    }

    func modify(
        _ context: APIRequestContext, expected: [String: String]?, _ change: ([String: String]) -> [String: String]
    ) async throws -> [String: String] {
        var snapshot = try await snapshots.find(context)
        if let expected {
            guard snapshot.metadata == expected else { throw MetadataFormat.changedSinceRead }
            snapshot.metadata = expected
        }
        return try await env.snapshots.modifyMetadata(snapshot, onceOnly: expected != nil, change)
    }
}
