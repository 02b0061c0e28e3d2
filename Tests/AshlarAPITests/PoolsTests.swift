import AshlarCore
import HTTPTypes
import Testing

/// `/scheduler-stats/get_pools` and `/capabilities/{host}`.
@Suite("Pools and capabilities", .timeLimit(.minutes(2)))
struct PoolsTests {
    @Test("get_pools lists the backend's pool, with capabilities only with detail, filtered by name, capability and type")
    func pools() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let pool = "\(TestSystem.backendHost)#\(TestSystem.backendName)"
            let names = try await api.get("/v3/scheduler-stats/get_pools", version: "3.71")
            #expect(names.status == .ok)
            #expect(names.json["pools"].array.map { $0["name"].string } == [pool])
            #expect(names.json["pools"][0]["capabilities"].string == nil)

            let detail = try await api.get("/v3/scheduler-stats/get_pools?detail=true", version: "3.71")
            let capabilities = detail.json["pools"][0]["capabilities"]
            #expect(capabilities["volume_backend_name"].string == TestSystem.backendName)
            #expect(capabilities["thin_provisioning_support"] == JSON(.bool(true)))

            // 3.28: by name and by capability; values compare as text.
            #expect(try await api.get("/v3/scheduler-stats/get_pools?name=nope", version: "3.28").json["pools"].array.isEmpty)
            #expect(try await api.get("/v3/scheduler-stats/get_pools?storage_protocol=iSCSI", version: "3.28").json["pools"].array.count == 1)
            #expect(try await api.get("/v3/scheduler-stats/get_pools?storage_protocol=FC", version: "3.28").json["pools"].array.isEmpty)
            // Below 3.28 the filters are ignored.
            #expect(try await api.get("/v3/scheduler-stats/get_pools?storage_protocol=FC", version: "3.27").json["pools"].array.count == 1)

            // 3.35: pools that can take a volume type.
            try await api.post("/v3/types", ["volume_type": ["name": "fits", "extra_specs": ["volume_backend_name": .string(TestSystem.backendName)]]])
            try await api.post("/v3/types", ["volume_type": ["name": "elsewhere", "extra_specs": ["volume_backend_name": "other"]]])
            #expect(try await api.get("/v3/scheduler-stats/get_pools?volume_type=fits", version: "3.35").json["pools"].array.count == 1)
            #expect(try await api.get("/v3/scheduler-stats/get_pools?volume_type=elsewhere", version: "3.35").json["pools"].array.isEmpty)
            let missing = try await api.get("/v3/scheduler-stats/get_pools?volume_type=nosuch", version: "3.35")
            expectFault(missing, .notFound)
        }
    }

    @Test("/capabilities/{host} asks the backend; an unknown host is 404")
    func capabilities() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let reply = try await api.get("/v3/capabilities/\(TestSystem.backendHost)")
            #expect(reply.status == .ok)
            #expect(reply.json["volume_backend_name"].string == TestSystem.backendName)
            #expect(reply.json["namespace"].string == "OS::Storage::Capabilities::\(TestSystem.backendHost)")
            #expect(reply.json["properties"]["thin_provisioning"]["type"].string == "boolean")
            expectFault(try await api.get("/v3/capabilities/nobody@nothing"), .notFound)
        }
    }
}

/// `PUT /os-services/freeze` and `/thaw`.
@Suite("Freeze and thaw", .timeLimit(.minutes(2)))
struct FreezeTests {
    @Test("A frozen backend takes no new volumes, shows frozen, and takes them again once thawed")
    func freezeThaw() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let node = String(TestSystem.backendHost.split(separator: "@")[0])
            #expect(try await api.put("/v3/os-services/freeze", ["host": .string(node)]).status == .accepted)
            let listed = try await api.get("/v3/os-services?binary=cinder-volume").json["services"].array
            #expect(listed.map { $0["frozen"] } == [JSON(.bool(true))])

            let refused = try await api.createVolume()
            try await api.waitForStatus(refused, "error")
            let messages = try await api.get("/v3/messages?resource_uuid=\(refused)", version: "3.3").json["messages"]
            #expect(messages[0]["user_message"].string?.contains("No valid backend") == true)

            #expect(try await api.put("/v3/os-services/thaw", ["host": .string(TestSystem.backendHost)]).status == .accepted)
            try await api.createAvailableVolume()
            expectFault(try await api.put("/v3/os-services/freeze", ["host": "nobody"]), .badRequest)
            expectFault(try await api.put("/v3/os-services/freeze", ["nohost": "x"]), .badRequest)
        }
    }
}
