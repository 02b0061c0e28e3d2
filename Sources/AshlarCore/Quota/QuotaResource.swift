import Foundation

/// The quota resources, named as Cinder's API and the `quotas` rows name them.
///
/// `volumes`, `gigabytes` and `snapshots` are counted from the rows themselves and also exist per volume type,
/// as `volumes_<type name>`, `gigabytes_<type name>` and `snapshots_<type name>`. A limit of `-1` means unlimited.
public enum QuotaResource {
    /// Volumes per project.
    public static let volumes = "volumes"
    /// Volume snapshots per project.
    public static let snapshots = "snapshots"
    /// GB of volumes (and snapshots, unless `no_snapshot_gb_quota`) per project.
    public static let gigabytes = "gigabytes"
    /// Backups per project (none exist yet: always 0 in use).
    public static let backups = "backups"
    /// GB of backups per project (always 0 in use).
    public static let backupGigabytes = "backup_gigabytes"
    /// The largest single volume, in GB: a limit only, never counted.
    public static let perVolumeGigabytes = "per_volume_gigabytes"
    /// Volume groups per project.
    public static let groups = "groups"

    /// The resources every project has, in Cinder's order.
    public static let global: [String] = [
        volumes, snapshots, gigabytes, backups, backupGigabytes, perVolumeGigabytes, groups,
    ]

    /// The counted resources that also exist per volume type, in the order refusals are reported.
    public static let perTypeBases: [String] = [volumes, gigabytes, snapshots]

    /// The limit of a per-type resource nobody set: unlimited.
    public static let perTypeDefault = -1

    /// The per-type resource `<base>_<type name>`.
    public static func perType(_ base: String, typeName: String) -> String { "\(base)_\(typeName)" }

    /// Every resource known while these volume types exist: the global ones, then each type's three.
    public static func all(typeNames: [String]) -> [String] {
        global + typeNames.flatMap { name in perTypeBases.map { perType($0, typeName: name) } }
    }

    /// The 413 Cinder gives for a volume larger than `per_volume_gigabytes`; nil when `size` is allowed.
    public static func sizeRefusal(size: Int, limits: [String: Int]) -> AshlarError? {
        guard let limit = limits[perVolumeGigabytes], limit >= 0, size > limit else { return nil }
        return .volumeSizeExceedsLimit(size: size, limit: limit)
    }

    /// Which counted resource a name is or is per type of (`volumes` for `volumes` and `volumes_<type>`);
    /// nil for the resources that are not counted.
    public static func base(of resource: String) -> String? {
        perTypeBases.first { resource == $0 || resource.hasPrefix($0 + "_") }
    }
}

/// What a change adds to (or, negative, takes from) a project's usage: `volumes` and `snapshots` in rows,
/// `gigabytes` in GB. With a volume type, the same deltas apply to that type's per-type resources too.
public struct QuotaDeltas: Sendable, Hashable {
    public var volumes: Int
    public var gigabytes: Int
    public var snapshots: Int
    /// The volume type's name, for `volumes_<name>`, `gigabytes_<name>` and `snapshots_<name>`.
    public var volumeTypeName: String?

    /// Deltas of the given sizes; zero for what is not given.
    public init(volumes: Int = 0, gigabytes: Int = 0, snapshots: Int = 0, volumeTypeName: String? = nil) {
        self.volumes = volumes
        self.gigabytes = gigabytes
        self.snapshots = snapshots
        self.volumeTypeName = volumeTypeName
    }

    /// A new volume of `size` GB.
    public static func volume(size: Int, volumeTypeName: String?) -> QuotaDeltas {
        QuotaDeltas(volumes: 1, gigabytes: size, volumeTypeName: volumeTypeName)
    }

