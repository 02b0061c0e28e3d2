import Foundation

/// Default per-project quotas, read from `[DEFAULT]` with cinder's option names.
///
/// `-1` means unlimited; every limit must be at least `-1`.
public struct QuotaDefaults: Sendable, Equatable {
    /// `quota_volumes`: volumes per project.
    public var volumes: Int
    /// `quota_snapshots`: snapshots per project.
    public var snapshots: Int
    /// `quota_gigabytes`: total GB of volumes and snapshots per project.
    public var gigabytes: Int
    /// `quota_backups`: backups per project.
    public var backups: Int
    /// `quota_backup_gigabytes`: total GB of backups per project.
    public var backupGigabytes: Int
    /// `quota_groups`: volume groups per project.
    public var groups: Int
    /// `per_volume_size_limit`: the largest single volume in GB.
    public var perVolumeSizeLimit: Int
    /// `no_snapshot_gb_quota`: when true, snapshots do not count against the gigabytes quotas.
    public var noSnapshotGigabytes: Bool

    /// Creates quota defaults; every argument defaults to cinder's default.
    public init(
        volumes: Int = 10,
        snapshots: Int = 10,
        gigabytes: Int = 1000,
        backups: Int = 10,
        backupGigabytes: Int = 1000,
        groups: Int = 10,
        perVolumeSizeLimit: Int = -1,
        noSnapshotGigabytes: Bool = false
    ) {
        self.volumes = volumes
        self.snapshots = snapshots
        self.gigabytes = gigabytes
        self.backups = backups
        self.backupGigabytes = backupGigabytes
        self.groups = groups
        self.perVolumeSizeLimit = perVolumeSizeLimit
        self.noSnapshotGigabytes = noSnapshotGigabytes
    }

    /// The configured limit of every global quota resource, by Cinder's resource name.
    public var limits: [String: Int] {
        [
            QuotaResource.volumes: volumes, QuotaResource.snapshots: snapshots, QuotaResource.gigabytes: gigabytes,
            QuotaResource.backups: backups, QuotaResource.backupGigabytes: backupGigabytes,
            QuotaResource.perVolumeGigabytes: perVolumeSizeLimit, QuotaResource.groups: groups,
        ]
    }

    /// The option names this type reads from `[DEFAULT]`.
    static let optionNames: Set<String> = [
        "quota_volumes", "quota_snapshots", "quota_gigabytes", "quota_backups",
        "quota_backup_gigabytes", "quota_groups", "per_volume_size_limit", "no_snapshot_gb_quota",
    ]

    /// Reads the quotas from `[DEFAULT]`, falling back to the defaults above.
    init(layers: AshlarConfig.Layers) throws(ConfigError) {
        let defaults = QuotaDefaults()
        func limit(_ option: String, _ fallback: Int) throws(ConfigError) -> Int {
            try layers.setting(option, in: INIFile.defaultSection)?.int(in: -1...Int.max) ?? fallback
        }
        self.init(
            volumes: try limit("quota_volumes", defaults.volumes),
            snapshots: try limit("quota_snapshots", defaults.snapshots),
            gigabytes: try limit("quota_gigabytes", defaults.gigabytes),
            backups: try limit("quota_backups", defaults.backups),
            backupGigabytes: try limit("quota_backup_gigabytes", defaults.backupGigabytes),
            groups: try limit("quota_groups", defaults.groups),
            perVolumeSizeLimit: try limit("per_volume_size_limit", defaults.perVolumeSizeLimit),
            noSnapshotGigabytes: try layers.setting("no_snapshot_gb_quota", in: INIFile.defaultSection)?.bool()
                ?? defaults.noSnapshotGigabytes
        )
    }
}
