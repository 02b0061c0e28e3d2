import Foundation
import Testing

/// The seed's lab (`examples/seed-lab.conf`: four backends on three nodes in two zones) through the openstack CLI.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct SeedLabTests {
    static let config = Harness.root.appendingPathComponent("examples/seed-lab.conf").path
    static let backends = [
        "block1@lvmdriver-b1", "block2@lvmdriver-b21", "block2@lvmdriver-b22", "network@lvmdriver-network",
    ]

    /// Waits until every volume named in `names` has left `creating`; returns them.
    func settled(_ server: Server, _ names: [String]) async throws -> [String: (status: String, zone: String, host: String?)] {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let volumes = try await server.volumesByName()
            if names.allSatisfy({ volumes[$0] != nil && volumes[$0]?.status != "creating" }) { return volumes }
            if ContinuousClock.now > deadline { throw Harness.HarnessError("volumes did not settle:\n\(server.log)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func placementsOverTheSeedLab() async throws {
        let server = try await Server.start(extraArguments: ["--config-file", Self.config])

        // The four backends, in their zones, as the seed's `cinder service-list` shows them.
        let services = try #require(try await server.openstackJSON("volume", "service", "list") as? [[String: Any]])
        let volumeServices = services.filter { $0["Binary"] as? String == "cinder-volume" }
        #expect(Set(volumeServices.compactMap { $0["Host"] as? String }) == Set(Self.backends))
        let zones = Dictionary(uniqueKeysWithValues: volumeServices.map { ($0["Host"] as? String ?? "", $0["Zone"] as? String ?? "") })
        #expect(zones == [
            "block1@lvmdriver-b1": "nova", "block2@lvmdriver-b21": "az1", "block2@lvmdriver-b22": "az1",
            "network@lvmdriver-network": "nova",
        ])
        #expect(volumeServices.allSatisfy { $0["State"] as? String == "up" })

        // A type asking for volume_backend_name=lvmbackend spreads equal volumes over all four equal backends.
        #expect(try await server.openstack("volume", "type", "create", "--property", "volume_backend_name=lvmbackend", "lvm").status == 0)
        let spread = (1...8).map { "spread-\($0)" }
        for name in spread {
            let out = try await server.openstack("volume", "create", "--size", "1", "--type", "lvm", name)
            #expect(out.status == 0, "\(out.stderr)")
        }
        var volumes = try await settled(server, spread)
        var perBackend: [String: Int] = [:]
        for name in spread {
            #expect(volumes[name]?.status == "available")
            let backend = volumes[name]?.host?.split(separator: "#").first.map(String.init) ?? "none"
            perBackend[backend, default: 0] += 1
        }
        #expect(perBackend == Dictionary(uniqueKeysWithValues: Self.backends.map { ($0, 2) }), "\(perBackend)")

        // --availability-zone az1 lands only on block2's two backends, and the volume reports that zone.
        let zoned = (1...4).map { "az1-\($0)" }
        for name in zoned {
            #expect(try await server.openstack("volume", "create", "--size", "1", "--type", "lvm", "--availability-zone", "az1", name).status == 0)
        }
        volumes = try await settled(server, zoned)
        for name in zoned {
            #expect(volumes[name]?.host?.hasPrefix("block2@") == true, "\(name): \(String(describing: volumes[name]))")
            #expect(volumes[name]?.zone == "az1")
        }

        // Too large for any backend: error, and a message naming each backend's CapacityFilter reason.
        #expect(try await server.openstack("volume", "create", "--size", "5000", "--type", "lvm", "huge").status == 0)
        volumes = try await settled(server, ["huge"])
        #expect(volumes["huge"]?.status == "error")
        let messages = try #require(try await server.openstackJSON("volume", "message", "list") as? [[String: Any]])
        let text = try #require(messages.first?["User Message"] as? String)
        #expect(text.contains("No valid backend"), "\(text)")
        for backend in Self.backends {
            #expect(text.contains("CapacityFilter: \(backend)#lvmbackend needs 5000 GiB"), "\(text)")
        }

        // A disabled service takes no more placements.
        let disable = try await server.openstack(
            "volume", "service", "set", "--disable", "--disable-reason", "maintenance", "block1@lvmdriver-b1", "cinder-volume")
        #expect(disable.status == 0, "\(disable.stderr)")
        let afterDisable = (1...4).map { "after-\($0)" }
        for name in afterDisable {
            #expect(try await server.openstack("volume", "create", "--size", "1", "--type", "lvm", name).status == 0)
        }
        volumes = try await settled(server, afterDisable)
        for name in afterDisable {
            #expect(volumes[name]?.status == "available")
            #expect(volumes[name]?.host?.hasPrefix("block1@") == false, "\(name) went to a disabled backend")
        }
        let listed = try #require(try await server.openstackJSON("volume", "service", "list", "--long") as? [[String: Any]])
        let block1 = try #require(listed.first { $0["Host"] as? String == "block1@lvmdriver-b1" })
        #expect(block1["Status"] as? String == "disabled")
        #expect(block1["Disabled Reason"] as? String == "maintenance")
    }

    /// A backend whose creates fail hands each volume back to the scheduler, which places it on another backend;
    /// when every backend that fits has failed, the volume ends in `error` with a message saying so.
    @Test func failedCreatesAreRetriedOnAnotherBackend() async throws {
        // The seed lab, with block1 the roomiest so the scheduler tries it first every time.
        let text = try String(contentsOfFile: Self.config, encoding: .utf8)
        let lab = FileManager.default.temporaryDirectory.appendingPathComponent("seed-lab-\(UUID().uuidString).conf")
        try text.replacingOccurrences(
            of: "backend_availability_zone = nova\nfile_capacity_gb = 100\n\n# block2",
            with: "backend_availability_zone = nova\nfile_capacity_gb = 1000\n\n# block2"
        ).write(to: lab, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: lab) }
        #expect(try String(contentsOf: lab, encoding: .utf8).contains("file_capacity_gb = 1000"))
        let server = try await Server.start(extraArguments: ["--config-file", lab.path])
        #expect(try await server.openstack("volume", "type", "create", "--property", "volume_backend_name=lvmbackend", "lvm").status == 0)

        // block1's volume directory becomes a plain file: every create there now fails (ENOTDIR), while the
        // backend keeps reporting its capacity.
        let volumes = server.stateDirectory.appendingPathComponent("state/volumes")
        let block1 = volumes.appendingPathComponent("lvmdriver-b1").path
        try FileManager.default.removeItem(atPath: block1)
        #expect(FileManager.default.createFile(atPath: block1, contents: Data("not a directory".utf8)))

        let names = (1...3).map { "retry-\($0)" }
        for name in names {
            let out = try await server.openstack(
                "volume", "create", "--size", "1", "--type", "lvm", "--availability-zone", "nova", name)
            #expect(out.status == 0, "\(out.stderr)")
        }
        var states = try await settled(server, names)
        for name in names {
            #expect(states[name]?.status == "available", "\(name): \(String(describing: states[name]))")
            #expect(states[name]?.host == "network@lvmdriver-network#lvmbackend", "\(name) was not retried on network")
        }
        // Each went to block1 first and failed there.
        let failures = server.log.components(separatedBy: "\n").filter {
            $0.contains("block1@lvmdriver-b1") && $0.contains("failed: ")
        }
        #expect(failures.count >= names.count, "\(server.log)")
        let files = try FileManager.default.contentsOfDirectory(atPath: volumes.appendingPathComponent("lvmdriver-network").path)
        #expect(files.filter { $0.hasPrefix("volume-") }.count == names.count)

        // With network broken too, no backend in nova is left: error, and the message says why for each.
        let network = volumes.appendingPathComponent("lvmdriver-network").path
        let moved = network + ".saved"
        try FileManager.default.moveItem(atPath: network, toPath: moved)
        #expect(FileManager.default.createFile(atPath: network, contents: Data()))
        #expect(try await server.openstack(
            "volume", "create", "--size", "1", "--type", "lvm", "--availability-zone", "nova", "doomed").status == 0)
        states = try await settled(server, ["doomed"])
        #expect(states["doomed"]?.status == "error")
        let messages = try #require(try await server.openstackJSON("volume", "message", "list") as? [[String: Any]])
        let message = try #require(messages.first?["User Message"] as? String)
        #expect(message.contains("block1@lvmdriver-b1#lvmbackend already failed this volume"), "\(message)")
        #expect(message.contains("network@lvmdriver-network#lvmbackend already failed this volume"), "\(message)")
        #expect(await server.stop() == 0)
    }
}
