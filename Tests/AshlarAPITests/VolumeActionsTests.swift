import AshlarCore
import HTTPTypes
import Testing

/// `POST /volumes/{id}/action`.
@Suite("Volume actions", .timeLimit(.minutes(2)))
struct VolumeActionsTests {
    @Test("os-set_bootable answers 200 and the volume shows bootable \"true\"")
    func setBootable() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            let reply = try await api.post(path, ["os-set_bootable": ["bootable": true]])
            #expect(reply.status == .ok, "\(reply)")
            #expect(try await api.volume(id)?["bootable"].string == "true")
            #expect(try await api.post(path, ["os-set_bootable": ["bootable": "false"]]).status == .ok)
            #expect(try await api.volume(id)?["bootable"].string == "false")
            expectFault(try await api.post(path, ["os-set_bootable": ["bootable": "maybe"]]), .badRequest, "bootable")
            expectFault(try await api.post(path, ["os-set_bootable": [:]]), .badRequest, "bootable")
            expectFault(try await api.post(path, ["os-set_bootable": ["bootable": []]]), .badRequest, "bootable")
            #expect(try await api.volume(id)?["bootable"].string == "false")
            // The bootable filter follows.
            _ = try await api.post(path, ["os-set_bootable": ["bootable": true]])
            #expect(try await api.volumeIDs(query: "?bootable=true") == [id])
            #expect(try await api.volumeIDs(query: "?bootable=false") == [])
        }
    }

    @Test("os-update_readonly_flag answers 202 on an available volume, 400 otherwise")
    func readonly() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            let reply = try await api.post(path, ["os-update_readonly_flag": ["readonly": true]])
            #expect(reply.status == .accepted, "\(reply)")
            #expect(reply.text.isEmpty)
            expectFault(try await api.post(path, ["os-update_readonly_flag": ["readonly": "x"]]), .badRequest)
            expectFault(try await api.post(path, ["os-update_readonly_flag": [:]]), .badRequest, "readonly")
            _ = try await api.post(path, ["os-reset_status": ["status": "error"]])
            expectFault(try await api.post(path, ["os-update_readonly_flag": ["readonly": false]]), .badRequest)
        }
    }

    @Test("os-reset_status sets error; deleting and unknown statuses are 400")
    func resetStatus() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            let reply = try await api.post(path, ["os-reset_status": ["status": "error"]])
            #expect(reply.status == .accepted, "\(reply)")
            #expect(try await api.volume(id)?["status"].string == "error")

            expectFault(try await api.post(path, ["os-reset_status": ["status": "deleting"]]), .badRequest, "deleting")
            expectFault(try await api.post(path, ["os-reset_status": ["status": "bogus"]]), .badRequest, "bogus")
            expectFault(try await api.post(path, ["os-reset_status": ["status": "in-use"]]), .badRequest)
            expectFault(try await api.post(path, ["os-reset_status": ["status": 5]]), .badRequest)
            expectFault(try await api.post(path, ["os-reset_status": ["status": nil]]), .badRequest)
            expectFault(try await api.post(path, ["os-reset_status": [:]]), .badRequest)
            expectFault(try await api.post(path, ["os-reset_status": ["attach_status": "glued"]]), .badRequest)
            expectFault(try await api.post(path, ["os-reset_status": ["migration_status": "flying"]]), .badRequest)
            expectFault(try await api.post(path, ["os-reset_status": ["status": "error", "x": 1]]), .badRequest)
            #expect(try await api.volume(id)?["status"].string == "error")

            let back = try await api.post(
                path, ["os-reset_status": ["status": "available", "attach_status": "detached"]])
            #expect(back.status == .accepted, "\(back)")
            #expect(try await api.volume(id)?["status"].string == "available")
            let migration = try await api.post(path, ["os-reset_status": ["migration_status": "none"]])
            #expect(migration.status == .accepted, "\(migration)")
            #expect(try await api.volume(id)?["migration_status"].isNull == true)
        }
    }

    @Test("Image metadata: set, show, unset")
    func imageMetadata() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            let empty = try await api.post(path, ["os-show_image_metadata": [:]])
            #expect(empty.status == .ok)
            #expect(empty.json == JSON(.object(["metadata": [:]])))

            let set = try await api.post(
                path, ["os-set_image_metadata": ["metadata": ["image_name": "cirros", "min_ram": "64"]]])
            #expect(set.status == .ok, "\(set)")
            #expect(set.json == JSON(.object(["metadata": ["image_name": "cirros", "min_ram": "64"]])))
            let shown = try await api.post(path, ["os-show_image_metadata": nil])
            #expect(shown.status == .ok, "\(shown)")
            #expect(shown.json == JSON(.object(["metadata": ["image_name": "cirros", "min_ram": "64"]])))
            #expect(
                try await api.volume(id)?["volume_image_metadata"]
                    == JSON(.object(["image_name": "cirros", "min_ram": "64"])))

            let unset = try await api.post(path, ["os-unset_image_metadata": ["key": "min_ram"]])
            #expect(unset.status == .ok, "\(unset)")
            #expect(
                try await api.post(path, ["os-show_image_metadata": [:]]).json
                    == JSON(.object(["metadata": ["image_name": "cirros"]])))
            expectFault(try await api.post(path, ["os-unset_image_metadata": ["key": "min_ram"]]), .notFound)
            expectFault(try await api.post(path, ["os-unset_image_metadata": ["key": 5]]), .badRequest)
            expectFault(try await api.post(path, ["os-unset_image_metadata": [:]]), .badRequest)
            expectFault(try await api.post(path, ["os-set_image_metadata": ["metadata": "x"]]), .badRequest)
            expectFault(try await api.post(path, ["os-set_image_metadata": ["metadata": ["k": 1]]]), .badRequest)
            expectFault(try await api.post(path, ["os-set_image_metadata": [:]]), .badRequest)
        }
    }

    @Test("An unknown action is 400 There is no such action")
    func unknownAction() async throws {
        try await withSystem { api in
            let id = try await api.createVolume()
            let reply = try await api.post("/v3/volumes/\(id)/action", ["os-fly": [:]])
            expectFault(reply, .badRequest, "There is no such action")
        }
    }

    @Test("An action body must have exactly one key")
    func oneKey() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            let two = try await api.post(
                path, ["os-set_bootable": ["bootable": true], "os-reset_status": ["status": "error"]])
            expectFault(two, .badRequest)
            expectFault(try await api.post(path, [:]), .badRequest)
            expectFault(try await api.post(path, [["os-set_bootable": ["bootable": true]]]), .badRequest)
            expectFault(try await api.post(path, "os-set_bootable"), .badRequest)
            expectFault(try await api.post(path), .badRequest)
            expectFault(try await api.post(path, ["os-set_bootable": "yes"]), .badRequest)
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available")
            #expect(v["bootable"].string == "false")
        }
    }

    @Test("Actions that need later backend work are 501 notImplemented, and parse like Cinder")
    func notYet() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            // A null argument is valid: it must get past parsing (501, not 400).
            expectFault(try await api.post(path, ["os-unmanage": nil]), .notImplemented, "os-unmanage")
            expectFault(try await api.post(path, ["os-reimage": nil]), .notImplemented)
            // Retype and migrate are served: without their required fields they are upstream's 400.
            expectFault(try await api.post(path, ["os-retype": nil]), .badRequest, "new_type")
            expectFault(try await api.post(path, ["os-migrate_volume": [:]]), .badRequest, "host")
            // The attach actions work now (the legacy attach tests cover them).
            #expect(try await api.post(path, ["os-unreserve": nil]).status == .accepted)
            let v = try #require(try await api.volume(id))
            #expect(v["status"].string == "available")
            #expect(v["size"].int == 1)
        }
    }

    @Test("Actions on an unknown volume are 404")
    func unknownVolume() async throws {
        try await withSystem { api in
            let reply = try await api.post(
                "/v3/volumes/\(randomID())/action", ["os-reset_status": ["status": "error"]])
            expectFault(reply, .notFound)
            expectFault(
                try await api.post("/v3/volumes/nope/action", ["os-set_bootable": ["bootable": true]]), .notFound)
        }
    }

    @Test("os-force_delete deletes even a volume in error")
    func forceDelete() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume()
            let path = "/v3/volumes/\(id)/action"
            _ = try await api.post(path, ["os-reset_status": ["status": "error_deleting"]])
            expectFault(try await api.delete("/v3/volumes/\(id)"), .badRequest)
            let reply = try await api.post(path, ["os-force_delete": [:]])
            #expect(reply.status == .accepted, "\(reply)")
            try await api.waitForGone(id)
        }
    }
}
