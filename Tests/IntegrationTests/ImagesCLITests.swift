import Foundation
import Testing

/// Image → volume → image through the unchanged `openstack image` and `openstack volume` commands: against the
/// store built into `ashlar serve`, and against a real Glance that Ashlar reaches through `glance_api_servers`.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ImagesCLITests {
    /// `openstack … -f json` with the volume API at `volumes` and the image API at `images`.
    static func openstack(_ arguments: [String], volumes: String, images: String) async throws -> Any {
        let out = try await Harness.run(
            Harness.venv + "/bin/openstack", arguments + ["-f", "json"],
            environment: [
                "OS_AUTH_TYPE": "none", "OS_ENDPOINT": volumes, "OS_IMAGE_ENDPOINT_OVERRIDE": images,
                "OS_VOLUME_API_VERSION": "3.71",
            ])
        try #require(out.status == 0, "openstack \(arguments.joined(separator: " ")): \(out.stderr.suffix(2000))")
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8))
    }

    /// A qcow2 image of 16 MiB with a recognisable pattern, made by qemu-img; returns its path and the raw file.
    static func makeImage(in directory: URL) async throws -> (qcow2: String, raw: String) {
        let raw = directory.appendingPathComponent("seed.raw").path
        var data = Data(count: 16 << 20)
        let pattern = Data(String(repeating: "ASHLAR-CLI-IMAGE ", count: 256).utf8)
        for offset in [0, 7 << 20, (16 << 20) - pattern.count] {
            data.replaceSubrange(offset..<(offset + pattern.count), with: pattern)
        }
        try data.write(to: URL(fileURLWithPath: raw))
        let qcow2 = directory.appendingPathComponent("seed.qcow2").path
        let made = try await Harness.run("/usr/bin/env", ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2])
        try #require(made.status == 0, "qemu-img: \(made.stderr)")
        return (qcow2, raw)
    }

    /// The round trip: image create --file, volume create --image, image create --volume, image save; the saved
    /// image's content is the original's.
    static func roundTrip(server: Server, images: String) async throws {
        let work = server.stateDirectory.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let (qcow2, raw) = try await makeImage(in: work)
        let volumes = server.url
        let image = try #require(
            try await openstack(["image", "create", "--disk-format", "qcow2", "--container-format", "bare", "--file", qcow2, "cli-seed"],
                volumes: volumes, images: images) as? [String: Any])
        let imageID = try #require(image["id"] as? String)
        #expect(image["status"] as? String == "active")

        let created = try #require(
            try await openstack(["volume", "create", "--image", imageID, "--size", "1", "cli-boot"], volumes: volumes, images: images)
                as? [String: Any])
        let volumeID = try #require(created["id"] as? String)
        var shown: [String: Any] = [:]
        let available = try await server.eventually(.seconds(60)) {
            shown = try await openstack(["volume", "show", volumeID], volumes: volumes, images: images) as? [String: Any] ?? [:]
            return ["available", "error"].contains(shown["status"] as? String ?? "")
        }
        #expect(available && shown["status"] as? String == "available", "\(shown)\n\(server.log.suffix(3000))")
        #expect(shown["bootable"] as? Bool == true || shown["bootable"] as? String == "true", "\(shown)")
        #expect((shown["volume_image_metadata"] as? [String: Any])?["image_id"] as? String == imageID)

        let upload = try #require(
            try await openstack(["image", "create", "--volume", volumeID, "--disk-format", "qcow2", "cli-uploaded"],
                volumes: volumes, images: images) as? [String: Any])
        let uploadedID = try #require(upload["image_id"] as? String)
        var uploaded: [String: Any] = [:]
        let active = try await server.eventually(.seconds(60)) {
            uploaded = try await openstack(["image", "show", uploadedID], volumes: volumes, images: images) as? [String: Any] ?? [:]
            return uploaded["status"] as? String == "active"
        }
        #expect(active, "\(uploaded)\n\(server.log.suffix(3000))")
        #expect(try await server.eventually {
            (try await openstack(["volume", "show", volumeID], volumes: volumes, images: images) as? [String: Any])?["status"] as? String
                == "available"
        })
        let saved = work.appendingPathComponent("saved.qcow2").path
        let save = try await Harness.run(
            Harness.venv + "/bin/openstack", ["image", "save", "--file", saved, uploadedID],
            environment: ["OS_AUTH_TYPE": "none", "OS_ENDPOINT": volumes, "OS_IMAGE_ENDPOINT_OVERRIDE": images])
        try #require(save.status == 0, "image save: \(save.stderr)")
        // The saved image holds the original 16 MiB, then zeros to the volume's 1 GiB.
        let resized = work.appendingPathComponent("seed-1g.raw").path
        try FileManager.default.copyItem(atPath: raw, toPath: resized)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: resized))
        try handle.truncate(atOffset: 1 << 30)
        try handle.close()
        let compared = try await Harness.run("/usr/bin/env", ["qemu-img", "compare", "-f", "qcow2", "-F", "raw", saved, resized])
        #expect(compared.status == 0, "content differs: \(compared.stdout) \(compared.stderr)")
    }

    @Test func roundTripWithTheBuiltInImageStore() async throws {
        let server = try await Server.start()
        // The image endpoint is beside /v3 on the same listener, as devstack serves Glance under /image.
        let root = server.url.hasSuffix("/v3") ? String(server.url.dropLast(3)) : server.url
        try await Self.roundTrip(server: server, images: root + "/image")
        await server.stop()
    }

    @Test(.enabled(if: GlanceServer.available)) func roundTripWithRealGlance() async throws {
        let glance = try await GlanceServer.start()
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-glance-\(UUID().uuidString.prefix(8)).conf")
        try "[DEFAULT]\nglance_api_servers = \(glance.url)\nglance_num_retries = 1\n".write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let server = try await Server.start(extraArguments: ["--config-file", config.path])
        do {
            // Ashlar serves no images of its own when Glance is the image service.
            let own = try await Harness.run(
                "/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", String(server.url.dropLast(3)) + "/image/v2/images"])
            #expect(own.stdout == "404")
            try await Self.roundTrip(server: server, images: glance.url)
        } catch {
            Issue.record("Glance log:\n\(glance.log.suffix(3000))")
            await server.stop()
            await glance.stop()
            throw error
        }
        await server.stop()
        await glance.stop()
    }
}
