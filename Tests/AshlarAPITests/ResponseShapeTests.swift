import AshlarCore
import Foundation
import HTTPTypes
import Testing

/// The keys of each representation, exactly: tempest validates every body against schemas that allow no other key,
/// and upstream's views differ between the answer to a create or an update and a show or a list (its contrib
/// extensions add the tenant, host, migration and snapshot-progress attributes to show and detail only). The key
/// sets are those of upstream's view code at the microversions named; every caller here is an administrator
/// (noauth).
@Suite("Response shapes", .timeLimit(.minutes(2)))
struct ResponseShapeTests {
    /// The volume detail keys every microversion has, for an administrator.
    static let volumeBase: Set<String> = [
        "id", "status", "size", "availability_zone", "created_at", "updated_at", "attachments", "name",
        "description", "volume_type", "snapshot_id", "source_volid", "metadata", "links", "user_id", "bootable",
        "encrypted", "replication_status", "consistencygroup_id", "multiattach", "migration_status",
    ]
    /// What the extensions add to show and detail.
    static let volumeExtensions: Set<String> = [
        "os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
        "os-vol-mig-status-attr:name_id",
    ]
    /// The keys microversions 3.13–3.65 add (administrator).
    static let volumeLatest: Set<String> = [
        "group_id", "provider_id", "shared_targets", "service_uuid", "cluster_name", "volume_type_id",
        "encryption_key_id", "consumes_quota",
    ]

    @Test("volume: create and update answer without the extensions' attributes; show and detail with them")
    func volumeShapes() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            for (version, added) in [("3.0", Set<String>()), ("3.71", Self.volumeLatest)] {
                let created = try await api.post("/v3/volumes", ["volume": ["size": 1]], version: version)
                #expect(created.status == .accepted)
                #expect(created.json["volume"].keys == Self.volumeBase.union(added), "create at \(version)")
                let id = try #require(created.json["volume"]["id"].string)
                try await api.waitForStatus(id, "available")
                let shown = try await api.get("/v3/volumes/\(id)", version: version)
                #expect(shown.json["volume"].keys == Self.volumeBase.union(added).union(Self.volumeExtensions))
                let listed = try await api.get("/v3/volumes/detail", version: version)
                #expect(
                    !listed.json["volumes"].array.isEmpty && listed.json["volumes"].array.allSatisfy {
                        $0.keys == Self.volumeBase.union(added).union(Self.volumeExtensions)
                    })
                #expect(try await api.get("/v3/volumes", version: version).json["volumes"][0].keys == ["id", "name", "links"])
                let updated = try await api.put("/v3/volumes/\(id)", ["volume": ["name": "renamed"]], version: version)
                #expect(updated.json["volume"].keys == Self.volumeBase.union(added), "update at \(version)")
            }
        }
    }

    @Test("snapshot: the extended attributes in show and detail only")
    func snapshotShapes() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let volume = try await api.createAvailableVolume()
            let base: Set<String> = [
                "id", "created_at", "updated_at", "name", "description", "volume_id", "status", "size", "metadata",
            ]
            let latest = base.union(["group_snapshot_id", "user_id", "consumes_quota"])
            let extended: Set<String> = [
                "os-extended-snapshot-attributes:progress", "os-extended-snapshot-attributes:project_id",
            ]
            let created = try await api.post(
                "/v3/snapshots", ["snapshot": ["volume_id": .string(volume)]], version: "3.71")
            #expect(created.status == .accepted)
            #expect(created.json["snapshot"].keys == latest)
            let id = try #require(created.json["snapshot"]["id"].string)
            #expect(try await poll { try await api.view("/v3/snapshots/\(id)", "snapshot")?["status"].string == "available" })
            #expect(try await api.get("/v3/snapshots/\(id)", version: "3.0").json["snapshot"].keys == base.union(extended))
            #expect(
                try await api.get("/v3/snapshots/detail", version: "3.71").json["snapshots"][0].keys
                    == latest.union(extended))
            #expect(try await api.get("/v3/snapshots", version: "3.71").json["snapshots"][0].keys == latest)
            let updated = try await api.put("/v3/snapshots/\(id)", ["snapshot": ["name": "s"]], version: "3.71")
            #expect(updated.json["snapshot"].keys == latest)
        }
    }

    @Test("volume type: qos_specs_id in show and list only; the access flag in create, show and list")
    func volumeTypeShapes() async throws {
        try await withSystem { api in
            let base: Set<String> = ["id", "name", "is_public", "description", "extra_specs"]
            let created = try await api.post("/v3/types", ["volume_type": ["name": "shape"]])
            #expect(created.json["volume_type"].keys == base.union(["os-volume-type-access:is_public"]))
            let id = try #require(created.json["volume_type"]["id"].string)
            let shown = base.union(["os-volume-type-access:is_public", "qos_specs_id"])
            #expect(try await api.get("/v3/types/\(id)").json["volume_type"].keys == shown)
            #expect(try await api.get("/v3/types").json["volume_types"].array.allSatisfy { $0.keys == shown })
            let updated = try await api.put("/v3/types/\(id)", ["volume_type": ["description": "d"]])
            #expect(updated.json["volume_type"].keys == base)
        }
    }

    @Test("capabilities: upstream's fixed view, not the driver's stats")
    func capabilitiesShape() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let reply = try await api.get("/v3/capabilities/\(TestSystem.backendHost)")
            #expect(
                reply.json.keys == [
                    "namespace", "vendor_name", "volume_backend_name", "pool_name", "driver_version",
                    "storage_protocol", "display_name", "description", "visibility", "replication_targets",
                    "properties",
                ])
            #expect(reply.json["storage_protocol"].string == "iSCSI")
        }
    }
}
