import AshlarCore
import Foundation
import Testing

@testable import AshlarVolume

#if canImport(Glibc)
    import Glibc
#endif

private let mib: Int64 = 1 << 20
private let gib: Int64 = 1 << 30

/// 4 KiB of bytes that differ by `seed`, none of them zero.
private func pattern(_ seed: UInt8, count: Int = 4096) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) | 1 }
}

private func write(_ bytes: [UInt8], to path: String, at offset: Int64) throws {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw AshlarError(.internalError, "open \(path): \(errno)") }
    defer { close(fd) }
    let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
    guard n == bytes.count, fsync(fd) == 0 else { throw AshlarError(.internalError, "write \(path): \(errno)") }
}

private func read(_ path: String, at offset: Int64, count: Int = 4096) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw AshlarError(.internalError, "open \(path): \(errno)") }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0xEE, count: count)
    let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
    guard n == count else { throw AshlarError(.internalError, "read \(path) at \(offset): got \(n)") }
    return bytes
}

/// Bytes the file really occupies.
private func allocated(_ path: String) -> Int64 {
    fileStat(path).map { Int64($0.st_blocks) * 512 } ?? -1
}

/// Names in `directory`, sorted.
private func listing(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

@Suite("FileDriver snapshots and clones (sparse copies)", .timeLimit(.minutes(1)))
struct FileDriverCopyTests {
    /// Where the 2 GiB test volume holds data: the start, the middle of the second GiB, the last block.
    static let offsets: [Int64] = [0, gib + 3 * mib, 2 * gib - 4096]
    static let zeros = [UInt8](repeating: 0, count: 4096)

    /// Runs `body` with a driver on a fresh directory holding volume `vol` (2 GiB) with pattern 1 at `offsets`.
    private func withVolume(_ body: (FileDriver, String) async throws -> Void) async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let driver = FileDriver(directory: dir.path, backendName: "file-1")
        try await driver.createVolume(id: "vol", sizeGB: 2)
        for offset in Self.offsets { try write(pattern(1), to: driver.path(for: "vol"), at: offset) }
        try await body(driver, dir.path)
    }

    private func expectPattern(
        _ seed: UInt8, in path: String, sourceLocation: SourceLocation = #_sourceLocation
    )
        throws
    {
        for offset in Self.offsets {
            #expect(try read(path, at: offset) == pattern(seed), "at \(offset)", sourceLocation: sourceLocation)
        }
        // Between the written blocks the copy reads zeros, like the source.
        #expect(try read(path, at: 512 * mib) == Self.zeros, sourceLocation: sourceLocation)
    }

    @Test("a snapshot keeps the volume's data as it was, sparse")
    func snapshotIsPointInTime() async throws {
        try await withVolume { driver, _ in
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            let snapshot = driver.snapshotPath(for: "s1")
            #expect(snapshot.hasSuffix("/snapshot-s1"))
            #expect(try #require(fileStat(snapshot)).st_size == off_t(2 * gib))
            #expect(try #require(fileStat(snapshot)).st_mode & 0o777 == 0o600)
            #expect(allocated(snapshot) < 4 * mib, "holes stay holes")
            for offset in Self.offsets { try write(pattern(2), to: driver.path(for: "vol"), at: offset) }
            try expectPattern(1, in: snapshot)
            try expectPattern(2, in: driver.path(for: "vol"))
        }
    }

    @Test("a volume from a snapshot has the snapshot's data and the larger size")
    func volumeFromSnapshot() async throws {
        try await withVolume { driver, _ in
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            for offset in Self.offsets { try write(pattern(2), to: driver.path(for: "vol"), at: offset) }
            try await driver.createVolume(id: "big", sizeGB: 3, fromSnapshot: "s1")
            let big = driver.path(for: "big")
            #expect(try #require(fileStat(big)).st_size == off_t(3 * gib))
            #expect(allocated(big) < 4 * mib)
            try expectPattern(1, in: big)
            #expect(try read(big, at: 3 * gib - 4096) == Self.zeros, "the added part reads zeros")
            try await driver.createVolume(id: "same", sizeGB: 2, fromSnapshot: "s1")
            #expect(try #require(fileStat(driver.path(for: "same"))).st_size == off_t(2 * gib))
            try expectPattern(1, in: driver.path(for: "same"))
        }
    }

    @Test("a clone has the volume's current data")
    func cloneOfVolume() async throws {
        try await withVolume { driver, _ in
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            for offset in Self.offsets { try write(pattern(2), to: driver.path(for: "vol"), at: offset) }
            try await driver.createVolume(id: "copy", sizeGB: 4, cloneOf: "vol")
            let copy = driver.path(for: "copy")
            #expect(try #require(fileStat(copy)).st_size == off_t(4 * gib))
            #expect(allocated(copy) < 4 * mib)
            try expectPattern(2, in: copy)
            // Independent of the source from now on.
            try write(pattern(3), to: copy, at: 0)
            #expect(try read(driver.path(for: "vol"), at: 0) == pattern(2))
        }
    }

    @Test("FileCopy copies sparsely here (no reflink on this filesystem), by every path")
    func fileCopyMethods() async throws {
        try await withVolume { driver, dir in
            let source = driver.path(for: "vol")
            let reflinks = FileCopy.supportsReflink(in: dir)
            #expect(try listing(dir) == ["volume-vol"], "the probe cleans up")
            let method = try FileCopy.clone(from: source, to: "\(dir)/auto")
            // ext4 and tmpfs, where this suite normally runs, have no reflink.
            #expect(method == (reflinks ? .reflink : .sparseCopy))
            #expect(
                try FileCopy.copy(from: source, to: "\(dir)/cfr", reflink: false, copyFileRange: true) == .sparseCopy)
            #expect(
                try FileCopy.copy(from: source, to: "\(dir)/rw", reflink: false, copyFileRange: false) == .sparseCopy)
            for name in ["auto", "cfr", "rw"] {
                let path = "\(dir)/\(name)"
                #expect(try #require(fileStat(path)).st_size == off_t(2 * gib))
                #expect(allocated(path) < 4 * mib, "\(name) is sparse")
                try expectPattern(1, in: path)
            }
        }
    }

    @Test("FileCopy keeps data that spans chunks and ends past the last chunk boundary")
    func fileCopyLongExtent() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let source = dir.appendingPathComponent("src").path
        // 3.5 MiB of data (several chunks of the fallback) after a hole, then a 7-byte tail after another hole.
        let body = pattern(9, count: Int(7 * mib / 2))
        #expect(FileManager.default.createFile(atPath: source, contents: nil))
        try write(body, to: source, at: 5 * mib)
        try write(Array(body.prefix(7)), to: source, at: 20 * mib)
        for useCopyFileRange in [true, false] {
            let target = dir.appendingPathComponent("dst-\(useCopyFileRange)").path
            try FileCopy.copy(from: source, to: target, reflink: false, copyFileRange: useCopyFileRange)
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: target)) == Data(contentsOf: URL(fileURLWithPath: source)))
        }
    }

    @Test("extend keeps the data and grows the file; it refuses to shrink")
    func extend() async throws {
        try await withVolume { driver, _ in
            let path = driver.path(for: "vol")
            try await driver.extendVolume(id: "vol", newSizeGB: 5)
            #expect(try #require(fileStat(path)).st_size == off_t(5 * gib))
            try expectPattern(1, in: path)
            #expect(allocated(path) < 4 * mib)
            try await driver.extendVolume(id: "vol", newSizeGB: 5)  // the same size is no change
            let error = await ashlarError { try await driver.extendVolume(id: "vol", newSizeGB: 4) }
            #expect(error?.code == .driverFailure)
            #expect(error?.message.contains(path) == true)
            #expect(try #require(fileStat(path)).st_size == off_t(5 * gib))
            let missing = await ashlarError { try await driver.extendVolume(id: "nope", newSizeGB: 1) }
            #expect(missing?.message.contains("No such file or directory") == true)
            #expect(fileStat(driver.path(for: "nope")) == nil, "extend does not create a volume")
        }
    }

    @Test("revert makes the volume's data the snapshot's, in place of the file, keeping an extended size")
    func revert() async throws {
        try await withVolume { driver, dir in
            let path = driver.path(for: "vol")
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            for offset in Self.offsets { try write(pattern(2), to: path, at: offset) }
            try write(pattern(2), to: path, at: 700 * mib)
            let before = try #require(fileStat(path)).st_ino
            try await driver.revertVolume(id: "vol", toSnapshot: "s1")
            try expectPattern(1, in: path)
            #expect(try read(path, at: 700 * mib) == Self.zeros)
            #expect(try #require(fileStat(path)).st_ino != before, "a new file was renamed over the volume")
            #expect(try #require(fileStat(path)).st_mode & 0o777 == 0o600)
            #expect(allocated(path) < 4 * mib)
            #expect(try listing(dir) == ["snapshot-s1", "volume-vol"])

            try await driver.extendVolume(id: "vol", newSizeGB: 3)
            try write(pattern(4), to: path, at: 3 * gib - 4096)
            try await driver.revertVolume(id: "vol", toSnapshot: "s1")
            #expect(try #require(fileStat(path)).st_size == off_t(3 * gib), "the volume keeps its extended size")
            try expectPattern(1, in: path)
            #expect(try read(path, at: 3 * gib - 4096) == Self.zeros)
        }
    }

    @Test("a revert that fails leaves the volume as it was and no temporary file")
    func revertFailure() async throws {
        try await withVolume { driver, dir in
            let path = driver.path(for: "vol")
            let error = await ashlarError { try await driver.revertVolume(id: "vol", toSnapshot: "missing") }
            #expect(error?.code == .driverFailure)
            #expect(error?.message.contains(driver.snapshotPath(for: "missing")) == true)
            #expect(error?.message.contains("No such file or directory") == true)
            try expectPattern(1, in: path)
            #expect(try listing(dir) == ["volume-vol"])

            // A volume that is gone is not brought back.
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            #expect(await ashlarError { try await driver.revertVolume(id: "gone", toSnapshot: "s1") } != nil)
            #expect(try listing(dir) == ["snapshot-s1", "volume-vol"])

            // The temporary copy is made but cannot be put in place (this "volume" is a non-empty directory).
            let odd = driver.path(for: "odd")
            try FileManager.default.createDirectory(atPath: odd, withIntermediateDirectories: false)
            #expect(FileManager.default.createFile(atPath: "\(odd)/keep", contents: Data([1])))
            #expect(await ashlarError { try await driver.revertVolume(id: "odd", toSnapshot: "s1") } != nil)
            #expect(try listing(dir) == ["snapshot-s1", "volume-odd", "volume-vol"])
            #expect(try listing(odd) == ["keep"])
        }
    }

    @Test("failed copies leave no partial files")
    func failuresLeaveNothing() async throws {
        try await withVolume { driver, dir in
            let missing = await ashlarError { try await driver.createVolume(id: "c", sizeGB: 2, cloneOf: "none") }
            #expect(missing?.code == .driverFailure)
            #expect(missing?.message.contains(driver.path(for: "none")) == true)
            #expect(missing?.message.contains("No such file or directory") == true)
            #expect(
                await ashlarError { try await driver.createVolume(id: "c", sizeGB: 2, fromSnapshot: "none") } != nil)
            #expect(await ashlarError { try await driver.createSnapshot(id: "s", volumeID: "none") } != nil)
            #expect(try listing(dir) == ["volume-vol"])

            // Smaller than the source: refused before anything is made.
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            let small = await ashlarError { try await driver.createVolume(id: "c", sizeGB: 1, fromSnapshot: "s1") }
            #expect(small?.message.contains(driver.path(for: "c")) == true)
            #expect(await ashlarError { try await driver.createVolume(id: "c", sizeGB: 1, cloneOf: "vol") } != nil)
            #expect(try listing(dir) == ["snapshot-s1", "volume-vol"])

            // FileCopy never replaces, nor removes, a file it did not create.
            let taken = await ashlarError {
                try FileCopy.clone(from: driver.path(for: "vol"), to: driver.snapshotPath(for: "s1"))
            }
            #expect(taken?.message.contains("File exists") == true)
            try expectPattern(1, in: driver.snapshotPath(for: "s1"))
            #expect(await ashlarError { try FileCopy.clone(from: dir, to: "\(dir)/x") } != nil)
            #expect(try listing(dir) == ["snapshot-s1", "volume-vol"])
        }
    }

    @Test("deleting a snapshot removes its file; deleting a missing one succeeds")
    func deleteSnapshot() async throws {
        try await withVolume { driver, dir in
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            try await driver.deleteSnapshot(id: "s1")
            try await driver.deleteSnapshot(id: "s1")
            #expect(try listing(dir) == ["volume-vol"])
        }
    }

    @Test("snapshots do not count as used volume space")
    func snapshotsAreNotVolumes() async throws {
        try await withVolume { driver, _ in
            let before = try driver.usedBytes()
            try await driver.createSnapshot(id: "s1", volumeID: "vol")
            #expect(try driver.usedBytes() == before)
        }
    }
}

