import AshlarCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Volumes as sparse raw files, one per volume, named `volume-<id>` in the backend's directory.
///
/// A new volume takes no space until written (thin provisioning); capacity is the filesystem's, or
/// `file_capacity_gb` when the operator caps it.
public struct FileDriver: VolumeDriver {
    public let directory: String
    public let backendName: String
    public let capacityGB: Int?
    public let reservedPercentage: Int
    public let maxOverSubscriptionRatio: Double
    public let extraCapabilities: [String: String]
    /// `filter_function` from the backend's configuration, reported for the scheduler's DriverFilter.
    public let filterFunction: String?
    /// `goodness_function` from the backend's configuration, reported for the scheduler's GoodnessWeigher.
    public let goodnessFunction: String?

    static let gib: Int64 = 1 << 30

    public init(
        directory: String, backendName: String, capacityGB: Int? = nil, reservedPercentage: Int = 0,
        maxOverSubscriptionRatio: Double = 20, extraCapabilities: [String: String] = [:],
        filterFunction: String? = nil, goodnessFunction: String? = nil
    ) {
        self.directory = directory
        self.backendName = backendName
        self.capacityGB = capacityGB
        self.reservedPercentage = reservedPercentage
        self.maxOverSubscriptionRatio = maxOverSubscriptionRatio
        self.extraCapabilities = extraCapabilities
        self.filterFunction = filterFunction
        self.goodnessFunction = goodnessFunction
    }

    public func path(for id: String) -> String { "\(directory)/volume-\(id)" }

    public func localPath(forVolume id: String) -> String { path(for: id) }

    public var imageCacheDirectory: String? { "\(directory)/image-cache" }

    public func doSetup() async throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AshlarError(
                .driverFailure, "Cannot create the volume directory \(directory): \(error.localizedDescription)")
        }
        guard access(directory, W_OK) == 0 else {
            throw AshlarError(.driverFailure, "The volume directory \(directory) is not writable.")
        }
        // A revert that died half-way leaves its temporary copy behind (the volume itself is untouched): remove it.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasPrefix(".volume-") && name.contains(".revert-") {
            unlink("\(directory)/\(name)")
        }
    }

    public func createVolume(id: String, sizeGB: Int) async throws {
        let target = path(for: id)
        // A leftover from an attempt that died half-way is replaced: the volume is new.
        unlink(target)
        let fd = open(target, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("create \(target)") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(Int64(sizeGB) * Self.gib)) == 0 else {
            let error = failure("size \(target) to \(sizeGB) GiB")
            unlink(target)
            throw error
        }
    }

    public func deleteVolume(id: String) async throws {
        let target = path(for: id)
        if unlink(target) != 0 && errno != ENOENT {
            throw failure("delete \(target)")
        }
    }

    public func stats(provisionedGB: Int, volumeCount: Int) async throws -> [String: JSONValue] {
        let (totalGB, freeGB) = try await capacity()
        var pool: [String: JSONValue] = [
            "pool_name": .string(backendName),
            "total_capacity_gb": .double(Self.round2(totalGB)),
            "free_capacity_gb": .double(Self.round2(freeGB)),
            "allocated_capacity_gb": .int(Int64(provisionedGB)),
            "provisioned_capacity_gb": .int(Int64(provisionedGB)),
            "reserved_percentage": .int(Int64(reservedPercentage)),
            "max_over_subscription_ratio": .string(String(maxOverSubscriptionRatio)),
            "thin_provisioning_support": true,
            "thick_provisioning_support": false,
            "total_volumes": .int(Int64(volumeCount)),
            "QoS_support": false,
            "multiattach": true,
            "backend_state": "up",
            "location_info": .string("FileDriver:\(directory)"),
            "filter_function": filterFunction.map(JSONValue.string) ?? .null,
            "goodness_function": goodnessFunction.map(JSONValue.string) ?? .null,
        ]
        for (key, value) in extraCapabilities { pool[key] = .string(value) }
        return [
            "volume_backend_name": .string(backendName),
            "vendor_name": "Ashlar",
            "driver_version": "1.0.0",
            "storage_protocol": "iSCSI",
            "sparse_copy_volume": true,
            "filter_function": filterFunction.map(JSONValue.string) ?? .null,
            "goodness_function": goodnessFunction.map(JSONValue.string) ?? .null,
            "pools": [.object(pool)],
        ]
    }

    /// Total and free GiB: the filesystem's, or within `file_capacity_gb` what the volume files do not occupy.
    /// Read off the cooperative pool: with thousands of volumes the walk takes a while.
    func capacity() async throws -> (total: Double, free: Double) {
        try await Blocking.run(.quick) { cancellation in
            var fs = statvfs()
            guard statvfs(directory, &fs) == 0 else { throw failure("read the capacity of \(directory)") }
            let blockSize = Double(fs.f_frsize)
            let free = Double(fs.f_bavail) * blockSize / Double(Self.gib)
            guard let capacityGB else { return (Double(fs.f_blocks) * blockSize / Double(Self.gib), free) }
            let used = Double(try usedBytes(cancellation)) / Double(Self.gib)
            return (Double(capacityGB), max(0, min(free, Double(capacityGB) - used)))
        }
    }

    /// Bytes the volume files really occupy (blocking).
    func usedBytes(_ cancellation: Blocking.CancellationFlag? = nil) throws -> Int64 {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var total: Int64 = 0
        for name in names where name.hasPrefix("volume-") {
            try cancellation?.check()
            var st = stat()
            if stat("\(directory)/\(name)", &st) == 0 { total += Int64(st.st_blocks) * 512 }
        }
        return total
    }

    private static func round2(_ v: Double) -> Double { (v * 100).rounded(.down) / 100 }

    private func failure(_ what: String) -> AshlarError {
        AshlarError(.driverFailure, "Could not \(what): \(String(cString: strerror(errno)))")
    }
}
