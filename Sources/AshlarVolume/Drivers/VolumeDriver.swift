import AshlarCore
import Foundation

/// What a storage backend must do for the volume manager. Drivers throw `AshlarError(.driverFailure, …)`.
public protocol VolumeDriver: Sendable {
    /// Prepares the backend (directories, connections); a failure keeps the backend down.
    func doSetup() async throws
    /// Creates an empty volume of `sizeGB` GiB. On failure nothing of it may remain.
    func createVolume(id: String, sizeGB: Int) async throws
    /// Deletes the volume; deleting one that does not exist succeeds.
    func deleteVolume(id: String) async throws
    /// Capacity and capabilities in Cinder's stats format; `provisionedGB`/`volumeCount` come from the database.
    func stats(provisionedGB: Int, volumeCount: Int) async throws -> [String: JSONValue]
}
