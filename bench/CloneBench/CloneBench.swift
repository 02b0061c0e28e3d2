import AshlarCore
import AshlarVolume
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Snapshot, clone and volume-from-snapshot times of the file driver, with reflinks and with sparse copies.
///
///     swift run -c release CloneBench [--runs N] [directory]     (default: 5 runs, a temporary directory)
///
/// On each filesystem it makes a 10 GiB volume holding 1 GiB of real data (sixteen 64 MiB runs, one every
/// 640 MiB), then times each operation `runs` times, deleting the copies in between. (a) is an XFS with reflink on
/// a loop device the bench makes and removes itself (needs root and mkfs.xfs); (b) is `directory`, or a temporary
/// directory, on the ordinary filesystem, where the copies are sparse. Every operation ends with its file synced.
@main
struct CloneBench {
    static let mib = 1 << 20
    static let volumeGB = 10
    static let runLength = 64 << 20
    static let runSpacing: Int64 = 640 << 20
    static let runCount = 16

    enum Operation: String, CaseIterable {
        case snapshot = "snapshot"
        case clone = "clone"
        case fromSnapshot = "volume from snapshot"
    }

    /// What one filesystem gave.
    struct Outcome {
        var filesystem: String
        var method: FileCopy.Method
        var p50: [Operation: Double]
        /// Filesystem space the three copies took, in MiB.
        var spaceMiB: Double
    }

    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var runs = 5
        if let i = arguments.firstIndex(of: "--runs"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) {
            runs = max(1, n)
            arguments.removeSubrange(i...i + 1)
        }

        var reflink: Outcome?
        if getuid() == 0 && onPath("mkfs.xfs") {
            let base = try mountXFS()
            defer { unmountXFS(base) }
            reflink = try await measure(in: base + "/mnt", runs: runs)
        } else {
            print("(a) XFS reflink: unavailable, it needs root and mkfs.xfs (xfsprogs) to mount a loop filesystem\n")
        }

        let ordinary: Outcome
        if let directory = arguments.first {
            ordinary = try await measure(in: directory, runs: runs)
        } else {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("ashlar-clonebench-\(UUID().uuidString.prefix(8).lowercased())").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            ordinary = try await measure(in: directory, runs: runs)
        }

