import AshlarCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What an image file is, read from its own bytes before anything else (qemu-img included) touches it: the
/// format, the virtual size, and why it must not be used. Upstream's image advisories came from trusting the
/// declared `disk_format` and from formats that name other files (a qcow2 backing file or external data file,
/// a VMDK descriptor's extents): such an image can make qemu-img read a host file into a user's volume.
public struct ImageInspection: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case raw, qcow2, vmdk, vhd, vhdx, vdi, iso
    }

    public var format: Format
    /// The size of the disk the image holds, in bytes.
    public var virtualSize: Int64
    /// VMDK's `createType` (monolithicSparse, streamOptimized, …).
    public var vmdkSubformat: String?
    /// Why the image is unsafe to convert; empty when it is safe.
    public var problems: [String]

    public init(format: Format, virtualSize: Int64, vmdkSubformat: String? = nil, problems: [String] = []) {
        self.format = format
        self.virtualSize = virtualSize
        self.vmdkSubformat = vmdkSubformat
        self.problems = problems
    }
}

/// Reads image headers (qcow2, VMDK, VHD, VHDX, VDI, ISO 9660; anything else is raw).
public enum ImageInspector {
    /// `vmdk_allowed_types`' default: the VMDK subformats that are one self-contained file.
    public static let defaultVMDKTypes: Set<String> = ["streamOptimized", "monolithicSparse"]

    /// Inspects the file at `path`. A file that matches more than one format (a polyglot, built to be read one way
    /// by one tool and another way by another) is reported with a problem.
    public static func inspect(path: String, allowedVMDKTypes: Set<String> = defaultVMDKTypes) throws -> ImageInspection {
        let file = try ImageFile(path: path)
        defer { file.close() }
        var found: [ImageInspection] = []
        if let qcow2 = try qcow2(file) { found.append(qcow2) }
        if let vmdk = try vmdk(file, allowed: allowedVMDKTypes) { found.append(vmdk) }
        if let vhdx = try vhdx(file) { found.append(vhdx) }
        if let vhd = try vhd(file) { found.append(vhd) }
        if let vdi = try vdi(file) { found.append(vdi) }
        if let iso = try iso(file) { found.append(iso) }
        guard var first = found.first else { return ImageInspection(format: .raw, virtualSize: file.size) }
        if found.count > 1 {
            first.problems.append(
                "it reads as more than one format (\(found.map(\.format.rawValue).joined(separator: ", ")))")
        }
        return first
    }

    /// The image at `path` as a volume of `volumeSize` bytes may be made from it: its content is `declared`
    /// (Glance's `disk_format`; `ami` counts as raw), it names no other file, and it fits. Throws a person's
    /// message otherwise.
    public static func check(
        path: String, declared: String, volumeSize: Int64, allowedVMDKTypes: Set<String> = defaultVMDKTypes
    ) throws -> ImageInspection {
        let inspection = try inspect(path: path, allowedVMDKTypes: allowedVMDKTypes)
        let expected = contentFormat(declared: declared)
        if let problem = inspection.problems.first {
            throw AshlarError(.invalidInput, "Image is unsafe to use: \(problem).")
        }
        guard inspection.format.rawValue == expected else {
            throw AshlarError(
                .invalidInput,
                "Image disk_format is \(declared) but its content is \(inspection.format.rawValue); it is refused.")
        }
        guard inspection.virtualSize <= volumeSize else {
            throw AshlarError(
                .invalidInput,
                "Image virtual size is \(gib(inspection.virtualSize)) GiB and does not fit in a volume of \(gib(volumeSize)) GiB.")
        }
        return inspection
    }

    /// The format the content of an image declared `diskFormat` must have (`ami` is raw).
    public static func contentFormat(declared diskFormat: String?) -> String? {
        diskFormat == "ami" ? "raw" : diskFormat
    }

    /// Bytes as whole GiB, rounded up.
    public static func gib(_ bytes: Int64) -> Int64 { (bytes + (1 << 30) - 1) >> 30 }

    // MARK: Formats

