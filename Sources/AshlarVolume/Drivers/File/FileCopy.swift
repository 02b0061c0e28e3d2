import AshlarCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Copies a volume file to a new file: by sharing its extents when the filesystem can (a reflink, which takes
/// milliseconds whatever the size), and otherwise by copying only the ranges that hold data, so holes stay holes.
public enum FileCopy {
    /// How a copy was made.
    public enum Method: Sendable, Equatable {
        /// The copy shares the source's extents (`FICLONE`); blocks are duplicated only when either file is written.
        case reflink
        /// The source's data ranges were copied and its holes left as holes.
        case sparseCopy
    }

    /// Copies `source` to `destination`, a file that must not exist yet (created with mode 0600), and syncs it.
    ///
    /// Tries a reflink first and falls back to a sparse copy when the filesystem refuses one. On failure the
    /// destination is removed. Throws `AshlarError(.driverFailure, …)` naming the path and the system's reason.
    @discardableResult
    public static func clone(from source: String, to destination: String) throws -> Method {
        try copy(from: source, to: destination, reflink: true, copyFileRange: true)
    }

    /// Whether files in `directory` can be reflinked, found by cloning one probe file to another (both removed).
    public static func supportsReflink(in directory: String) -> Bool {
        #if os(Linux)
            let base = "\(directory)/.reflink-probe-\(UUID().uuidString.lowercased())"
            let source = open(base + "-a", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
            guard source >= 0 else { return false }
            defer {
                close(source)
                unlink(base + "-a")
            }
            // A written block, so the probe clones data as a volume copy would.
            let block = [UInt8](repeating: 0x5A, count: 4096)
            guard block.withUnsafeBytes({ pwrite(source, $0.baseAddress, $0.count, 0) }) == block.count else {
                return false
            }
            let clone = open(base + "-b", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            guard clone >= 0 else { return false }
            defer {
                close(clone)
                unlink(base + "-b")
            }
            return ioctl(clone, ficlone, source) == 0
        #else
            return false
        #endif
    }

    /// `clone(from:to:)` with either fast path switchable off, so tests can reach the fallbacks.
    @discardableResult
    static func copy(from source: String, to destination: String, reflink: Bool, copyFileRange: Bool) throws -> Method {
        let src = open(source, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw failure("open \(source)") }
        defer { close(src) }
        var st = stat()
        guard fstat(src, &st) == 0 else { throw failure("read the size of \(source)") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw AshlarError(.driverFailure, "Could not copy \(source): it is not a regular file")
        }
        let dst = open(destination, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard dst >= 0 else { throw failure("create \(destination)") }

        var outcome: Result<Method, AshlarError>
        do throws(AshlarError) {
            var method = Method.sparseCopy
            if reflink, try cloneExtents(from: src, to: dst, destination: destination) {
                method = .reflink
            } else {
                let copier = RangeCopier(
                    src: src, dst: dst, source: source, destination: destination, useCopyFileRange: copyFileRange)
                try copier.copyData(size: Int64(st.st_size))
                // Sets the size without writing: the trailing hole, if any, stays a hole.
                guard ftruncate(dst, off_t(st.st_size)) == 0 else { throw failure("size \(destination)") }
            }
            guard fsync(dst) == 0 else { throw failure("sync \(destination)") }
            outcome = .success(method)
        } catch {
            outcome = .failure(error)
        }
        if close(dst) != 0, case .success = outcome { outcome = .failure(failure("close \(destination)")) }
        if case .failure = outcome { unlink(destination) }
        return try outcome.get()
    }

    /// A reflink of the whole file; false when the filesystem cannot make one here, so the caller copies instead.
    private static func cloneExtents(from src: Int32, to dst: Int32, destination: String) throws(AshlarError) -> Bool {
        #if os(Linux)
            if ioctl(dst, ficlone, src) == 0 { return true }
            let code = errno
            // No reflink support (ext4, tmpfs), another filesystem, or an ioctl the filesystem does not know.
            if code == EOPNOTSUPP || code == EXDEV || code == EINVAL || code == ENOTTY { return false }
            throw failure("clone into \(destination)", code)
        #else
            return false
        #endif
    }

    /// Copies the data ranges of one open file into another at the same offsets.
    private final class RangeCopier {
        let src: Int32
        let dst: Int32
        let source: String
        let destination: String
        var useCopyFileRange: Bool
        private var buffer: UnsafeMutableRawPointer?

        init(src: Int32, dst: Int32, source: String, destination: String, useCopyFileRange: Bool) {
            self.src = src
            self.dst = dst
            self.source = source
            self.destination = destination
            self.useCopyFileRange = useCopyFileRange && FileCopy.copyFileRange != nil
        }

        deinit { buffer?.deallocate() }

        /// Walks the source's data extents up to `size` and copies each; holes are skipped, never written.
        func copyData(size: Int64) throws(AshlarError) {
            var offset: Int64 = 0
            while offset < size {
                var start = Int64(lseek(src, off_t(offset), FileCopy.seekData))
                var end: Int64
                if start < 0 {
                    let code = errno
                    if code == ENXIO { return }  // only a hole is left
                    // A filesystem without SEEK_DATA: everything left counts as data.
                    guard code == EINVAL else { throw FileCopy.failure("find the data in \(source)", code) }
                    start = offset
                    end = size
                } else {
                    end = Int64(lseek(src, off_t(start), FileCopy.seekHole))
                    guard end >= 0 else { throw FileCopy.failure("find the holes in \(source)") }
                }
                end = min(end, size)
                if start >= end { return }
                try copyRange(from: start, to: end)
                offset = end
            }
        }

        private func copyRange(from start: Int64, to end: Int64) throws(AshlarError) {
            var position = start
            while position < end {
                if useCopyFileRange, let copyFileRange = FileCopy.copyFileRange {
                    var inOffset = position
                    var outOffset = position
                    let n = copyFileRange(src, &inOffset, dst, &outOffset, Int(min(end - position, 1 << 30)), 0)
                    if n > 0 {
                        position += Int64(n)
                        continue
                    }
                    if n == 0 { return }  // the source shrank meanwhile: the rest becomes a hole
                    let code = errno
                    if code == EINTR { continue }
                    // The kernel cannot do it between these files; plain reads and writes can.
                    // (EINVAL too: some filesystems answer it for an unsupported copy.)
                    guard code == EXDEV || code == ENOSYS || code == EOPNOTSUPP || code == EINVAL else {
                        throw FileCopy.failure("copy \(source) to \(destination)", code)
                    }
                    useCopyFileRange = false
                }
                let chunk = try readWrite(at: position, count: Int(min(end - position, Int64(FileCopy.chunkSize))))
                if chunk == 0 { return }
                position += Int64(chunk)
            }
        }

        /// Copies up to `count` bytes at `offset` through the buffer; the number copied, 0 at the end of the source.
        private func readWrite(at offset: Int64, count: Int) throws(AshlarError) -> Int {
            let buffer =
                self.buffer
                ?? UnsafeMutableRawPointer.allocate(byteCount: FileCopy.chunkSize, alignment: 4096)
            self.buffer = buffer
            var got: Int
            repeat { got = pread(src, buffer, count, off_t(offset)) } while got < 0 && errno == EINTR
            guard got >= 0 else { throw FileCopy.failure("read \(source)") }
            var written = 0
            while written < got {
                let n = pwrite(dst, buffer + written, got - written, off_t(offset + Int64(written)))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FileCopy.failure("write \(destination)") }
                written += n
            }
            return got
        }
    }

    /// Pread/pwrite chunk of the fallback copy.
    static let chunkSize = 1 << 20

    /// The failure of `what`, with the system's reason for `code`.
    static func failure(_ what: String, _ code: Int32 = errno) -> AshlarError {
        AshlarError(.driverFailure, "Could not \(what): \(String(cString: strerror(code)))")
    }

    typealias CopyFileRange =
        @convention(c) (
            Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
        ) -> Int

    #if os(Linux)
        /// `FICLONE`, `_IOW(0x94, 9, int)`, which Glibc does not export.
        static let ficlone: UInt = 0x4004_9409
        // Linux's lseek whence values; Glibc's module hides them (they need _GNU_SOURCE).
        static let seekData: Int32 = 3
        static let seekHole: Int32 = 4
        /// glibc's `copy_file_range`, looked up at run time because Glibc's module does not export it.
        static let copyFileRange: CopyFileRange? = dlsym(nil, "copy_file_range").map {
            unsafeBitCast($0, to: CopyFileRange.self)
        }
    #else
        static let seekData = SEEK_DATA
        static let seekHole = SEEK_HOLE
        static let copyFileRange: CopyFileRange? = nil
    #endif
}
