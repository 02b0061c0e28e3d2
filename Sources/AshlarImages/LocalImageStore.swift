import AshlarCore
import AshlarStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The image store built into the all-in-one: records in the database, data in files named after the image
/// under `directory` (`$state_path/images`). The API serves it as Glance v2 under `/image`; the volume service of
/// the same process reads the files directly, and clones them when they are on the volumes' filesystem.
///
/// Data arrives in a hidden `.ID.part` file that becomes the image only when it is complete and its hashes are
/// recorded; an upload cut short leaves the image `queued` again and its part file to the next start's sweep.
public struct LocalImageStore: ImageService {
    public let directory: String
    public let records: ImageStore

    public init(directory: String, database: AshlarDatabase) {
        self.directory = directory
        self.records = ImageStore(db: database)
    }

    /// Makes the directory and removes what interrupted uploads left.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".part") {
            unlink("\(directory)/\(name)")
        }
    }

    public func dataPath(of id: String) -> String { "\(directory)/\(id)" }

    // MARK: Records

    /// Whether `context` may see `image`: its owner, an administrator, or anyone for public and community
    /// images (shared ones have no members here, so only their owner sees them).
    public static func visible(_ image: Image, to context: CallerContext) -> Bool {
        context.isAdmin || image.owner == context.projectID || ["public", "community"].contains(image.visibility)
    }

    public func show(_ id: String, context: CallerContext) async throws -> Image {
        guard let image = try await records.get(id), Self.visible(image, to: context) else {
            throw AshlarError.imageNotFound(id)
        }
        return image
    }

    public func create(_ draft: ImageDraft, context: CallerContext) async throws -> Image {
        let image = Image(
            name: draft.name, visibility: draft.visibility ?? "shared", protected: draft.protected,
            owner: context.projectID, diskFormat: draft.diskFormat, containerFormat: draft.containerFormat,
            minDisk: draft.minDisk, minRAM: draft.minRAM, properties: draft.properties)
        try await records.insert(image)
        return image
    }

    public func delete(_ id: String, context: CallerContext) async throws {
        if try await records.delete(id) { unlink(dataPath(of: id)) }
    }

    public func localFile(of image: Image) -> String? {
        image.isActive ? dataPath(of: image.id) : nil
    }

    // MARK: Data

    /// Takes the data of a `queued` image: it goes `saving` (a second upload is refused with `.conflict`), then
    /// `active` with its size and hashes once `write` has had everything.
    public func receive(
        _ id: String, context: CallerContext, virtualSize: Int64? = nil,
        _ write: (ImageDataSink) async throws -> Void
    ) async throws -> Image {
        var image = try await show(id, context: context)
        guard image.status == "queued" else {
            throw AshlarError(.conflict, "Image status transition from \(image.status) to saving is not allowed")
        }
        let queued = image
        image.status = "saving"
        image.updatedAt = Date()
        guard try await records.replace(image, ifStatusIn: ["queued"]) else {
            throw AshlarError(.conflict, "Image \(id) is already being uploaded.")
        }
        let part = "\(directory)/.\(id).part"
        do {
            let sink = try ImageDataSink(path: part)
            do {
                try await write(sink)
                try await Blocking.run { try sink.finish() }
            } catch {
                sink.abandon()
                throw error
            }
            let (checksum, sha512) = sink.digest.finalize()
            guard rename(part, dataPath(of: id)) == 0 else {
                throw AshlarError(.internalError, "could not store the data of image \(id) (errno \(errno))")
            }
            image.status = "active"
            image.size = sink.digest.count
            let path = dataPath(of: id), declared = image.diskFormat
            if let virtualSize {
                image.virtualSize = virtualSize
            } else {
                image.virtualSize = try await Blocking.run(.quick) { Self.virtualSize(of: path, declared: declared) }
            }
            image.checksum = checksum
            image.osHashAlgorithm = "sha512"
            image.osHashValue = sha512
            image.updatedAt = Date()
            guard try await records.replace(image, ifStatusIn: ["saving"]) else {
                // Deleted while the data came: the data goes with it.
                unlink(dataPath(of: id))
                throw AshlarError.imageNotFound(id)
            }
            return image
        } catch {
            unlink(part)
            var back = queued
            back.updatedAt = Date()
            _ = try? await records.replace(back, ifStatusIn: ["saving"])
            throw error
        }
    }

    /// The disk size the data describes, when its content is the declared format (Glance leaves it unset
    /// otherwise).
    static func virtualSize(of path: String, declared: String?) -> Int64? {
        guard let inspection = try? ImageInspector.inspect(path: path) else { return nil }
        return inspection.format.rawValue == ImageInspector.contentFormat(declared: declared) ? inspection.virtualSize : nil
    }

    public func upload(_ id: String, from path: String, context: CallerContext, progress: ByteProgress?) async throws {
        _ = try await receive(id, context: context) { sink in
            try await Blocking.run { flag in try sink.append(contentsOf: path, progress: progress, cancellation: flag) }
        }
    }

    public func download(_ id: String, to path: String, context: CallerContext, progress: ByteProgress?) async throws {
        let image = try await show(id, context: context)
        guard let source = localFile(of: image) else {
            throw AshlarError(.invalidInput, "Image \(id) has no data (it is \(image.status)).")
        }
        try await Blocking.run { flag in
            let sink = try ImageDataSink(path: path)
            do {
                try sink.append(contentsOf: source, progress: progress, cancellation: flag)
                try sink.finish()
                let (checksum, sha512) = sink.digest.finalize()
                guard ImageDigest.matches(checksum: checksum, sha512: sha512, image: image) else {
                    throw AshlarError(.invalidInput, "Image \(id) failed verification: its data does not match its hash.")
                }
            } catch {
                sink.abandon()
                unlink(path)
                throw error
            }
        }
    }
}