    /// qcow2 (v2/v3): `QFI\xfb`, size at 24; a backing file (offset at 8), the external data file feature
    /// (incompatible bit 2) or a data file name extension (`DATA`) is a problem.
    static func qcow2(_ file: ImageFile) throws -> ImageInspection? {
        let header = try file.read(at: 0, count: 512)
        guard header.count >= 104, header.prefix(4) == Data([0x51, 0x46, 0x49, 0xFB]) else { return nil }
        var result = ImageInspection(format: .qcow2, virtualSize: Int64(bitPattern: header.bigEndian(UInt64.self, at: 24)))
        let version = header.bigEndian(UInt32.self, at: 4)
        if version != 2 && version != 3 { result.problems.append("qcow2 version \(version) is not known") }
        if header.bigEndian(UInt64.self, at: 8) != 0 { result.problems.append("the qcow2 image names a backing file") }
        if version == 3 {
            if header.bigEndian(UInt64.self, at: 72) & (1 << 2) != 0 {
                result.problems.append("the qcow2 image keeps its data in an external data file")
            }
            // Header extensions: type and length, data padded to 8, until type 0.
            var offset = Int(header.bigEndian(UInt32.self, at: 100))
            let extensions = try file.read(at: 0, count: 64 * 1024)
            while offset + 8 <= extensions.count {
                let type = extensions.bigEndian(UInt32.self, at: offset)
                let length = Int(extensions.bigEndian(UInt32.self, at: offset + 4))
                if type == 0 { break }
                if type == 0x4441_5441 { result.problems.append("the qcow2 image names an external data file") }
                offset += 8 + (length + 7) / 8 * 8
            }
        }
        return result
    }

    /// VMDK: a sparse extent (`KDMV`, capacity in sectors at 12) with its embedded descriptor, whose
    /// `createType` must be allowed and whose extents must be the file itself; a bare descriptor (text naming
    /// other files) is a problem.
    static func vmdk(_ file: ImageFile, allowed: Set<String>) throws -> ImageInspection? {
        let head = try file.read(at: 0, count: 512)
        if head.prefix(4) == Data("KDMV".utf8), head.count >= 44 {
            let capacity = Int64(bitPattern: head.littleEndian(UInt64.self, at: 12)) * 512
            let descriptorOffset = Int64(bitPattern: head.littleEndian(UInt64.self, at: 28)) * 512
            let descriptorSize = min(Int(head.littleEndian(UInt64.self, at: 36)) * 512, 64 * 1024)
            var result = ImageInspection(format: .vmdk, virtualSize: capacity)
            let text = descriptorOffset > 0 && descriptorSize > 0
                ? String(decoding: try file.read(at: descriptorOffset, count: descriptorSize), as: UTF8.self) : ""
            let type = descriptorValue(text, "createType")
            result.vmdkSubformat = type
            if let type, !allowed.contains(type) {
                result.problems.append("VMDK subformat \(type) is not allowed (vmdk_allowed_types: \(allowed.sorted().joined(separator: ", ")))")
            }
            let extents = text.split(separator: "\n").filter { line in
                ["RW ", "RDONLY ", "NOACCESS "].contains { line.hasPrefix($0) }
            }
            if extents.count > 1 { result.problems.append("the VMDK image has more than one extent") }
            return result
        }
        if String(decoding: head.prefix(21), as: UTF8.self) == "# Disk DescriptorFile" {
            let type = descriptorValue(String(decoding: head, as: UTF8.self), "createType")
            return ImageInspection(
                format: .vmdk, virtualSize: file.size, vmdkSubformat: type,
                problems: ["the VMDK image is a descriptor that names other files (\(type ?? "no createType"))"])
        }
        return nil
    }