        let left = reflink.map { "\($0.filesystem) \(name($0.method))" } ?? "XFS reflink"
        let right = "\(ordinary.filesystem) \(name(ordinary.method))"
        print("\(volumeGB) GiB volume, 1 GiB of data; p50 of \(runs) runs\n")
        print("| operation | \(left) | \(right) | ratio |")
        print("|---|---|---|---|")
        for operation in Operation.allCases {
            let a = reflink?.p50[operation]
            let b = ordinary.p50[operation]!
            let ratio = a.map { String(format: "%.0f×", b / $0) } ?? "—"
            print("| \(operation.rawValue) | \(a.map(milliseconds) ?? "—") | \(milliseconds(b)) | \(ratio) |")
        }
        let space = reflink.map { String(format: "%.1f MiB", $0.spaceMiB) } ?? "—"
        print("| space taken by the three copies | \(space) | \(String(format: "%.0f MiB", ordinary.spaceMiB)) | |")
    }

    /// Times the three operations in `directory`, which is left as it was found.
    static func measure(in directory: String, runs: Int) async throws -> Outcome {
        let driver = FileDriver(directory: directory, backendName: "bench")
        let source = "clonebench-src"
        let filesystem = filesystemType(of: directory)
        let method = FileCopy.supportsReflink(in: directory) ? FileCopy.Method.reflink : .sparseCopy
        FileHandle.standardError.write(Data("\(filesystem) (\(directory)): filling the volume…\n".utf8))
        try await driver.createVolume(id: source, sizeGB: volumeGB)
        defer { unlink(driver.path(for: source)) }
        try fill(driver.path(for: source))

        var samples: [Operation: [Double]] = [:]
        var space = 0.0
        let clock = ContinuousClock()
        for run in 0..<runs {
            let before = usedBytes(directory)
            for operation in Operation.allCases {
                sync()  // so that writeback of earlier work does not land in this timing
                let start = clock.now
                switch operation {
                case .snapshot: try await driver.createSnapshot(id: "clonebench", volumeID: source)
                case .clone: try await driver.createVolume(id: "clonebench-clone", sizeGB: volumeGB, cloneOf: source)
                case .fromSnapshot:
                    try await driver.createVolume(id: "clonebench-new", sizeGB: volumeGB, fromSnapshot: "clonebench")
                }
                samples[operation, default: []].append(milliseconds(clock.now - start))
            }
            if run == 0 { space = Double(usedBytes(directory) - before) / Double(mib) }
            try await driver.deleteSnapshot(id: "clonebench")
            try await driver.deleteVolume(id: "clonebench-clone")
            try await driver.deleteVolume(id: "clonebench-new")
        }
        let p50 = samples.mapValues { $0.sorted()[$0.count / 2] }
        return Outcome(filesystem: filesystem, method: method, p50: p50, spaceMiB: space)
    }

    /// Writes 1 GiB of non-zero bytes in 64 MiB runs spread over the volume, and syncs it.
    static func fill(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open \(path)") }
        defer { close(fd) }
        var run = [UInt8](repeating: 0, count: runLength)
        for i in 0..<run.count { run[i] = UInt8(truncatingIfNeeded: i &* 31) | 1 }
        for i in 0..<runCount {
            let written = run.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(Int64(i) * runSpacing)) }
            guard written == run.count else { throw failure("write \(path)") }
        }
        guard fsync(fd) == 0 else { throw failure("sync \(path)") }
    }

    /// Mounts a fresh 4 GiB XFS with reflink from a sparse image file at `<returned directory>/mnt`.
    static func mountXFS() throws -> String {
        let base = FileManager.default.temporaryDirectory
            .appendingPathComponent("ashlar-clonebench-xfs-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: base + "/mnt", withIntermediateDirectories: true)
        let image = base + "/xfs.img"
        do {
            guard FileManager.default.createFile(atPath: image, contents: nil), truncate(image, 4 << 30) == 0 else {
                throw failure("make \(image)")
            }
            try run("mkfs.xfs", "-q", "-m", "reflink=1", image)
            try run("mount", "-o", "loop", image, base + "/mnt")
        } catch {
            try? FileManager.default.removeItem(atPath: base)
            throw error
        }
        return base
    }

    /// Unmounts what `mountXFS` made and deletes its image.
    static func unmountXFS(_ base: String) {
        // Lazily if something still holds it, so the loop device is released in any case.
        if (try? run("umount", base + "/mnt")) == nil { try? run("umount", "-l", base + "/mnt") }
        try? FileManager.default.removeItem(atPath: base)
    }

    static func run(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw AshlarError(.internalError, "\(arguments.joined(separator: " ")) failed")
        }
    }

    static func onPath(_ tool: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 }
    }

    /// The type of the filesystem holding `directory`: that of its longest mount point in /proc/self/mounts.
    static func filesystemType(of directory: String) -> String {
        let resolved = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return "?" }
        var best = (length: -1, type: "?")
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { continue }
            let point = String(fields[1])
            let covers = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            if covers && point.count > best.length { best = (point.count, String(fields[2])) }
        }
        return best.type
    }

    /// Bytes in use on the filesystem holding `path`, after flushing delayed allocations.
    static func usedBytes(_ path: String) -> Int64 {
        sync()
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return 0 }
        return Int64(fs.f_blocks - fs.f_bfree) * Int64(fs.f_frsize)
    }

    static func name(_ method: FileCopy.Method) -> String { method == .reflink ? "reflink" : "sparse copy" }

    static func failure(_ what: String) -> AshlarError {
        AshlarError(.internalError, "Could not \(what): \(String(cString: strerror(errno)))")
    }

    static func milliseconds(_ d: Duration) -> Double {
        (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) * 1000
    }

    static func milliseconds(_ ms: Double) -> String {
        ms >= 100 ? String(format: "%.0f ms", ms) : String(format: "%.1f ms", ms)
    }
}