/// A small XFS filesystem with reflink on a loop device over a sparse image file, made and removed per test.
enum XFSLoop {
    /// Root (to mount) and `mkfs.xfs` on the PATH; scripts/setup-test-env installs xfsprogs so CI has both.
    static let isAvailable: Bool = getuid() == 0 && onPath("mkfs.xfs")

    static func onPath(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 }
    }

    /// Runs `body` with the mount point of a fresh `sizeMiB` XFS; unmounts and deletes it whatever happens.
    static func with(sizeMiB: Int = 1024, _ body: (String) async throws -> Void) async throws {
        let base = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(base) }
        let image = base.appendingPathComponent("xfs.img").path
        let mountPoint = base.appendingPathComponent("mnt").path
        guard FileManager.default.createFile(atPath: image, contents: nil),
            truncate(image, off_t(Int64(sizeMiB) * mib)) == 0
        else { throw AshlarError(.internalError, "cannot make \(image)") }
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try await run("mkfs.xfs", "-q", "-m", "reflink=1", image)
        try await run("mount", "-o", "loop", image, mountPoint)
        var failure: (any Error)?
        do { try await body(mountPoint) } catch { failure = error }
        // A lazy unmount if something still holds it, so the loop device is released in any case.
        if (try? await run("umount", mountPoint)) == nil { try? await run("umount", "-l", mountPoint) }
        if let failure { throw failure }
    }

    /// Runs a tool off the cooperative pool (mkfs and umount can take seconds on a busy machine, and the other
    /// tests running meanwhile need the pool's two threads).
    static func run(_ arguments: String...) async throws {
        guard let tool = ToolRunner.locate(arguments[0]) else {
            throw AshlarError(.internalError, "\(arguments[0]) is not installed")
        }
        let result = try await ToolRunner.run(tool, Array(arguments.dropFirst()), timeout: .seconds(60))
        guard result.succeeded else {
            throw AshlarError(.internalError, "\(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    /// Bytes in use on the filesystem holding `path`, after flushing its delayed allocations.
    static func usedBytes(_ path: String) async throws -> Int64 {
        try await Blocking.run {
            sync()
            var fs = statvfs()
            guard statvfs(path, &fs) == 0 else { return -1 }
            return Int64(fs.f_blocks - fs.f_bfree) * Int64(fs.f_frsize)
        }
    }
}

// Real reflinks need a filesystem that has them: an XFS on a loop device, which needs root and xfsprogs.
@Suite(
    "FileDriver snapshots and clones on XFS (reflink)", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: XFSLoop.isAvailable, "needs root and mkfs.xfs to mount an XFS loop device"))
struct FileDriverReflinkTests {
    /// Sixteen 16 MiB runs of data, one every 64 MiB: 256 MiB written over a 1 GiB volume.
    static let runs: [Int64] = (0..<16).map { Int64($0) * 64 * mib }
    static let runLength = 16 * mib

    /// Runs `body` with a driver on a fresh XFS holding volume `vol` (1 GiB) with 256 MiB of data (seed 1).
    private func withVolume(_ body: (FileDriver, String) async throws -> Void) async throws {
        try await XFSLoop.with { mountPoint in
            let driver = FileDriver(directory: mountPoint, backendName: "xfs-1")
            try await driver.createVolume(id: "vol", sizeGB: 1)
            let run = pattern(1, count: Int(Self.runLength))
            let volume = driver.path(for: "vol")
            try await Blocking.run { for offset in Self.runs { try write(run, to: volume, at: offset) } }
            try await body(driver, mountPoint)
        }
    }

    @Test("clone and snapshot share extents: almost no space, and the copy is a reflink")
    func reflinkSharesSpace() async throws {
        try await withVolume { driver, dir in
            #expect(FileCopy.supportsReflink(in: dir))
            let before = try await XFSLoop.usedBytes(dir)
            let method = try FileCopy.clone(from: driver.path(for: "vol"), to: driver.path(for: "direct"))
            #expect(method == .reflink)
            try await driver.createVolume(id: "clone", sizeGB: 2, cloneOf: "vol")
            try await driver.createSnapshot(id: "snap", volumeID: "vol")
            let growth = try await XFSLoop.usedBytes(dir) - before
            #expect(growth < 16 * mib, "three copies of 256 MiB of data took \(growth) bytes")
            for name in ["direct", "clone"] {
                #expect(try read(driver.path(for: name), at: 5 * 64 * mib + 4096) == pattern(1))
            }
            #expect(try #require(fileStat(driver.path(for: "clone"))).st_size == off_t(2 * gib))
        }
    }

    @Test("data written to the volume after the snapshot is not in the snapshot (copy on write)")
    func copyOnWrite() async throws {
        try await withVolume { driver, _ in
            try await driver.createSnapshot(id: "snap", volumeID: "vol")
            try await driver.createVolume(id: "clone", sizeGB: 1, cloneOf: "vol")
            let volume = driver.path(for: "vol")
            let offset = 3 * 64 * mib + 8192
            try write(pattern(2, count: 1 << 20), to: volume, at: offset)
            #expect(try read(volume, at: offset) == pattern(2))
            #expect(try read(driver.snapshotPath(for: "snap"), at: offset) == pattern(1))
            #expect(try read(driver.path(for: "clone"), at: offset) == pattern(1))

            try await driver.createVolume(id: "restored", sizeGB: 1, fromSnapshot: "snap")
            #expect(try read(driver.path(for: "restored"), at: offset) == pattern(1))
            try await driver.revertVolume(id: "vol", toSnapshot: "snap")
            #expect(try read(volume, at: offset) == pattern(1))
        }
    }

    @Test("a sparse copy that runs out of space removes its partial file")
    func outOfSpace() async throws {
        try await XFSLoop.with { dir in
            let source = "\(dir)/big"
            let chunk = pattern(7, count: Int(16 * mib))
            #expect(FileManager.default.createFile(atPath: source, contents: nil))
            // 608 MiB of ~1 GiB
            try await Blocking.run { for i in 0..<38 { try write(chunk, to: source, at: Int64(i) * 16 * mib) } }
            let error = await ashlarError {
                _ = try await Blocking.run {
                    try FileCopy.copy(from: source, to: "\(dir)/copy", reflink: false, copyFileRange: false)
                }
            }
            #expect(error?.message.contains("No space left on device") == true)
            #expect(error?.message.contains("\(dir)/copy") == true)
            #expect(try listing(dir) == ["big"])
        }
    }
}