    static func descriptorValue(_ text: String, _ key: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + "=") {
            return line.dropFirst(key.count + 1).trimmingCharacters(in: CharacterSet(charactersIn: "\" \r"))
        }
        return nil
    }

    /// VHD: the `conectix` footer, at the start of a dynamic image (a copy) or in the last 512 bytes of a fixed
    /// one; current size at 48; a differencing disk (type 4) names a parent and is a problem.
    static func vhd(_ file: ImageFile) throws -> ImageInspection? {
        var footer = try file.read(at: 0, count: 512)
        if footer.prefix(8) != Data("conectix".utf8), file.size >= 512 {
            footer = try file.read(at: file.size - 512, count: 512)
        }
        guard footer.count >= 64, footer.prefix(8) == Data("conectix".utf8) else { return nil }
        var result = ImageInspection(format: .vhd, virtualSize: Int64(bitPattern: footer.bigEndian(UInt64.self, at: 48)))
        if footer.bigEndian(UInt32.self, at: 60) == 4 { result.problems.append("the VHD image is a differencing disk (it names a parent)") }
        return result
    }

    static let vhdxMetadataRegion = UUID(uuidString: "8B7CA206-4790-4B9A-B8FE-575F050F886E")!
    static let vhdxVirtualDiskSize = UUID(uuidString: "2FA54224-CD1B-4876-B211-5DBED83BF4B8")!
    static let vhdxParentLocator = UUID(uuidString: "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")!

    /// VHDX: `vhdxfile`; the region table at 192 KiB leads to the metadata region, whose items give the virtual
    /// size; a parent locator (a differencing disk) is a problem.
    static func vhdx(_ file: ImageFile) throws -> ImageInspection? {
        guard try file.read(at: 0, count: 8) == Data("vhdxfile".utf8) else { return nil }
        var result = ImageInspection(format: .vhdx, virtualSize: 0)
        let regions = try file.read(at: 192 * 1024, count: 64 * 1024)
        guard regions.count >= 16, regions.prefix(4) == Data("regi".utf8) else {
            result.problems.append("the VHDX region table is missing")
            return result
        }
        let count = min(Int(regions.littleEndian(UInt32.self, at: 8)), 2047)
        var metadata: Int64?
        for i in 0..<count where 16 + i * 32 + 32 <= regions.count {
            if regions.guid(at: 16 + i * 32) == vhdxMetadataRegion {
                metadata = Int64(bitPattern: regions.littleEndian(UInt64.self, at: 16 + i * 32 + 16))
            }
        }
        guard let metadata else {
            result.problems.append("the VHDX metadata region is missing")
            return result
        }
        let table = try file.read(at: metadata, count: 64 * 1024)
        guard table.count >= 32, table.prefix(8) == Data("metadata".utf8) else {
            result.problems.append("the VHDX metadata table is missing")
            return result
        }
        let entries = min(Int(table.littleEndian(UInt16.self, at: 10)), 2047)
        for i in 0..<entries where 32 + i * 32 + 32 <= table.count {
            let base = 32 + i * 32
            let item = table.guid(at: base)
            let offset = Int64(table.littleEndian(UInt32.self, at: base + 16))
            if item == vhdxVirtualDiskSize {
                let value = try file.read(at: metadata + offset, count: 8)
                if value.count == 8 { result.virtualSize = Int64(bitPattern: value.littleEndian(UInt64.self, at: 0)) }
            } else if item == vhdxParentLocator {
                result.problems.append("the VHDX image is a differencing disk (it names a parent)")
            }
        }
        return result
    }

    /// VDI: the signature 0xbeda107f at 64, disk size at 368; only dynamic (1) and static (2) images.
    static func vdi(_ file: ImageFile) throws -> ImageInspection? {
        let header = try file.read(at: 0, count: 512)
        guard header.count >= 376, header.littleEndian(UInt32.self, at: 64) == 0xBEDA_107F else { return nil }
        var result = ImageInspection(format: .vdi, virtualSize: Int64(bitPattern: header.littleEndian(UInt64.self, at: 368)))
        let type = header.littleEndian(UInt32.self, at: 76)
        if type != 1 && type != 2 { result.problems.append("VDI image type \(type) is not a self-contained disk") }
        return result
    }

    /// ISO 9660: `CD001` in the first volume descriptor, at 32769.
    static func iso(_ file: ImageFile) throws -> ImageInspection? {
        guard try file.read(at: 32769, count: 5) == Data("CD001".utf8) else { return nil }
        return ImageInspection(format: .iso, virtualSize: file.size)
    }
}

/// A file read at offsets, for the inspector.
struct ImageFile {
    let fd: Int32
    let size: Int64

    init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw AshlarError(.driverFailure, "Could not open the image \(path): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            Glibc.close(fd)
            throw AshlarError(.driverFailure, "Could not read the size of the image \(path)")
        }
        size = Int64(st.st_size)
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the file).
    func read(at offset: Int64, count: Int) throws -> Data {
        guard offset >= 0, offset < size, count > 0 else { return Data() }
        var data = Data(count: count)
        let got = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard got >= 0 else { throw AshlarError(.driverFailure, "Could not read the image: \(String(cString: strerror(errno)))") }
        return data.prefix(got)
    }

    func close() { Glibc.close(fd) }
}

extension Data {
    func bigEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return 0 }
        return self[(startIndex + offset)..<(startIndex + offset + MemoryLayout<T>.size)].reduce(T(0)) { $0 << 8 | T($1) }
    }

    func littleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return 0 }
        return self[(startIndex + offset)..<(startIndex + offset + MemoryLayout<T>.size)].reversed()
            .reduce(T(0)) { $0 << 8 | T($1) }
    }

    /// A GUID stored as Microsoft does (the first three fields little-endian).
    func guid(at offset: Int) -> UUID? {
        guard offset >= 0, offset + 16 <= count else { return nil }
        var b = [UInt8](self[(startIndex + offset)..<(startIndex + offset + 16)])
        b[0...3].reverse()
        b[4...5].reverse()
        b[6...7].reverse()
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
