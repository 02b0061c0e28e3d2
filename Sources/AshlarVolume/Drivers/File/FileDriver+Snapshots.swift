import AshlarCore
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Snapshots, clones, extend and revert: snapshots are files `snapshot-<id>` beside the volumes, and every copy is
/// made by `FileCopy` (a reflink where the filesystem has them, a sparse copy elsewhere).
extension FileDriver {
    /// The file holding snapshot `id`.
    public func snapshotPath(for id: String) -> String { "\(directory)/snapshot-\(id)" }

    public func createSnapshot(id: String, volumeID: String) async throws {
        let source = path(for: volumeID)
        let target = snapshotPath(for: id)
        try await Blocking.run {
            // A leftover from an attempt that died half-way is replaced: the snapshot is new.
            unlink(target)
            try FileCopy.clone(from: source, to: target)
            syncDirectory()
        }
    }

    public func deleteSnapshot(id: String) async throws {
        let target = snapshotPath(for: id)
        if unlink(target) != 0 && errno != ENOENT {
            throw FileCopy.failure("delete \(target)")
        }
    }

    public func createVolume(id: String, sizeGB: Int, fromSnapshot snapshotID: String) async throws {
        try await createVolume(id: id, sizeGB: sizeGB, copying: snapshotPath(for: snapshotID))
    }

    public func createVolume(id: String, sizeGB: Int, cloneOf sourceID: String) async throws {
        try await createVolume(id: id, sizeGB: sizeGB, copying: path(for: sourceID))
    }

    public func createVolume(id: String, sizeGB: Int, copyingFile path: String) async throws {
        try await createVolume(id: id, sizeGB: sizeGB, copying: path)
    }

    public func extendVolume(id: String, newSizeGB: Int) async throws {
        let target = path(for: id)
        try await Blocking.run {
            let fd = open(target, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw FileCopy.failure("open \(target)") }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw FileCopy.failure("read the size of \(target)") }
            let newSize = Int64(newSizeGB) * Self.gib
            guard newSize >= Int64(st.st_size) else {
                throw AshlarError(
                    .driverFailure,
                    "Could not extend \(target) to \(newSizeGB) GiB: it already holds \(st.st_size) bytes and a volume cannot shrink"
                )
            }
            guard ftruncate(fd, off_t(newSize)) == 0 else {
                throw FileCopy.failure("extend \(target) to \(newSizeGB) GiB")
            }
            guard fsync(fd) == 0 else { throw FileCopy.failure("sync \(target)") }
        }
    }

    /// Builds the snapshot's content in a temporary file beside the volume and renames it over the volume, so a
    /// failure (or a crash) leaves the volume as it was. A volume extended after the snapshot keeps its size; the
    /// part past the snapshot's end reads as zeros.
    public func revertVolume(id: String, toSnapshot snapshotID: String) async throws {
        let target = path(for: id)
        let snapshot = snapshotPath(for: snapshotID)
        // A dot name that does not start with `volume-`, so capacity accounting never counts it.
        let temporary = "\(directory)/.volume-\(id).revert-\(UUID().uuidString.prefix(8).lowercased())"
        try await Blocking.run {
            var st = stat()
            // A volume that is gone is not brought back by a revert.
            guard stat(target, &st) == 0 else { throw FileCopy.failure("read \(target)") }
            try FileCopy.clone(from: snapshot, to: temporary)
            do {
                try Self.grow(temporary, to: Int64(st.st_size))
                guard rename(temporary, target) == 0 else {
                    throw FileCopy.failure("replace \(target) with \(temporary)")
                }
            } catch {
                unlink(temporary)
                throw error
            }
            syncDirectory()
        }
    }

    /// A new volume `id` holding the data of the file at `source`, grown to `sizeGB` GiB.
    private func createVolume(id: String, sizeGB: Int, copying source: String) async throws {
        let target = path(for: id)
        let newSize = Int64(sizeGB) * Self.gib
        try await Blocking.run {
            var st = stat()
            guard stat(source, &st) == 0 else { throw FileCopy.failure("read \(source)") }
            guard newSize >= Int64(st.st_size) else {
                throw AshlarError(
                    .driverFailure,
                    "Could not create \(target) of \(sizeGB) GiB from \(source): the source holds \(st.st_size) bytes"
                )
            }
            // A leftover from an attempt that died half-way is replaced: the volume is new.
            unlink(target)
            try FileCopy.clone(from: source, to: target)
            do {
                try Self.grow(target, to: newSize)
            } catch {
                unlink(target)
                throw error
            }
            syncDirectory()
        }
    }

    /// Extends the file at `path` to `size` bytes (a hole, nothing written) and syncs it; a larger file, which the
    /// source became by growing during the copy, is an error.
    private static func grow(_ path: String, to size: Int64) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileCopy.failure("open \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileCopy.failure("read the size of \(path)") }
        if Int64(st.st_size) == size { return }
        guard Int64(st.st_size) < size else {
            throw AshlarError(.driverFailure, "Could not size \(path) to \(size) bytes: it holds \(st.st_size)")
        }
        guard ftruncate(fd, off_t(size)) == 0 else { throw FileCopy.failure("size \(path) to \(size) bytes") }
        guard fsync(fd) == 0 else { throw FileCopy.failure("sync \(path)") }
    }

    /// Makes a new or renamed entry in the directory durable. Best effort: the file itself is already synced,
    /// and the operation has happened, so failing it now would only mislead the caller.
    private func syncDirectory() {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
