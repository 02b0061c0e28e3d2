import AshlarCore
import Logging

/// Rows every deployment needs before it serves requests.
public enum Bootstrap {
    /// Creates `__DEFAULT__` when missing, as Cinder's schema migration does, and warns when
    /// `default_volume_type` names a type that does not exist.
    public static func ensureDefaultType(config: AshlarConfig, database: AshlarDatabase, logger: Logger) async throws {
        let types = VolumeTypeStore(db: database)
        if try await types.get(name: VolumeType.defaultName) == nil {
            do {
                try await types.insert(VolumeType(name: VolumeType.defaultName, description: "Default Volume Type"))
            } catch let error as AshlarError where error.code == .conflict {
                // Another process created it first.
            }
        }
        if try await types.find(config.defaultVolumeType) == nil {
            logger.warning(
                "default_volume_type \(config.defaultVolumeType) does not exist: volumes created without a type will fail until it is created"
            )
        }
    }
}