/// A new file being written with image data, hashed as it is written.
public final class ImageDataSink: @unchecked Sendable {
    let fd: Int32
    public let path: String
    public private(set) var digest = ImageDigest()
    private var closed = false
    /// Blocks of zeros are skipped, not written: a sparse image stays sparse.
    static let block = 64 << 10

    /// Creates the file; one already there is replaced (a leftover of an attempt that died).
    public init(path: String) throws {
        unlink(path)
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AshlarError(.internalError, "cannot create \(path) (errno \(errno))") }
        self.path = path
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        digest.update(bytes)
        var offset = 0
        while offset < bytes.count {
            let length = min(Self.block, bytes.count - offset)
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
            if Self.isZero(chunk) {
                guard lseek(fd, off_t(length), SEEK_CUR) >= 0 else {
                    throw AshlarError(.internalError, "cannot seek in \(path) (errno \(errno))")
                }
            } else {
                var done = 0
                while done < length {
                    let written = Glibc.write(fd, chunk.baseAddress! + done, length - done)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw AshlarError(.internalError, "cannot write \(path) (errno \(errno))")
                    }
                    done += written
                }
            }
            offset += length
        }
    }

    private static let zeros = [UInt8](repeating: 0, count: block)

    /// Whether `chunk` (at most `block` bytes) is all zeros; memcmp, since a byte loop costs seconds a GiB.
    static func isZero(_ chunk: UnsafeRawBufferPointer) -> Bool {
        zeros.withUnsafeBytes { memcmp(chunk.baseAddress!, $0.baseAddress!, chunk.count) == 0 }
    }

    /// Appends the whole file at `path`, in chunks of 1 MiB, telling `progress` of each. Blocking: call it
    /// through `Blocking.run`, whose flag stops it early.
    public func append(
        contentsOf path: String, progress: ByteProgress?, cancellation: Blocking.CancellationFlag? = nil
    ) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AshlarError(.internalError, "cannot read \(path) (errno \(errno))") }
        defer { close(fd) }
        var info = stat()
        let total: Int64? = fstat(fd, &info) == 0 ? Int64(info.st_size) : nil
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            try cancellation?.check()
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AshlarError(.internalError, "cannot read \(path) (errno \(errno))")
            }
            if count == 0 { return }
            try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            progress?(digest.count, total)
        }
    }

    /// Sets the file's length (a trailing hole), flushes it to disk and closes it.
    public func finish() throws {
        defer { closeOnce() }
        guard ftruncate(fd, off_t(digest.count)) == 0, fsync(fd) == 0 else {
            throw AshlarError(.internalError, "cannot flush \(path) (errno \(errno))")
        }
    }

    /// Closes and removes the file.
    public func abandon() {
        closeOnce()
        unlink(path)
    }

    private func closeOnce() {
        if !closed { close(fd) }
        closed = true
    }
}
