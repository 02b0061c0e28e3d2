import AshlarCore
import HTTPTypes
import Testing

/// `/os-services`, `/os-availability-zone` and `/messages`.
@Suite("Services, zones and messages", .timeLimit(.minutes(2)))
struct ServicesTests {
    @Test("/os-services lists the scheduler and the volume service, up and enabled")
    func list() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let reply = try await api.get("/v3/os-services")
            #expect(reply.status == .ok)
            let services = reply.json["services"].array
            let scheduler = try #require(services.first { $0["binary"].string == "cinder-scheduler" })
            let volume = try #require(services.first { $0["binary"].string == "cinder-volume" })
            #expect(scheduler["host"].string == TestSystem.node)
            #expect(volume["host"].string == TestSystem.backendHost)
            for s in [scheduler, volume] {
                #expect(s["state"].string == "up")
                #expect(s["status"].string == "enabled")
                #expect(s["zone"].string == "nova")
                #expect(s["disabled_reason"].isNull)
                #expect(VolumeListTests.isTimestamp(s["updated_at"].string), "\(s["updated_at"])")
            }
            #expect(volume["frozen"].bool == false)
            #expect(!volume["backend_state"].exists)
            let latest = try await api.get("/v3/os-services?binary=cinder-volume", version: "3.49")
            #expect(latest.json["services"].array.count == 1)
            #expect(latest.json["services"][0]["backend_state"].string == "up")
            #expect(latest.json["services"][0]["cluster"].isNull)
            let byHost = try await api.get("/v3/os-services?host=\(TestSystem.node)")
            // A node's name matches its backends too (upstream's host filter); a backend's name just itself.
            #expect(byHost.json["services"].array.compactMap { $0["binary"].string } == ["cinder-scheduler", "cinder-volume"])
            let byBackend = try await api.get("/v3/os-services?host=\(TestSystem.backendHost)")
            #expect(byBackend.json["services"].array.compactMap { $0["host"].string } == [TestSystem.backendHost])
        }
    }

    @Test("A disabled backend makes creates fail with a user message; enabling it again makes them succeed")
    func disableAndEnable() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let disable = try await api.put(
                "/v3/os-services/disable-log-reason",
                [
                    "host": .string(TestSystem.backendHost), "binary": "cinder-volume",
                    "disabled_reason": "maintenance window",
                ])
            #expect(disable.status == .ok, "\(disable)")
            #expect(disable.json["status"].string == "disabled")
            #expect(disable.json["disabled"].bool == true)
            #expect(disable.json["disabled_reason"].string == "maintenance window")

            let services = try await api.get("/v3/os-services?binary=cinder-volume").json["services"]
            #expect(services[0]["status"].string == "disabled")
            #expect(services[0]["disabled_reason"].string == "maintenance window")
            let zones = try await api.get("/v3/os-availability-zone").json["availabilityZoneInfo"]
            #expect(zones[0]["zoneState"]["available"].bool == false)

            let failed = try await api.createVolume(name: "unplaced")
            try await api.waitForStatus(failed, "error")
            expectFault(try await api.get("/v3/messages"), .notFound)
            let messages = try await api.get("/v3/messages", version: "3.3")
            #expect(messages.status == .ok)
            let message = try #require(
                messages.json["messages"].array.first { $0["resource_uuid"].string == failed }, "\(messages)")
            #expect(message["resource_type"].string == "VOLUME")
            #expect(message["message_level"].string == "ERROR")
            #expect(message["user_message"].string?.contains("No valid backend was found") == true, "\(message)")
            #expect(isRequestID(message["request_id"].string))
            let messageID = try #require(message["id"].string)
            let one = try await api.get("/v3/messages/\(messageID)", version: "3.3")
            #expect(one.json["message"]["id"].string == messageID)
            let filtered = try await api.get("/v3/messages?resource_uuid=\(failed)", version: "3.3")
            #expect(filtered.json["messages"].array.count == 1)

            let enable = try await api.put(
                "/v3/os-services/enable", ["host": .string(TestSystem.backendHost), "binary": "cinder-volume"])
            #expect(enable.status == .ok, "\(enable)")
            #expect(enable.json["status"].string == "enabled")
            #expect(enable.json["disabled"].bool == false)
            let after = try await api.get("/v3/os-services?binary=cinder-volume").json["services"]
            #expect(after[0]["status"].string == "enabled")
            #expect(after[0]["disabled_reason"].isNull)

            _ = try await api.createAvailableVolume(name: "placed")

            // Plain disable works too, by node name.
            let plain = try await api.put(
                "/v3/os-services/disable", ["host": .string(TestSystem.node), "binary": "cinder-volume"])
            #expect(plain.status == .ok, "\(plain)")
            let disabled = try await api.get("/v3/os-services?binary=cinder-volume").json["services"]
            #expect(disabled[0]["status"].string == "disabled")

            let deleted = try await api.delete("/v3/messages/\(messageID)", version: "3.3")
            #expect(deleted.status == .noContent)
            expectFault(try await api.get("/v3/messages/\(messageID)", version: "3.3"), .notFound)
        }
    }

    @Test("Service changes: unknown host 404, unknown action 404, bad bodies 400")
    func badChanges() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            expectFault(
                try await api.put("/v3/os-services/disable", ["host": "nowhere", "binary": "cinder-volume"]), .notFound)
            expectFault(
                try await api.put("/v3/os-services/enable", ["host": "nowhere@x", "binary": "cinder-volume"]), .notFound
            )
            expectFault(
                try await api.put(
                    "/v3/os-services/reboot", ["host": .string(TestSystem.node), "binary": "cinder-volume"]),
                .notFound)
            expectFault(
                try await api.put(
                    "/v3/os-services/failover_host", ["host": .string(TestSystem.backendHost), "binary": "cinder-volume"]),
                .notImplemented)
            for body: JSONValue in [
                [:], ["host": 5, "binary": "cinder-volume"], ["binary": "cinder-volume"],
                ["host": .string(TestSystem.backendHost)], ["host": .string(TestSystem.backendHost), "binary": 1],
                [["host": .string(TestSystem.backendHost)]],
            ] {
                expectFault(try await api.put("/v3/os-services/disable", body), .badRequest)
            }
            for reason: JSONValue in ["", "   ", .string(String(repeating: "r", count: 256)), 5, nil] {
                let reply = try await api.put(
                    "/v3/os-services/disable-log-reason",
                    ["host": .string(TestSystem.backendHost), "binary": "cinder-volume", "disabled_reason": reason])
                expectFault(reply, .badRequest)
            }
            let services = try await api.get("/v3/os-services").json["services"].array
            #expect(services.allSatisfy { $0["status"].string == "enabled" })
        }
    }

    @Test("/os-availability-zone lists nova, available")
    func zones() async throws {
        try await withSystem { api in
            try await api.waitForServices()
            let reply = try await api.get("/v3/os-availability-zone")
            #expect(reply.status == .ok)
            #expect(
                reply.json
                    == JSON(
                        .object(["availabilityZoneInfo": [["zoneName": "nova", "zoneState": ["available": true]]]])))
        }
    }

    @Test("Messages need 3.3; unknown messages are 404")
    func messagesVersioned() async throws {
        try await withSystem { api in
            expectFault(try await api.get("/v3/messages", version: "3.2"), .notFound)
            let empty = try await api.get("/v3/messages", version: "3.3")
            #expect(empty.status == .ok)
            #expect(empty.json == JSON(.object(["messages": []])))
            expectFault(try await api.get("/v3/messages/\(randomID())", version: "3.3"), .notFound)
            expectFault(try await api.delete("/v3/messages/\(randomID())", version: "3.3"), .notFound)
        }
    }
}
