import AshlarCore
import AshlarImages
import Foundation

/// Writes an inspected image into a volume's file with `qemu-img convert`, the source format named (qemu-img
/// never probes it) and the tool held under `prlimit` as upstream holds it: address space
/// `image_conversion_address_space_limit` GiB, CPU `image_conversion_cpu_limit` seconds. A crafted image that
/// makes qemu-img allocate or spin without end is stopped by the limits, not the host.
public struct ImageConverter: Sendable {
    /// Bytes of address space qemu-img may map.
    public var addressSpaceLimit: Int64
    /// Seconds of CPU qemu-img may use.
    public var cpuLimit: Int
    /// How long a conversion may take in all.
    public var timeout: Duration

    public init(addressSpaceLimitGB: Int = 1, cpuLimitSeconds: Int = 60, timeout: Duration = .seconds(3600)) {
        self.addressSpaceLimit = Int64(addressSpaceLimitGB) << 30
        self.cpuLimit = cpuLimitSeconds
        self.timeout = timeout
    }

    /// The limits the configuration gives.
    public init(_ options: ImageOptions) {
        self.init(addressSpaceLimitGB: options.conversionAddressSpaceLimit, cpuLimitSeconds: options.conversionCPULimit)
    }

    /// qemu-img's name of a format.
    static func qemuName(_ format: ImageInspection.Format) -> String {
        switch format {
        case .vhd: "vpc"
        case .iso: "raw"
        default: format.rawValue
        }
    }

    /// Converts the image at `source`, of `format` as the inspector found it, into the existing raw file at
    /// `destination` (a volume at least the image's virtual size), leaving zeros as holes.
    public func convert(source: String, format: ImageInspection.Format, into destination: String) async throws {
        try await run(["convert", "-q", "-n", "-f", Self.qemuName(format), "-O", "raw", source, destination], source: source)
    }

    /// Writes the raw volume at `source` as a new image file at `destination` in `format` (upload to image).
    public func export(source: String, format: ImageInspection.Format, to destination: String) async throws {
        unlink(destination)
        try await run(["convert", "-q", "-f", "raw", "-O", Self.qemuName(format), source, destination], source: source)
    }

    private func run(_ arguments: [String], source: String) async throws {
        guard let prlimit = ToolRunner.locate("prlimit"), let qemuImg = ToolRunner.locate("qemu-img") else {
            throw AshlarError(
                .driverFailure, "Converting images needs prlimit (util-linux) and qemu-img (qemu-utils) on the volume node")
        }
        let result = try await ToolRunner.run(
            prlimit, ["--as=\(addressSpaceLimit)", "--cpu=\(cpuLimit)", "--", qemuImg] + arguments, timeout: timeout)
        guard result.succeeded else {
            let detail = result.timedOut
                ? "did not finish within \(timeout)"
                : result.status == 128 + SIGXCPU || result.status == 128 + SIGKILL
                    ? "exceeded image_conversion_cpu_limit (\(cpuLimit) s)"
                    : "exited with status \(result.status): \(result.stderr.split(separator: "\n").first ?? "")"
            throw AshlarError(.driverFailure, "qemu-img convert of \(source) \(detail)")
        }
    }
}
