import AshlarCore
import AshlarImages
import Foundation
import Testing

@testable import AshlarVolume

/// The image inspector on images real qemu-img makes, and on crafted ones it must see through.
@Suite("Image inspector", .timeLimit(.minutes(2)))
struct ImageInspectorTests {
    static let qemuImg = ToolRunner.locate("qemu-img")
    static var canMakeImages: Bool { qemuImg != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// A fresh directory for one test's images.
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `qemu-img create -f FORMAT [-o OPTIONS] [extra] NAME SIZE` in `dir`; returns the path.
    static func make(_ dir: URL, _ name: String, _ format: String, _ size: String, options: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(qemuImg, "qemu-img is missing (scripts/setup-test-env)"))
        process.arguments = ["create", "-q", "-f", format] + options + [name, size]
        process.currentDirectoryURL = dir
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "qemu-img create \(name) failed")
        return dir.appendingPathComponent(name).path
    }

    @Test("Formats and virtual sizes of what qemu-img makes", .enabled(if: canMakeImages))
    func formats() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String, [String], ImageInspection.Format, Int64)] = [
            ("a.raw", "raw", [], .raw, 16 << 20),
            ("a.qcow2", "qcow2", [], .qcow2, 32 << 20),
            ("v2.qcow2", "qcow2", ["-o", "compat=0.10"], .qcow2, 8 << 20),
            ("a.vmdk", "vmdk", [], .vmdk, 16 << 20),
            ("s.vmdk", "vmdk", ["-o", "subformat=streamOptimized"], .vmdk, 16 << 20),
            ("d.vhd", "vpc", [], .vhd, 16_781_312),
            ("f.vhd", "vpc", ["-o", "subformat=fixed"], .vhd, 16_781_312),
            ("a.vhdx", "vhdx", [], .vhdx, 16 << 20),
            ("a.vdi", "vdi", [], .vdi, 16 << 20),
        ]
        for (name, format, options, expected, size) in cases {
            let sizeText = name == "a.qcow2" ? "32M" : name == "v2.qcow2" ? "8M" : "16M"
            let path = try Self.make(dir, name, format, sizeText, options: options)
            let inspection = try ImageInspector.inspect(path: path)
            #expect(inspection.format == expected, "\(name)")
            #expect(inspection.virtualSize == size, "\(name): \(inspection.virtualSize)")
            #expect(inspection.problems.isEmpty, "\(name): \(inspection.problems)")
        }
        #expect(try ImageInspector.inspect(path: dir.appendingPathComponent("s.vmdk").path).vmdkSubformat == "streamOptimized")
    }

    @Test("Images that name other files are refused: backing file, external data file, VMDK descriptor", .enabled(if: canMakeImages))
    func namesOtherFiles() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A host file a hostile image would have qemu-img read into the volume.
        FileManager.default.createFile(atPath: dir.appendingPathComponent("secret").path, contents: Data("host data".utf8))
        let backed = try Self.make(dir, "backed.qcow2", "qcow2", "1M", options: ["-b", "secret", "-F", "raw"])
        let external = try Self.make(dir, "ext.qcow2", "qcow2", "1M", options: ["-o", "data_file=data.bin"])
        let flat = try Self.make(dir, "flat.vmdk", "vmdk", "1M", options: ["-o", "subformat=monolithicFlat"])
        let sparse = try Self.make(dir, "sparse.vmdk", "vmdk", "1M")
        for (path, words) in [(backed, "backing file"), (external, "external data file"), (flat, "names other files")] {
            let problems = try ImageInspector.inspect(path: path).problems
            #expect(problems.contains { $0.contains(words) }, "\(path): \(problems)")
            #expect(throws: AshlarError.self) {
                try ImageInspector.check(path: path, declared: path.hasSuffix("vmdk") ? "vmdk" : "qcow2", volumeSize: 1 << 30)
            }
        }
        // vmdk_allowed_types narrows what a sparse VMDK may be.
        #expect(try ImageInspector.inspect(path: sparse).problems.isEmpty)
        #expect(!(try ImageInspector.inspect(path: sparse, allowedVMDKTypes: ["streamOptimized"]).problems.isEmpty))
    }

    @Test("check: the declared format must be the content's, and the virtual size must fit", .enabled(if: canMakeImages))
    func declaredAndSize() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let qcow2 = try Self.make(dir, "a.qcow2", "qcow2", "2G")
        #expect(try ImageInspector.check(path: qcow2, declared: "qcow2", volumeSize: 2 << 30).format == .qcow2)
        do {
            _ = try ImageInspector.check(path: qcow2, declared: "raw", volumeSize: 4 << 30)
            Issue.record("a qcow2 declared raw was accepted")
        } catch let error as AshlarError {
            #expect(error.message.contains("disk_format is raw but its content is qcow2"))
        }
        do {
            _ = try ImageInspector.check(path: qcow2, declared: "qcow2", volumeSize: 1 << 30)
            Issue.record("an image larger than its volume was accepted")
        } catch let error as AshlarError {
            #expect(error.message.contains("does not fit"))
        }
    }

    @Test("Crafted files: an ISO, a qcow2 that is also an ISO, a descriptor, garbage as raw")
    func crafted() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ bytes: [(Int, [UInt8])], size: Int) throws -> String {
            var data = Data(count: size)
            for (offset, chunk) in bytes { data.replaceSubrange(offset..<(offset + chunk.count), with: chunk) }
            let path = dir.appendingPathComponent(name).path
            try data.write(to: URL(fileURLWithPath: path))
            return path
        }
        let cd001 = Array("CD001".utf8)
        let iso = try write("a.iso", [(32769, cd001)], size: 64 * 1024)
        #expect(try ImageInspector.inspect(path: iso) == ImageInspection(format: .iso, virtualSize: 64 * 1024))
        // qcow2 v3 header (64 MiB, no backing file) with an ISO descriptor after it.
        var header: [UInt8] = [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3] + [UInt8](repeating: 0, count: 16)
        header += [0, 0, 0, 0, 0x04, 0, 0, 0]  // size at 24: 64 MiB
        header += [UInt8](repeating: 0, count: 100 - header.count) + [0, 0, 0, 104]
        let polyglot = try write("poly.qcow2", [(0, header), (32769, cd001)], size: 64 * 1024)
        let inspection = try ImageInspector.inspect(path: polyglot)
        #expect(inspection.format == .qcow2)
        #expect(inspection.virtualSize == 64 << 20)
        #expect(inspection.problems.contains { $0.contains("more than one format") }, "\(inspection.problems)")
        let descriptor = try write(
            "d.vmdk", [(0, Array("# Disk DescriptorFile\ncreateType=\"vmfs\"\nRW 2048 VMFS \"/etc/shadow\"\n".utf8))],
            size: 512)
        #expect(!(try ImageInspector.inspect(path: descriptor).problems.isEmpty))
        let raw = try write("x.img", [(0, [0xEB, 0x3C, 0x90])], size: 4096)
        #expect(try ImageInspector.inspect(path: raw) == ImageInspection(format: .raw, virtualSize: 4096))
        #expect(throws: AshlarError.self) { try ImageInspector.inspect(path: dir.appendingPathComponent("missing").path) }
    }
}