    /// A new snapshot of a `size` GB volume; its gigabytes count only when `countsGigabytes`
    /// (that is, unless `no_snapshot_gb_quota` is set).
    public static func snapshot(size: Int, volumeTypeName: String?, countsGigabytes: Bool = true) -> QuotaDeltas {
        QuotaDeltas(gigabytes: countsGigabytes ? size : 0, snapshots: 1, volumeTypeName: volumeTypeName)
    }

    /// Growing a volume by `increase` GB.
    public static func extend(by increase: Int, volumeTypeName: String?) -> QuotaDeltas {
        QuotaDeltas(gigabytes: increase, volumeTypeName: volumeTypeName)
    }

    /// Every resource the deltas change, with its delta, in the order Cinder reports a refusal: `volumes`,
    /// `gigabytes`, `snapshots`, then the same three of the volume type. Zero deltas are left out.
    public var changes: [(resource: String, delta: Int)] {
        let base: [(String, Int)] = [
            (QuotaResource.volumes, volumes), (QuotaResource.gigabytes, gigabytes),
            (QuotaResource.snapshots, snapshots),
        ]
        var all = base
        if let volumeTypeName {
            all += base.map { (QuotaResource.perType($0.0, typeName: volumeTypeName), $0.1) }
        }
        return all.filter { $0.1 != 0 }.map { (resource: $0.0, delta: $0.1) }
    }

    /// The growing changes whose resource has a limit (`>= 0` in `limits`): what an admission must check.
    /// Shrinking changes always pass, even over quota, as in Cinder.
    public func limitedChanges(_ limits: [String: Int]) -> [(resource: String, delta: Int, limit: Int)] {
        changes.compactMap { change in
            guard change.delta > 0, let limit = limits[change.resource], limit >= 0 else { return nil }
            return (change.resource, change.delta, limit)
        }
    }

    /// The 413 for the first resource these deltas would take over its limit given `usage`, or nil when they fit.
    public func refusal(limits: [String: Int], usage: [String: Int]) -> AshlarError? {
        for change in limitedChanges(limits) {
            let inUse = usage[change.resource] ?? 0
            if inUse + change.delta > change.limit {
                return .quotaExceeded(
                    resource: change.resource, limit: change.limit, inUse: inUse, requested: change.delta)
            }
        }
        return nil
    }
}

extension AshlarError {
    /// The 413 Cinder gives when `requested` more of `resource` would exceed `limit` with `inUse` consumed
    /// (`VolumeLimitExceeded`, `VolumeSizeExceedsAvailableQuota`, `SnapshotLimitExceeded`, prefixed with the
    /// exception's name as Cinder's fault wrapper does).
    public static func quotaExceeded(resource: String, limit: Int, inUse: Int, requested: Int) -> AshlarError {
        switch QuotaResource.base(of: resource) {
        case QuotaResource.volumes:
            return AshlarError(
                .overLimit,
                "VolumeLimitExceeded: Maximum number of volumes allowed (\(limit)) exceeded for quota '\(resource)'.")
        case QuotaResource.gigabytes:
            return AshlarError(
                .overLimit,
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed \(resource) quota. "
                    + "Requested \(requested)G, quota is \(limit)G and \(inUse)G has been consumed.")
        case QuotaResource.snapshots:
            return AshlarError(
                .overLimit, "SnapshotLimitExceeded: Maximum number of snapshots allowed (\(limit)) exceeded")
        default:
            if resource == QuotaResource.perVolumeGigabytes {
                return volumeSizeExceedsLimit(size: requested, limit: limit)
            }
            return AshlarError(.overLimit, "OverQuota: Quota exceeded for resources: ['\(resource)']")
        }
    }

    /// The 413 Cinder gives for a volume larger than `per_volume_gigabytes`.
    public static func volumeSizeExceedsLimit(size: Int, limit: Int) -> AshlarError {
        AshlarError(
            .overLimit,
            "VolumeSizeExceedsLimit: Requested volume size \(size)G is larger than maximum allowed limit \(limit)G.")
    }
}
