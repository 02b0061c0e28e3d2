import AshlarCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Copies of images as written to volumes, kept on the volumes' own storage (`image_volume_cache_enabled`):
/// the next volume from the same image is a copy-on-write clone of the copy, with nothing downloaded, inspected
/// or converted again. An entry is named after the image and its hash, so a changed image is never served from
/// an old copy; it appears by a rename only once complete, so a crash leaves no half entry; the least recently
/// used go first when `image_volume_cache_max_count` or `image_volume_cache_max_size_gb` is passed.
public struct ImageVolumeCache: Sendable {
    public let directory: String
    public let maxSizeGB: Int
    public let maxCount: Int

    public init(directory: String, maxSizeGB: Int = 0, maxCount: Int = 0) {
        self.directory = directory
        self.maxSizeGB = maxSizeGB
        self.maxCount = maxCount
    }

    func entryName(_ image: Image) -> String {
        let version = image.osHashValue.map { String($0.prefix(32)) } ?? image.checksum ?? "\(Int(image.updatedAt.timeIntervalSince1970))"
        return "\(image.id).\(version)"
    }

    /// Makes the folder and removes what an interrupted store left.
    public func prepare() {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".part") {
            unlink("\(directory)/\(name)")
        }
    }

    /// The copy of `image`, marked as just used; nil when there is none.
    public func lookup(_ image: Image) -> String? {
        let path = "\(directory)/\(entryName(image))"
        guard access(path, R_OK) == 0 else { return nil }
        utimes(path, nil)
        return path
    }

    /// Keeps the first `virtualSize` bytes of the volume file at `volumePath` as the copy of `image` (a clone
    /// where the filesystem can), then trims the cache to its limits. A failure only costs the cache its entry.
    public func store(_ image: Image, from volumePath: String, virtualSize: Int64) async throws {
        try await Blocking.run { try storeBlocking(image, from: volumePath, virtualSize: virtualSize) }
    }

    private func storeBlocking(_ image: Image, from volumePath: String, virtualSize: Int64) throws {
        let name = entryName(image)
        let part = "\(directory)/.\(name).part"
        unlink(part)
        do {
            _ = try FileCopy.clone(from: volumePath, to: part)
            guard truncate(part, off_t(virtualSize)) == 0, rename(part, "\(directory)/\(name)") == 0 else {
                throw FileCopy.failure("store image \(image.id) in the cache")
            }
        } catch {
            unlink(part)
            throw error
        }
        trim()
    }

    /// Removes the least recently used entries while the cache is over a limit.
    public func trim() {
        guard maxCount > 0 || maxSizeGB > 0 else { return }
        var entries: [(path: String, used: Int, size: Int64)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !name.hasPrefix(".") {
            var info = stat()
            let path = "\(directory)/\(name)"
            guard stat(path, &info) == 0 else { continue }
            entries.append((path, info.st_mtim.tv_sec, Int64(info.st_size)))
        }
        entries.sort { $0.used < $1.used }
        var total = entries.reduce(0) { $0 + $1.size }
        let limit = Int64(maxSizeGB) << 30
        while let oldest = entries.first,
            (maxCount > 0 && entries.count > maxCount) || (maxSizeGB > 0 && total > limit)
        {
            unlink(oldest.path)
            total -= oldest.size
            entries.removeFirst()
        }
    }

    /// The entries there are, for tests and the operator.
    public func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}