/// qemu-img convert under prlimit, into a volume's file.
@Suite("Image converter", .timeLimit(.minutes(2)), .enabled(if: ImageInspectorTests.canMakeImages))
struct ImageConverterTests {
    static func run(_ tool: String, _ arguments: [String]) async throws -> ToolResult {
        try await ToolRunner.run(try #require(ToolRunner.locate(tool), "\(tool) is missing"), arguments, timeout: .seconds(60))
    }

    @Test("A qcow2 with data becomes the same bytes in a raw volume file, holes left as holes")
    func qcow2IntoRaw() async throws {
        let dir = try ImageInspectorTests.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = try ImageInspectorTests.make(dir, "a.qcow2", "qcow2", "64M")
        #expect(try await Self.run("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 1M 64k", image]).succeeded)
        let volume = dir.appendingPathComponent("volume").path
        #expect(FileManager.default.createFile(atPath: volume, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: volume))
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        let inspection = try ImageInspector.check(path: image, declared: "qcow2", volumeSize: 64 << 20)
        try await ImageConverter().convert(source: image, format: inspection.format, into: volume)
        #expect(try await Self.run("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", image, volume]).succeeded)
        let allocated = try FileManager.default.attributesOfItem(atPath: volume)
        #expect((allocated[.size] as? NSNumber)?.int64Value == 64 << 20)
        var st = stat()
        #expect(stat(volume, &st) == 0)
        #expect(Int64(st.st_blocks) * 512 < 8 << 20, "the zeros were written out: \(st.st_blocks) blocks")
    }

    @Test("A conversion held under too small an address space fails with an error, not a crash")
    func limitsHold() async throws {
        let dir = try ImageInspectorTests.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = try ImageInspectorTests.make(dir, "a.qcow2", "qcow2", "1M")
        let volume = dir.appendingPathComponent("volume").path
        #expect(FileManager.default.createFile(atPath: volume, contents: Data(count: 1 << 20)))
        var converter = ImageConverter()
        converter.addressSpaceLimit = 4 << 20  // far below what qemu-img needs to start
        await #expect(throws: AshlarError.self) {
            try await converter.convert(source: image, format: .qcow2, into: volume)
        }
    }
}
