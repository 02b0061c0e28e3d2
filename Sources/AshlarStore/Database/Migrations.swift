import AshlarCore
import Logging
import SQLKit

/// The schema, as numbered steps. Each step runs once; the applied version is kept in `schema_version`.
/// Types are chosen to mean the same on SQLite and PostgreSQL; timestamps are seconds since 1970 as doubles.
enum Migrations {
    static let steps: [[String]] = [
        [
            """
            CREATE TABLE volumes (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(255) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                name VARCHAR(255),
                description VARCHAR(255),
                size INTEGER NOT NULL,
                status VARCHAR(64) NOT NULL,
                attach_status VARCHAR(64) NOT NULL,
                availability_zone VARCHAR(255) NOT NULL,
                volume_type_id VARCHAR(36) NOT NULL,
                host VARCHAR(255),
                bootable BOOLEAN NOT NULL,
                multiattach BOOLEAN NOT NULL,
                encrypted BOOLEAN NOT NULL,
                snapshot_id VARCHAR(36),
                source_volid VARCHAR(36),
                migration_status VARCHAR(255),
                replication_status VARCHAR(255),
                previous_status VARCHAR(255),
                consumes_quota BOOLEAN NOT NULL,
                metadata TEXT NOT NULL,
                admin_metadata TEXT NOT NULL,
                image_metadata TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION,
                launched_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX volumes_project_created ON volumes (project_id, created_at)",
            "CREATE INDEX volumes_host ON volumes (host)",
            "CREATE INDEX volumes_type ON volumes (volume_type_id)",
            """
            CREATE TABLE volume_types (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL UNIQUE,
                description VARCHAR(255),
                is_public BOOLEAN NOT NULL,
                extra_specs TEXT NOT NULL,
                qos_specs_id VARCHAR(36),
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            """
            CREATE TABLE volume_type_projects (
                volume_type_id VARCHAR(36) NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
                project_id VARCHAR(255) NOT NULL,
                PRIMARY KEY (volume_type_id, project_id)
            )
            """,
            """
            CREATE TABLE default_types (
                project_id VARCHAR(255) PRIMARY KEY,
                volume_type_id VARCHAR(36) NOT NULL REFERENCES volume_types (id)
            )
            """,
            """
            CREATE TABLE services (
                host VARCHAR(255) NOT NULL,
                binary_name VARCHAR(255) NOT NULL,
                topic VARCHAR(255) NOT NULL,
                availability_zone VARCHAR(255) NOT NULL,
                disabled BOOLEAN NOT NULL,
                disabled_reason VARCHAR(255),
                frozen BOOLEAN NOT NULL,
                report_count INTEGER NOT NULL,
                backend_state VARCHAR(64),
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION,
                PRIMARY KEY (host, binary_name)
            )
            """,
            """
            CREATE TABLE messages (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(255) NOT NULL,
                request_id VARCHAR(255),
                resource_type VARCHAR(255),
                resource_uuid VARCHAR(36),
                event_id VARCHAR(255) NOT NULL,
                message_level VARCHAR(255) NOT NULL,
                user_message TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )
            """,
        ],
        [
            // The scheduler asks for the few unusable services on every decision: each term of its OR indexed.
            "CREATE INDEX services_disabled ON services (disabled)",
            "CREATE INDEX services_frozen ON services (frozen)",
            "CREATE INDEX services_updated ON services (updated_at)",
        ],
        [
            """
            CREATE TABLE snapshots (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(255) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                volume_id VARCHAR(36) NOT NULL,
                name VARCHAR(255),
                description VARCHAR(255),
                status VARCHAR(64) NOT NULL,
                progress VARCHAR(32) NOT NULL,
                volume_size INTEGER NOT NULL,
                volume_type_id VARCHAR(36) NOT NULL,
                consumes_quota BOOLEAN NOT NULL,
                metadata TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX snapshots_project_created ON snapshots (project_id, created_at)",
            "CREATE INDEX snapshots_volume ON snapshots (volume_id)",
            // Volumes made from a snapshot or another volume: their sources may not go while they are made.
            "CREATE INDEX volumes_snapshot ON volumes (snapshot_id)",
            "CREATE INDEX volumes_source ON volumes (source_volid)",
            // The size an extend is growing the volume to: it counts against the gigabytes quota from the moment
            // the extend is accepted, and is cleared when the extend ends either way.
            "ALTER TABLE volumes ADD COLUMN extend_to INTEGER",
            // Limits set for one project, and for a quota class (`default`); what is set nowhere comes from the
            // configuration. Usage is never stored: it is counted from the volumes and snapshots themselves.
            """
            CREATE TABLE quotas (
                project_id VARCHAR(255) NOT NULL,
                resource VARCHAR(255) NOT NULL,
                hard_limit INTEGER NOT NULL,
                PRIMARY KEY (project_id, resource)
            )
            """,
            """
            CREATE TABLE quota_classes (
                class_name VARCHAR(255) NOT NULL,
                resource VARCHAR(255) NOT NULL,
                hard_limit INTEGER NOT NULL,
                PRIMARY KEY (class_name, resource)
            )
            """,
        ],
        [
            """
            CREATE TABLE volume_attachments (
                id VARCHAR(36) PRIMARY KEY,
                volume_id VARCHAR(36) NOT NULL,
                project_id VARCHAR(255) NOT NULL,
                instance_uuid VARCHAR(36),
                attached_host VARCHAR(255),
                mountpoint VARCHAR(255),
                attach_mode VARCHAR(8) NOT NULL,
                attach_status VARCHAR(64) NOT NULL,
                connector TEXT,
                connection_info TEXT,
                attach_time DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id)",
            // Where the volume is exported (portal, IQN, LUN) and its CHAP credentials, as Cinder keeps them.
            "ALTER TABLE volumes ADD COLUMN provider_location VARCHAR(255)",
            "ALTER TABLE volumes ADD COLUMN provider_auth VARCHAR(255)",
        ],
        [
            // QoS specs; a volume type points at one through volume_types.qos_specs_id.
            """
            CREATE TABLE qos_specs (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                consumer VARCHAR(16) NOT NULL,
                specs TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE UNIQUE INDEX qos_specs_name ON qos_specs (name)",
            "CREATE INDEX volume_types_qos_specs ON volume_types (qos_specs_id)",
        ],
        [
            // Volume transfers: the key is kept only as a salted hash; accepted ones stay, as history (3.57).
            """
            CREATE TABLE transfers (
                id VARCHAR(36) PRIMARY KEY,
                volume_id VARCHAR(36) NOT NULL,
                name VARCHAR(255),
                salt VARCHAR(255) NOT NULL,
                crypt_hash VARCHAR(255) NOT NULL,
                source_project_id VARCHAR(255) NOT NULL,
                destination_project_id VARCHAR(255),
                accepted BOOLEAN NOT NULL,
                no_snapshots BOOLEAN NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX transfers_volume ON transfers (volume_id)",
        ],
        [
            // Generic volume groups (3.11–3.20): group types with their specs, groups with the volume types they
            // take, group snapshots; a volume names its group, a snapshot its group snapshot.
            """
            CREATE TABLE group_types (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                description VARCHAR(255),
                is_public BOOLEAN NOT NULL,
                group_specs TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE UNIQUE INDEX group_types_name ON group_types (name)",
            """
            CREATE TABLE volume_groups (
                id VARCHAR(36) PRIMARY KEY,
                project_id VARCHAR(255) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                name VARCHAR(255),
                description VARCHAR(255),
                group_type_id VARCHAR(36) NOT NULL,
                status VARCHAR(64) NOT NULL,
                availability_zone VARCHAR(255) NOT NULL,
                host VARCHAR(255),
                group_snapshot_id VARCHAR(36),
                source_group_id VARCHAR(36),
                replication_status VARCHAR(255),
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX volume_groups_project ON volume_groups (project_id)",
            """
            CREATE TABLE group_volume_types (
                group_id VARCHAR(36) NOT NULL,
                volume_type_id VARCHAR(36) NOT NULL,
                ordinal INTEGER NOT NULL,
                PRIMARY KEY (group_id, volume_type_id)
            )
            """,
            "CREATE INDEX group_volume_types_type ON group_volume_types (volume_type_id)",
            """
            CREATE TABLE group_snapshots (
                id VARCHAR(36) PRIMARY KEY,
                group_id VARCHAR(36) NOT NULL,
                project_id VARCHAR(255) NOT NULL,
                user_id VARCHAR(255) NOT NULL,
                name VARCHAR(255),
                description VARCHAR(255),
                group_type_id VARCHAR(36) NOT NULL,
                status VARCHAR(64) NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX group_snapshots_group ON group_snapshots (group_id)",
            "ALTER TABLE volumes ADD COLUMN group_id VARCHAR(36)",
            "CREATE INDEX volumes_group ON volumes (group_id)",
            "ALTER TABLE snapshots ADD COLUMN group_snapshot_id VARCHAR(36)",
            "CREATE INDEX snapshots_group_snapshot ON snapshots (group_snapshot_id)",
        ],
        [
            // Volume type encryption (`/types/{id}/encryption`): at most one per type.
            """
            CREATE TABLE volume_type_encryption (
                volume_type_id VARCHAR(36) PRIMARY KEY,
                encryption_id VARCHAR(36) NOT NULL,
                provider VARCHAR(255) NOT NULL,
                cipher VARCHAR(255),
                key_size INTEGER,
                control_location VARCHAR(255) NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION
            )
            """,
        ],
        [
            // The image store built into the all-in-one (`/image`, Glance v2's records); the data is in files.
            """
            CREATE TABLE images (
                id VARCHAR(36) PRIMARY KEY,
                name VARCHAR(255),
                status VARCHAR(30) NOT NULL,
                visibility VARCHAR(20) NOT NULL,
                protected BOOLEAN NOT NULL,
                owner VARCHAR(255),
                disk_format VARCHAR(20),
                container_format VARCHAR(20),
                size BIGINT,
                virtual_size BIGINT,
                checksum VARCHAR(32),
                os_hash_algo VARCHAR(64),
                os_hash_value VARCHAR(128),
                min_disk INTEGER NOT NULL,
                min_ram INTEGER NOT NULL,
                tags TEXT NOT NULL,
                properties TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
        ],
    ]

    /// The session advisory lock migrations run under on PostgreSQL.
    static let lockKey = 0x6173_686C_6172_6D  // "ashlarm"

    /// The applied version; 0 for an empty database.
    static func currentVersion(on db: any SQLDatabase) async throws -> Int {
        do {
            return try await db.raw("SELECT version FROM schema_version").first()?.decode(column: "version", as: Int.self)
                ?? 0
        } catch let error as AshlarError {
            throw error  // the database unreachable
        } catch {
            return 0  // no schema_version table yet
        }
    }

    static func run(on db: any SQLDatabase, logger: Logger) async throws {
        try await db.raw("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").run()
        let rows = try await db.raw("SELECT version FROM schema_version").all()
        var version = try rows.first?.decode(column: "version", as: Int.self) ?? 0
        if rows.isEmpty { try await db.raw("INSERT INTO schema_version (version) VALUES (0)").run() }
        while version < steps.count {
            for statement in steps[version] {
                try await db.raw(SQLQueryString(statement)).run()
            }
            version += 1
            try await db.raw("UPDATE schema_version SET version = \(bind: version)").run()
            logger.info("database schema migrated", metadata: ["version": "\(version)"])
        }
    }
}
