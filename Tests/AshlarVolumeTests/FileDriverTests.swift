import AshlarCore
import Foundation
import Testing

@testable import AshlarVolume

#if canImport(Glibc)
import Glibc
#endif

@Suite("FileDriver", .timeLimit(.minutes(1)))
struct FileDriverTests {
    private static let gib: Int64 = 1 << 30

    /// Runs `body` with a driver on a fresh, existing directory.
    private func withDriver(
        capacityGB: Int? = nil, extra: [String: String] = [:], _ body: (FileDriver, URL) async throws -> Void
    ) async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let driver = FileDriver(
            directory: dir.path, backendName: "file-1", capacityGB: capacityGB, reservedPercentage: 5,
            maxOverSubscriptionRatio: 2.5, extraCapabilities: extra)
        try await body(driver, dir)
    }

    @Test("createVolume makes a sparse file volume-<id> of exactly the size")
    func createSparse() async throws {
        try await withDriver { driver, dir async throws in
            try await driver.createVolume(id: "abc", sizeGB: 3)
            let path = dir.appendingPathComponent("volume-abc").path
            #expect(driver.path(for: "abc") == path)
            let st = try #require(fileStat(path))
            #expect(Int64(st.st_size) == 3 * Self.gib)
            #expect(st.st_blocks * 512 < 1 << 20, "a new volume takes (almost) no space")
            #expect(st.st_mode & 0o777 == 0o600)
            #expect(st.st_mode & S_IFMT == S_IFREG)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["volume-abc"])
        }
    }

    @Test("a zero-size volume is an empty file")
    func createZero() async throws {
        try await withDriver { driver, _ async throws in
            try await driver.createVolume(id: "zero", sizeGB: 0)
            #expect(try #require(fileStat(driver.path(for: "zero"))).st_size == 0)
        }
    }

    @Test("createVolume replaces a leftover file of an earlier attempt")
    func createReplacesLeftover() async throws {
        try await withDriver { driver, _ async throws in
            let path = driver.path(for: "left")
            try Data(repeating: 0xAB, count: 2 << 20).write(to: URL(fileURLWithPath: path))
            try await driver.createVolume(id: "left", sizeGB: 1)
            let st = try #require(fileStat(path))
            #expect(Int64(st.st_size) == Self.gib)
            #expect(st.st_blocks * 512 < 1 << 20, "the old data is gone")
            let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 16)
            #expect(head == Data(repeating: 0, count: 16))
        }
    }

    @Test("setup removes what an interrupted revert left behind, and nothing else")
    func setupRemovesRevertLeftovers() async throws {
        try await withDriver { driver, dir async throws in
            try await driver.createVolume(id: "keep", sizeGB: 1)
            let leftover = dir.appendingPathComponent(".volume-keep.revert-1a2b3c4d").path
            #expect(FileManager.default.createFile(atPath: leftover, contents: Data("half".utf8)))
            try await driver.doSetup()
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["volume-keep"])
        }
    }

    @Test("deleteVolume removes the file and is idempotent")
    func deleteIdempotent() async throws {
        try await withDriver { driver, dir async throws in
            try await driver.createVolume(id: "gone", sizeGB: 1)
            try await driver.createVolume(id: "kept", sizeGB: 1)
            try await driver.deleteVolume(id: "gone")
            #expect(fileStat(driver.path(for: "gone")) == nil)
            #expect(fileStat(driver.path(for: "kept")) != nil)
            try await driver.deleteVolume(id: "gone")
            try await driver.deleteVolume(id: "never-existed")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["volume-kept"])
        }
    }

    @Test("createVolume fails with .driverFailure when the directory is a regular file, leaving nothing")
    func createInFileDirectory() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let notADirectory = dir.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: notADirectory)
        let driver = FileDriver(directory: notADirectory.path, backendName: "b")
        let error = await ashlarError { try await driver.createVolume(id: "v1", sizeGB: 1) }
        #expect(error?.code == .driverFailure)
        #expect(error?.message.contains("volume-v1") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["plain-file"])
        #expect(try Data(contentsOf: notADirectory) == Data("x".utf8))
    }

    @Test("createVolume fails with .driverFailure when the directory is missing")
    func createInMissingDirectory() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let driver = FileDriver(directory: dir.appendingPathComponent("missing").path, backendName: "b")
        let error = await ashlarError { try await driver.createVolume(id: "v1", sizeGB: 1) }
        #expect(error?.code == .driverFailure)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("a size the file system refuses fails with .driverFailure and removes the half-made file")
    func createSizeRefused() async throws {
        try await withDriver { driver, dir async throws in
            let error = await ashlarError { try await driver.createVolume(id: "neg", sizeGB: -1) }
            #expect(error?.code == .driverFailure)
            #expect(fileStat(driver.path(for: "neg")) == nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        }
    }

    @Test("deleteVolume fails with .driverFailure when the file cannot be removed")
    func deleteFails() async throws {
        try await withDriver { driver, _ async throws in
            // A directory where the volume file should be: unlink gives EISDIR.
            try FileManager.default.createDirectory(atPath: driver.path(for: "odd"), withIntermediateDirectories: false)
            let error = await ashlarError { try await driver.deleteVolume(id: "odd") }
            #expect(error?.code == .driverFailure)
            #expect(fileStat(driver.path(for: "odd")) != nil)
        }
    }

    @Test("doSetup creates the directory and its parents, and accepts an existing one")
    func setupCreates() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let target = dir.appendingPathComponent("a/b/volumes").path
        let driver = FileDriver(directory: target, backendName: "b")
        try await driver.doSetup()
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
        try await driver.doSetup()
        try await driver.createVolume(id: "after-setup", sizeGB: 1)
        #expect(fileStat(driver.path(for: "after-setup")) != nil)
    }

    @Test("doSetup fails with .driverFailure when a parent is a regular file")
    func setupFails() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let file = dir.appendingPathComponent("file")
        try Data().write(to: file)
        let driver = FileDriver(directory: file.appendingPathComponent("volumes").path, backendName: "b")
        let error = await ashlarError { try await driver.doSetup() }
        #expect(error?.code == .driverFailure)
    }

    @Test("stats reports the file system's capacity, the given provisioning and the capabilities")
    func statsUncapped() async throws {
        try await withDriver(extra: ["custom_cap": "yes"]) { driver, dir async throws in
            let stats = try await driver.stats(provisionedGB: 7, volumeCount: 3)
            #expect(stats["volume_backend_name"] == .string("file-1"))
            #expect(stats["vendor_name"] == .string("Ashlar"))
            #expect(stats["storage_protocol"] == .string("iSCSI"))
            guard case .array(let pools)? = stats["pools"], pools.count == 1, case .object(let pool) = pools[0] else {
                Issue.record("no single pool in \(stats)")
                return
            }
            #expect(pool["pool_name"] == .string("file-1"))
            #expect(pool["allocated_capacity_gb"] == .int(7))
            #expect(pool["provisioned_capacity_gb"] == .int(7))
            #expect(pool["total_volumes"] == .int(3))
            #expect(pool["reserved_percentage"] == .int(5))
            #expect(pool["max_over_subscription_ratio"] == .string("2.5"))
            #expect(pool["thin_provisioning_support"] == .bool(true))
            #expect(pool["thick_provisioning_support"] == .bool(false))
            #expect(pool["multiattach"] == .bool(true))
            #expect(pool["backend_state"] == .string("up"))
            #expect(pool["location_info"] == .string("FileDriver:\(dir.path)"))
            #expect(pool["custom_cap"] == .string("yes"))

            var fs = statvfs()
            #expect(statvfs(dir.path, &fs) == 0)
            let expectedTotal = Double(fs.f_blocks) * Double(fs.f_frsize) / Double(Self.gib)
            let expectedFree = Double(fs.f_bavail) * Double(fs.f_frsize) / Double(Self.gib)
            guard case .double(let total)? = pool["total_capacity_gb"], case .double(let free)? = pool["free_capacity_gb"]
            else {
                Issue.record("capacities are not numbers: \(pool)")
                return
            }
            #expect(abs(total - expectedTotal) < 0.02)
            #expect(abs(free - expectedFree) < 2, "free space moves a little while others write")
            #expect(free <= total)
            #expect(total > 0)
            // Two decimals at most.
            #expect(abs((total * 100).rounded() - total * 100) < 1e-6)
        }
    }

    @Test("file_capacity_gb caps the total and free capacity; written data is counted, sparse space is not")
    func statsCapped() async throws {
        try await withDriver(capacityGB: 10) { driver, _ async throws in
            func capacities() async throws -> (Double, Double) {
                let stats = try await driver.stats(provisionedGB: 0, volumeCount: 0)
                guard case .array(let pools)? = stats["pools"], case .object(let pool)? = pools.first,
                    case .double(let total)? = pool["total_capacity_gb"], case .double(let free)? = pool["free_capacity_gb"]
                else { throw AshlarError(.internalError, "unexpected stats \(stats)") }
                return (total, free)
            }
            #expect(try await capacities() == (10, 10))
            try await driver.createVolume(id: "thin", sizeGB: 50)
            #expect(try await capacities() == (10, 10), "an unwritten sparse volume uses nothing")
            // Write 100 MiB into the volume: free drops by about 0.098 GiB (rounded down to 9.90).
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: driver.path(for: "thin")))
            try handle.write(contentsOf: Data(repeating: 1, count: 100 << 20))
            try handle.synchronize()
            try handle.close()
            let (total, free) = try await capacities()
            #expect(total == 10)
            #expect(free <= 9.91 && free >= 9.89, "free is \(free)")
            // Files that are not volumes do not count.
            try Data(repeating: 1, count: 1 << 20).write(to: URL(fileURLWithPath: driver.directory + "/other-file"))
            #expect(try await capacities().1 == free)
        }
    }

    @Test("filter_function and goodness_function are reported per pool and per backend, null when unset")
    func statsReportDriverFunctions() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        func functions(_ driver: FileDriver) async throws -> [JSONValue?] {
            let stats = try await driver.stats(provisionedGB: 0, volumeCount: 0)
            guard case .array(let pools)? = stats["pools"], case .object(let pool)? = pools.first else {
                throw AshlarError(.internalError, "unexpected stats \(stats)")
            }
            return [stats["filter_function"], stats["goodness_function"]]
                + [pool["filter_function"], pool["goodness_function"]]
        }
        let configured = FileDriver(
            directory: dir.path, backendName: "b", filterFunction: "volume.size < 50",
            goodnessFunction: "stats.free_capacity_gb > 10 ? 80 : 20")
        #expect(try await functions(configured) == [
            .string("volume.size < 50"), .string("stats.free_capacity_gb > 10 ? 80 : 20"),
            .string("volume.size < 50"), .string("stats.free_capacity_gb > 10 ? 80 : 20"),
        ])
        let unset = FileDriver(directory: dir.path, backendName: "b")
        #expect(try await functions(unset) == [.null, .null, .null, .null])
    }

    @Test("stats of a missing directory fails with .driverFailure")
    func statsMissing() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let driver = FileDriver(directory: dir.appendingPathComponent("missing").path, backendName: "b")
        let error = await ashlarError { _ = try await driver.stats(provisionedGB: 0, volumeCount: 0) }
        #expect(error?.code == .driverFailure)
    }
}
