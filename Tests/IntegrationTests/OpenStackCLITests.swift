import Foundation
import Testing

/// `ashlar serve` driven by the unchanged `openstack` and `cinder` clients.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct OpenStackCLITests {
    @Test func volumeLifecycleThroughTheOpenStackCLI() async throws {
        let server = try await Server.start()
        let created = try #require(try await server.openstackJSON("volume", "create", "--size", "2", "--property", "tier=one", "it-vol") as? [String: Any])
        let id = try #require(created["id"] as? String)
        #expect(created["size"] as? Int == 2)
        #expect(created["name"] as? String == "it-vol")
        #expect(created["type"] as? String == "__DEFAULT__")

        // creating → available, and the sparse file exists with the right size.
        let available = try await server.eventually {
            (try await server.openstackJSON("volume", "show", id) as? [String: Any])?["status"] as? String == "available"
        }
        #expect(available, "volume never became available:\n\(server.log)")
        let file = server.stateDirectory.appendingPathComponent("state/volumes/volume-\(id)").path
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.size] as? NSNumber)?.int64Value == 2 << 30)

        let listed = try #require(try await server.openstackJSON("volume", "list") as? [[String: Any]])
        #expect(listed.contains { $0["ID"] as? String == id && $0["Status"] as? String == "available" })

        let set = try await server.openstack("volume", "set", "--name", "it-renamed", "--description", "described", "--property", "k=v", id)
        #expect(set.status == 0, "\(set.stderr)")
        let shown = try #require(try await server.openstackJSON("volume", "show", "it-renamed") as? [String: Any])
        #expect(shown["description"] as? String == "described")
        let properties = try #require(shown["properties"] as? [String: String])
        #expect(properties == ["tier": "one", "k": "v"])

        let deleted = try await server.openstack("volume", "delete", id)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let gone = try await server.eventually {
            let list = try await server.openstackJSON("volume", "list") as? [[String: Any]] ?? []
            return !list.contains { $0["ID"] as? String == id }
        }
        #expect(gone)
        #expect(!FileManager.default.fileExists(atPath: file), "the volume file outlived its volume")
        #expect(await server.stop() == 0, "ashlar serve did not shut down cleanly on SIGTERM")
    }

    @Test func volumeTypesServicesAndZones() async throws {
        let server = try await Server.start()
        let type = try #require(try await server.openstackJSON("volume", "type", "create", "--property", "volume_backend_name=file-1", "gold") as? [String: Any])
        let typeID = try #require(type["id"] as? String)
        #expect(try await server.openstack("volume", "type", "set", "--property", "custom:color=blue", "--description", "fast", "gold").status == 0)
        let types = try #require(try await server.openstackJSON("volume", "type", "list", "--long") as? [[String: Any]])
        let gold = try #require(types.first { $0["Name"] as? String == "gold" })
        #expect(gold["Description"] as? String == "fast")
        let goldProperties = gold["Properties"] as? [String: String]
        #expect(goldProperties == ["volume_backend_name": "file-1", "custom:color": "blue"])
        #expect(types.contains { $0["Name"] as? String == "__DEFAULT__" })

        // A volume of the type lands on the backend the type names.
        let volume = try #require(try await server.openstackJSON("volume", "create", "--size", "1", "--type", "gold", "typed") as? [String: Any])
        let volumeID = try #require(volume["id"] as? String)
        #expect(try await server.eventually {
            let v = try await server.openstackJSON("volume", "show", volumeID) as? [String: Any]
            return v?["status"] as? String == "available" && (v?["os-vol-host-attr:host"] as? String)?.hasSuffix("@file-1#file-1") == true
        })
        // A type in use cannot be deleted: Cinder's 400, passed through by the CLI.
        let inUse = try await server.openstack("volume", "type", "delete", "gold")
        #expect(inUse.status != 0)
        #expect(inUse.stderr.contains("still in use"), "\(inUse.stderr)")
        #expect(try await server.openstack("volume", "delete", volumeID).status == 0)
        #expect(try await server.eventually { try await server.openstack("volume", "type", "delete", typeID).status == 0 })
        let after = try #require(try await server.openstackJSON("volume", "type", "list") as? [[String: Any]])
        #expect(!after.contains { $0["Name"] as? String == "gold" })
        // The default type is protected.
        let protected = try await server.openstack("volume", "type", "delete", "__DEFAULT__")
        #expect(protected.status != 0 && protected.stderr.contains("400") && protected.stderr.contains("can not be deleted"), "\(protected.stderr)")

        let services = try #require(try await server.openstackJSON("volume", "service", "list") as? [[String: Any]])
        #expect(services.contains { $0["Binary"] as? String == "cinder-volume" && ($0["Host"] as? String)?.hasSuffix("@file-1") == true && $0["State"] as? String == "up" && $0["Status"] as? String == "enabled" })
        #expect(services.contains { $0["Binary"] as? String == "cinder-scheduler" && $0["State"] as? String == "up" })

        let zones = try #require(try await server.openstackJSON("availability", "zone", "list", "--volume") as? [[String: Any]])
        #expect(zones.contains { $0["Zone Name"] as? String == "nova" && $0["Zone Status"] as? String == "available" })
    }

    @Test func cinderClientListShowDelete() async throws {
        let server = try await Server.start()
        let create = try await server.cinder("create", "--name", "by-cinder", "1")
        #expect(create.status == 0, "\(create.stderr)")
        let id = try #require(create.stdout.split(separator: "\n").compactMap { line -> String? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return cells.count >= 2 && cells[0] == "id" ? cells[1] : nil
        }.first)
        #expect(try await server.eventually {
            let list = try await server.cinder("list")
            return list.stdout.contains(id) && list.stdout.contains("available") && list.stdout.contains("by-cinder")
        })
        let show = try await server.cinder("show", id)
        #expect(show.status == 0)
        #expect(show.stdout.contains("by-cinder") && show.stdout.contains("__DEFAULT__"), "\(show.stdout)")
        let delete = try await server.cinder("delete", id)
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(try await server.eventually { !(try await server.cinder("list").stdout.contains(id)) })
        let missing = try await server.cinder("show", "00000000-0000-0000-0000-000000000000")
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("No volume with a name or ID"), "\(missing.stderr)")
    }
}
