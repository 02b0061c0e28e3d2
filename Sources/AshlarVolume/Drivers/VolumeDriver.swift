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
    /// Makes snapshot `id`: a point-in-time copy of volume `volumeID`'s data. On failure nothing of it may remain.
    func createSnapshot(id: String, volumeID: String) async throws
    /// Deletes snapshot `id`; deleting one that does not exist succeeds.
    func deleteSnapshot(id: String) async throws
    /// Creates volume `id` holding snapshot `snapshotID`'s data, grown to `sizeGB` GiB when that is larger.
    /// A `sizeGB` smaller than the snapshot throws. On failure nothing of the volume may remain.
    func createVolume(id: String, sizeGB: Int, fromSnapshot snapshotID: String) async throws
    /// Creates volume `id` holding volume `sourceID`'s current data, grown to `sizeGB` GiB when that is larger.
    /// A `sizeGB` smaller than the source throws. On failure nothing of the volume may remain.
    func createVolume(id: String, sizeGB: Int, cloneOf sourceID: String) async throws
    /// Creates volume `id` holding the data of the file or device at `path` (the volume on another backend of this
    /// node, moving here), grown to `sizeGB` GiB. On failure nothing of the volume may remain.
    func createVolume(id: String, sizeGB: Int, copyingFile path: String) async throws
    /// Grows volume `id` to `newSizeGB` GiB, keeping its data; a smaller size throws.
    func extendVolume(id: String, newSizeGB: Int) async throws
    /// Makes volume `id`'s data snapshot `snapshotID`'s; a volume extended since the snapshot keeps its size (the
    /// part past the snapshot reads as zeros). A failure leaves the volume as it was.
    func revertVolume(id: String, toSnapshot snapshotID: String) async throws
    /// Capacity and capabilities in Cinder's stats format; `provisionedGB`/`volumeCount` come from the database.
    func stats(provisionedGB: Int, volumeCount: Int) async throws -> [String: JSONValue]
    /// The file or device holding the volume's data, for the target that exports it (Cinder's `local_path`).
    func localPath(forVolume id: String) -> String
    /// A folder on the volumes' own storage for the image cache, so that its copies clone cheaply; nil when the
    /// backend has none.
    var imageCacheDirectory: String? { get }
}
