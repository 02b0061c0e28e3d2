import AshlarAPI
import AshlarCore
import AshlarImages
import AshlarStore
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

import CDispatch
import Dispatch
import Glibc

@testable import AshlarVolume

/// Image files the tests make with the real qemu-img.
enum TestImages {
    static let qemuImg = ToolRunner.locate("qemu-img")
    static var available: Bool { qemuImg != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// `qemu-img ARGUMENTS…`, which must succeed.
    static func qemu(_ arguments: [String]) async throws {
        let tool = try #require(qemuImg, "qemu-img is missing (scripts/setup-test-env)")
        let result = try await ToolRunner.run(tool, arguments, timeout: .seconds(60))
        try #require(result.succeeded, "qemu-img \(arguments.joined(separator: " ")): \(result.stderr)")
    }

    /// A raw file of `size` bytes with `pattern` written at the start, at 1 MiB and at the end.
    static func raw(_ path: String, size: Int, pattern: String = "ASHLAR-IMAGE") throws {
        var data = Data(count: size)
        let bytes = Data(String(repeating: pattern, count: 64).utf8)
        for offset in [0, min(1 << 20, size - bytes.count), size - bytes.count] {
            data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

extension API {
    /// Sends `body` with `method` and the given content type; the reply's body kept as bytes.
    func send(_ method: HTTPRequest.Method, _ path: String, bytes: Data, contentType: String) async throws -> (HTTPResponse.Status, Data) {
        let response = try await client.execute(
            uri: path, method: method, headers: [.contentType: contentType], body: ByteBuffer(bytes: bytes))
        return (response.status, Data(response.body.readableBytesView))
    }

    /// Records an image in the built-in store and uploads the file at `path` as its data; returns its id.
    func registerImage(
        _ name: String, diskFormat: String, file path: String, extra: [String: JSONValue] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        var fields: [String: JSONValue] = ["name": .string(name), "disk_format": .string(diskFormat), "container_format": "bare"]
        fields.merge(extra) { _, new in new }
        let created = try await post("/image/v2/images", .object(fields))
        try #require(created.status == .created, "\(created)", sourceLocation: sourceLocation)
        let id = try #require(created.json["id"].string, sourceLocation: sourceLocation)
        let (status, _) = try await send(
            .put, "/image/v2/images/\(id)/file", bytes: try Data(contentsOf: URL(fileURLWithPath: path)),
            contentType: "application/octet-stream")
        try #require(status == .noContent, "upload: \(status)", sourceLocation: sourceLocation)
        return id
    }

    /// The user messages about `id`.
    func messages(about id: String) async throws -> [String] {
        try await get("/v3/messages?resource_uuid=\(id)", version: "3.3").json["messages"].array
            .compactMap { $0["user_message"].string }
    }
}

@Suite("Built-in image store (Glance v2 under /image)", .timeLimit(.minutes(2)))
struct ImageStoreAPITests {
    @Test("Create, upload, show with hashes, download, patch, list with filters and pages, delete")
    func lifecycle() async throws {
        try await withSystem { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/a.img", size: 3 << 20)
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.img"))
            let versions = try await api.get("/image")
            #expect(versions.json["versions"][0]["id"].string?.hasPrefix("v2") == true, "\(versions)")

            let id = try await api.registerImage("alpha", diskFormat: "raw", file: "\(dir)/a.img", extra: ["hw_disk_bus": "scsi"])
            let shown = try await api.get("/image/v2/images/\(id)").json
            #expect(shown["status"].string == "active")
            #expect(shown["size"].int == data.count)
            #expect(shown["virtual_size"].int == data.count)
            #expect(shown["checksum"].string == Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined())
            #expect(shown["os_hash_algo"].string == "sha512")
            #expect(shown["os_hash_value"].string == SHA512.hash(data: data).map { String(format: "%02x", $0) }.joined())
            #expect(shown["hw_disk_bus"].string == "scsi")
            #expect(shown["owner"].string == "admin")
            let (status, downloaded) = try await api.send(.get, "/image/v2/images/\(id)/file", bytes: Data(), contentType: "application/octet-stream")
            #expect(status == .ok)
            #expect(downloaded == data)
            // The stored file stays sparse: the zeros between the patterns are holes.
            var info = stat()
            #expect(stat(api.system.imageStore.dataPath(of: id), &info) == 0)
            #expect(Int(info.st_blocks) * 512 < data.count / 2, "blocks: \(info.st_blocks)")

            // A second upload of an active image is refused; so are unknown formats and read-only attributes.
            let (again, _) = try await api.send(.put, "/image/v2/images/\(id)/file", bytes: Data([1]), contentType: "application/octet-stream")
            #expect(again == .conflict)
            #expect(try await api.post("/image/v2/images", ["name": "x", "disk_format": "exe"]).status == .badRequest)
            #expect(try await api.post("/image/v2/images", ["name": "x", "status": "active"]).status == .forbidden)
            #expect(try await api.get("/image/v2/images/\(randomID())").status == .notFound)

            let (patched, patchBody) = try await api.send(
                .patch, "/image/v2/images/\(id)",
                bytes: Data(#"[{"op":"replace","path":"/name","value":"beta"},{"op":"add","path":"/os_distro","value":"cirros"},{"op":"remove","path":"/hw_disk_bus"}]"#.utf8),
                contentType: "application/openstack-images-v2.1-json-patch")
            #expect(patched == .ok)
            let after = JSON(try JSONValue.parse(patchBody))
            #expect(after["name"].string == "beta")
            #expect(after["os_distro"].string == "cirros")
            #expect(!after["hw_disk_bus"].exists)

            let second = try await api.post("/image/v2/images", ["name": "gamma", "disk_format": "qcow2", "container_format": "bare"])
            #expect(second.json["status"].string == "queued")
            #expect(try await api.get("/image/v2/images?name=beta").json["images"].array.map { $0["id"].string } == [id])
            #expect(try await api.get("/image/v2/images?status=queued").json["images"].array.count == 1)
            let page = try await api.get("/image/v2/images?limit=1").json
            #expect(page["images"].array.count == 1)
            let next = try #require(page["next"].string)
            let rest = try await api.get("/image" + next).json
            #expect(rest["images"].array.count == 1)
            #expect(!rest["next"].exists)

            let (protect, _) = try await api.send(
                .patch, "/image/v2/images/\(id)", bytes: Data(#"[{"op":"replace","path":"/protected","value":true}]"#.utf8),
                contentType: "application/openstack-images-v2.1-json-patch")
            #expect(protect == .ok)
            #expect(try await api.delete("/image/v2/images/\(id)").status == .forbidden)
            _ = try await api.send(
                .patch, "/image/v2/images/\(id)", bytes: Data(#"[{"op":"replace","path":"/protected","value":false}]"#.utf8),
                contentType: "application/openstack-images-v2.1-json-patch")
            #expect(try await api.delete("/image/v2/images/\(id)").status == .noContent)
            #expect(try await api.get("/image/v2/images/\(id)").status == .notFound)
            #expect(!FileManager.default.fileExists(atPath: api.system.imageStore.dataPath(of: id)))
        }
    }

    @Test("An image belongs to the project of the token that made it; visibility and owner filter the list")
    func ownership() async throws {
        try await withSystem { api in
            // Every noauth caller is an administrator, who sees every image: who may see what is the store's
            // rule, tested without HTTP (LocalImageStoreTests).
            let mine = try await api.post("/image/v2/images", ["name": "mine", "visibility": "private"], token: "alice:p1")
            #expect(mine.json["owner"].string == "p1")
            let shared = try await api.post("/image/v2/images", ["name": "all", "visibility": "public"], token: "bob:p2")
            let listed = try await api.get("/image/v2/images?visibility=public").json["images"].array.compactMap { $0["id"].string }
            #expect(listed == [shared.json["id"].string])
            let owned = try await api.get("/image/v2/images?owner=p1").json["images"].array.compactMap { $0["id"].string }
            #expect(owned == [mine.json["id"].string])
        }
    }
}

@Suite("Volumes from images and uploads to images", .timeLimit(.minutes(3)))
struct VolumeImageTests {
    @Test("A raw image: the volume holds its bytes, is bootable and shows volume_image_metadata; size defaults from the image")
    func fromRaw() async throws {
        try await withSystem { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/a.img", size: 5 << 20)
            let image = try await api.registerImage("raw-one", diskFormat: "raw", file: "\(dir)/a.img", extra: ["os_distro": "cirros"])
            let reply = try await api.post("/v3/volumes", ["volume": ["imageRef": .string(image), "name": "boot"]])
            #expect(reply.status == .accepted, "\(reply)")
            let id = try #require(reply.json["volume"]["id"].string)
            try await api.waitForStatus(id, "available")
            let volume = try #require(try await api.volume(id))
            #expect(volume["size"].int == 1)
            #expect(volume["bootable"].string == "true")
            let metadata = volume["volume_image_metadata"]
            #expect(metadata["image_id"].string == image)
            #expect(metadata["image_name"].string == "raw-one")
            #expect(metadata["disk_format"].string == "raw")
            #expect(metadata["os_distro"].string == "cirros")
            #expect(!metadata["progress"].exists)
            // A clone boots as its source does, with its image properties.
            let clone = try await api.createAvailableVolume(extra: ["source_volid": .string(id)])
            let cloned = try #require(try await api.volume(clone))
            #expect(cloned["bootable"].string == "true")
            #expect(cloned["volume_image_metadata"]["image_id"].string == image)
            let attributes = try FileManager.default.attributesOfItem(atPath: api.system.volumeFile(id))
            #expect((attributes[.size] as? NSNumber)?.int64Value == 1 << 30)
            let original = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.img"))
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: api.system.volumeFile(id)))
            defer { try? handle.close() }
            #expect(try handle.read(upToCount: original.count) == original)
        }
    }

    @Test("qcow2, vmdk and vhdx images are converted by qemu-img into the same content", .enabled(if: TestImages.available))
    func converted() async throws {
        try await withSystem { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/src.raw", size: 4 << 20)
            for (format, qemuFormat) in [("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vhdx", "vhdx")] {
                try await TestImages.qemu(["convert", "-f", "raw", "-O", qemuFormat, "\(dir)/src.raw", "\(dir)/img.\(format)"])
                let image = try await api.registerImage("img-\(format)", diskFormat: format, file: "\(dir)/img.\(format)")
                let id = try await api.createVolume(extra: ["imageRef": .string(image)])
                try await api.waitForStatus(id, "available")
                // The first 4 MiB are the image's; the rest of the volume reads as zeros.
                try await TestImages.qemu(["compare", "-f", "raw", "-F", "raw", "\(dir)/src.raw", api.system.volumeFile(id)])
                #expect(try await api.volume(id)?["volume_image_metadata"]["disk_format"].string == format)
            }
            #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/conversion/\(TestSystem.backendHost)"))?.isEmpty ?? true)
        }
    }

    @Test("Refused at the API: an unknown image, a queued one, too small a size, two sources")
    func refusedAtAPI() async throws {
        try await withSystem { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/a.img", size: 1 << 20)
            expectFault(try await api.post("/v3/volumes", ["volume": ["size": 1, "imageRef": .string(randomID())]]), .badRequest, "image")
            let queued = try #require(try await api.post("/image/v2/images", ["name": "q", "disk_format": "raw", "container_format": "bare"]).json["id"].string)
            expectFault(try await api.post("/v3/volumes", ["volume": ["size": 1, "imageRef": .string(queued)]]), .badRequest, "not active")
            let big = try await api.registerImage("big", diskFormat: "raw", file: "\(dir)/a.img", extra: ["min_disk": 3])
            expectFault(try await api.post("/v3/volumes", ["volume": ["size": 2, "imageRef": .string(big)]]), .badRequest, "minDisk")
            let (deactivated, _) = try await api.send(.post, "/image/v2/images/\(big)/actions/deactivate", bytes: Data(), contentType: "application/json")
            #expect(deactivated == .noContent)
            expectFault(try await api.post("/v3/volumes", ["volume": ["size": 3, "imageRef": .string(big)]]), .badRequest, "not active")
            let (reactivated, _) = try await api.send(.post, "/image/v2/images/\(big)/actions/reactivate", bytes: Data(), contentType: "application/json")
            #expect(reactivated == .noContent)
            let source = try await api.createAvailableVolume()
            expectFault(
                try await api.post("/v3/volumes", ["volume": ["size": 3, "imageRef": .string(big), "source_volid": .string(source)]]),
                .badRequest, "one source")
            #expect(try await api.volumeIDs() == [source])
        }
    }

    @Test("A hostile set: each refused with a message a person can act on, and no host file read", .enabled(if: TestImages.available))
    func hostileImages() async throws {
        try await withSystem { api in
            let dir = api.system.directory.path
            let sentinel = "\(dir)/host-secret"
            let secret = Data(String(repeating: "HOST-SECRET-", count: 90_000).utf8)
            // qcow2 with an external data file naming the sentinel (made first, then the secret put in its place).
            try await TestImages.qemu(["create", "-q", "-f", "qcow2", "-o", "data_file=\(sentinel),data_file_raw=on", "\(dir)/datafile.qcow2", "1M"])
            try secret.write(to: URL(fileURLWithPath: sentinel))
            try await TestImages.qemu(["create", "-q", "-f", "qcow2", "-b", sentinel, "-F", "raw", "\(dir)/backing.qcow2", "1M"])
            try Data("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"\(sentinel)\" 0\n".utf8)
                .write(to: URL(fileURLWithPath: "\(dir)/descriptor.vmdk"))
            try await TestImages.qemu(["create", "-q", "-f", "qcow2", "\(dir)/plain.qcow2", "1M"])
            // From here on, a read of the sentinel would move its access time (relatime: atime older than mtime).
            var times = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil), tv_usec: 0)]
            #expect(utimes(sentinel, &times) == 0)
            let cases: [(file: String, declared: String, words: String)] = [
                ("datafile.qcow2", "qcow2", "data file"),
                ("backing.qcow2", "qcow2", "backing file"),
                ("descriptor.vmdk", "vmdk", "vmdk"),
                ("plain.qcow2", "raw", "disk_format is raw but its content is qcow2"),
            ]
            for item in cases {
                let image = try await api.registerImage(item.file, diskFormat: item.declared, file: "\(dir)/\(item.file)")
                let id = try await api.createVolume(extra: ["imageRef": .string(image)])
                try await api.waitForStatus(id, "error")
                let messages = try await api.messages(about: id)
                #expect(messages.contains { $0.lowercased().contains(item.words.lowercased()) && $0.contains(image) }, "\(item.file): \(messages)")
                #expect(!messages.joined().contains(dir), "a message names a host path: \(messages)")
                #expect(!FileManager.default.fileExists(atPath: api.system.volumeFile(id)), "\(item.file) left a volume file")
            }
            // Bombs never reach the volume service: their virtual size is read on upload and checked at create.
            try await TestImages.qemu(["create", "-q", "-f", "qcow2", "\(dir)/bomb.qcow2", "1P"])
            let bomb = try await api.registerImage("bomb", diskFormat: "qcow2", file: "\(dir)/bomb.qcow2")
            expectFault(try await api.post("/v3/volumes", ["volume": ["size": 1, "imageRef": .string(bomb)]]), .badRequest, "doesn't fit")
            // An image whose size the store could not read (recorded without it) is still measured before use.
            var unmeasured = try await api.system.imageStore.show(bomb, context: .service(requestID: "t"))
            unmeasured.virtualSize = nil
            #expect(try await api.system.imageStore.records.replace(unmeasured, ifStatusIn: ["active"]))
            let id = try await api.createVolume(extra: ["imageRef": .string(bomb)])
            try await api.waitForStatus(id, "error")
            #expect(try await api.messages(about: id).contains { $0.contains("does not fit") })

            var after = stat()
            #expect(stat(sentinel, &after) == 0)
            #expect(after.st_atim.tv_sec == times[0].tv_sec, "the sentinel was read")
            for name in (try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? [] where !name.hasSuffix("host-secret") {
                guard let handle = FileHandle(forReadingAtPath: "\(dir)/\(name)"), let head = try? handle.read(upToCount: 4 << 20)
                else { continue }
                try? handle.close()
                #expect(head.range(of: Data("HOST-SECRET-".utf8)) == nil, "\(name) holds the sentinel's data")
            }
        }
    }

    @Test("Upload to image: qcow2 and raw round trips, uploading and back, refusals", .enabled(if: TestImages.available))
    func upload() async throws {
        try await withSystem { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/a.img", size: 2 << 20)
            let image = try await api.registerImage("seed", diskFormat: "raw", file: "\(dir)/a.img", extra: ["os_distro": "cirros"])
            let volume = try await api.createVolume(extra: ["imageRef": .string(image)])
            try await api.waitForStatus(volume, "available")
            for format in ["qcow2", "raw"] {
                let reply = try await api.post(
                    "/v3/volumes/\(volume)/action",
                    ["os-volume_upload_image": ["image_name": .string("up-\(format)"), "disk_format": .string(format), "visibility": "public"]],
                    version: "3.1")
                #expect(reply.status == .accepted, "\(reply)")
                let body = reply.json["os-volume_upload_image"]
                #expect(body["status"].string == "uploading")
                #expect(body["visibility"].string == "public")
                let uploaded = try #require(body["image_id"].string)
                try await api.waitForStatus(volume, "available")
                let shown = try await api.get("/image/v2/images/\(uploaded)").json
                #expect(shown["status"].string == "active", "\(shown)")
                #expect(shown["disk_format"].string == format)
                #expect(shown["os_distro"].string == "cirros")
                #expect(!shown["image_id"].exists && !shown["progress"].exists)
                try await TestImages.qemu([
                    "compare", "-f", format, "-F", "raw", api.system.imageStore.dataPath(of: uploaded), api.system.volumeFile(volume),
                ])
                if format == "raw" { #expect(shown["size"].int == 1 << 30) }
            }
            #expect(try await api.volume(volume)?["volume_image_metadata"]["progress"].exists == false)
            let path = "/v3/volumes/\(volume)/action"
            expectFault(try await api.post(path, ["os-volume_upload_image": ["disk_format": "raw"]]), .badRequest, "image_name")
            expectFault(try await api.post(path, ["os-volume_upload_image": ["image_name": "x", "disk_format": "ploop"]]), .badRequest, "disk_format")
            expectFault(try await api.post(path, ["os-volume_upload_image": ["image_name": "x", "container_format": "ovf"]]), .badRequest, "container_format")
            // In use: refused without enable_force_upload, even with force.
            try await api.attach(volume)
            try await api.waitForStatus(volume, "in-use")
            expectFault(
                try await api.post(path, ["os-volume_upload_image": ["image_name": "x", "force": true]]), .badRequest,
                "enable_force_upload")
            #expect(try await api.get("/image/v2/images?name=x").json["images"].array.isEmpty)
        }
    }

    @Test("enable_force_upload: an in-use volume is uploaded with force and stays in-use")
    func forceUpload() async throws {
        try await withSystem(configure: { $0.images.enableForceUpload = true }) { api in
            let volume = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(volume)/action"
            try await api.attach(volume)
            try await api.waitForStatus(volume, "in-use")
            expectFault(try await api.post(path, ["os-volume_upload_image": ["image_name": "x"]]), .badRequest, "in-use")
            let reply = try await api.post(path, ["os-volume_upload_image": ["image_name": "x", "force": true]])
            #expect(reply.status == .accepted, "\(reply)")
            try await api.waitForStatus(volume, "in-use")
            let image = try #require(reply.json["os-volume_upload_image"]["image_id"].string)
            #expect(try await api.get("/image/v2/images/\(image)").json["status"].string == "active")
        }
    }

    @Test("image_volume_cache_enabled: the second volume from an image is a clone of the cached copy")
    func cache() async throws {
        try await withSystem(configure: { $0.images.cacheEnabled = true; $0.images.cacheMaxCount = 1 }) { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/a.img", size: 3 << 20, pattern: "FIRST")
            try TestImages.raw("\(dir)/b.img", size: 3 << 20, pattern: "SECOND")
            let image = try await api.registerImage("cached", diskFormat: "raw", file: "\(dir)/a.img")
            let first = try await api.createVolume(extra: ["imageRef": .string(image)])
            try await api.waitForStatus(first, "available")
            let cache = ImageVolumeCache(directory: "\(api.system.volumeDirectory)/image-cache")
            #expect(cache.entries().count == 1)
            // With the store's data gone, only the cache can make the second volume.
            #expect(unlink(api.system.imageStore.dataPath(of: image)) == 0)
            let second = try await api.createVolume(size: 2, extra: ["imageRef": .string(image)])
            try await api.waitForStatus(second, "available")
            let original = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.img"))
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: api.system.volumeFile(second)))
            defer { try? handle.close() }
            #expect(try handle.read(upToCount: original.count) == original)
            var info = stat()
            #expect(stat(api.system.volumeFile(second), &info) == 0 && info.st_size == 2 << 30)
            // A second image pushes the first out (image_volume_cache_max_count = 1).
            let other = try await api.registerImage("other", diskFormat: "raw", file: "\(dir)/b.img")
            try await api.waitForStatus(try await api.createVolume(extra: ["imageRef": .string(other)]), "available")
            #expect(cache.entries().count == 1)
            #expect(cache.entries().first?.hasPrefix(other) == true)
        }
    }
}

@Suite("Images: recovery and progress", .timeLimit(.minutes(2)))
struct ImageRecoveryTests {
    static func placedVolume(_ api: API, status: VolumeStatus, admin: [String: String]) async throws -> Volume {
        let type = try #require(try await VolumeTypeStore(db: api.system.database).get(name: "__DEFAULT__"))
        let volume = Volume(
            projectID: "admin", userID: "admin", size: 1, status: status, availabilityZone: "nova",
            volumeTypeID: type.id, host: TestSystem.backendHost + "#file-1", previousStatus: "available",
            adminMetadata: admin)
        try await api.system.environment.volumes.insert(volume)
        return volume
    }

    @Test("a volume left downloading is made again from its image; one left uploading is back, its image removed")
    func recovery() async throws {
        try await withSystem(configure: { $0.staleOperationTimeout = 1 }) { api in
            let dir = api.system.directory.path
            try TestImages.raw("\(dir)/a.img", size: 1 << 20)
            let image = try await api.registerImage("r", diskFormat: "raw", file: "\(dir)/a.img")
            // As if the volume service stopped while writing the image, and while sending a volume to an image.
            let downloading = try await Self.placedVolume(api, status: .downloading, admin: [Volume.imageSourceKey: image])
            let target = try #require(try await api.post("/image/v2/images", ["name": "half", "disk_format": "raw", "container_format": "bare"]).json["id"].string)
            let uploading = try await Self.placedVolume(api, status: .uploading, admin: [Volume.uploadImageKey: target])
            try await api.waitForStatus(downloading.id, "available")
            let made = try #require(try await api.volume(downloading.id))
            #expect(made["bootable"].string == "true")
            #expect(made["volume_image_metadata"]["image_id"].string == image)
            try await api.waitForStatus(uploading.id, "available")
            #expect(try await api.get("/image/v2/images/\(target)").status == .notFound)
            #expect(try await api.messages(about: uploading.id).contains { $0.contains("upload") })
            let after = try #require(try await api.system.environment.volumes.get(uploading.id))
            #expect(after.adminMetadata[Volume.uploadImageKey] == nil)
        }
    }

    @Test("progress is shown in volume_image_metadata while a transfer runs, at most once a second")
    func progress() async throws {
        try await withSystem { api in
            let volume = try await Self.placedVolume(api, status: .uploading, admin: [:])
            let reporter = ProgressReporter(volumes: api.system.environment.volumes, volumeID: volume.id, phase: "uploading")
            reporter.report(done: 300 << 20, total: 1200 << 20)
            reporter.report(done: 400 << 20, total: 1200 << 20)  // within the second: not written
            #expect(try await poll(timeout: .seconds(10)) {
                try await api.volume(volume.id)?["volume_image_metadata"]["progress"].string == "uploading 25% (300 of 1200 MiB)"
            })
            await reporter.set("converting")
            #expect(try await api.volume(volume.id)?["volume_image_metadata"]["progress"].string == "converting")
        }
    }
}
