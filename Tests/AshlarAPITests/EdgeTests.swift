import AshlarCore
import HTTPTypes
import Testing

/// The edge: version documents, microversion negotiation, request ids, and the optional project in the path.
@Suite("Edge: versions, microversions, request ids, routing", .timeLimit(.minutes(2)))
struct EdgeTests {
    /// The one version entry both `/` and `/v3/` return.
    func expectVersionDocument(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) {
        let versions = reply.json["versions"].array
        #expect(versions.count == 1, sourceLocation: sourceLocation)
        let v = reply.json["versions"][0]
        #expect(v["id"].string == "v3.0", sourceLocation: sourceLocation)
        #expect(v["status"].string == "CURRENT", sourceLocation: sourceLocation)
        #expect(v["version"].string == "3.71", sourceLocation: sourceLocation)
        #expect(v["min_version"].string == "3.0", sourceLocation: sourceLocation)
        #expect(v["updated"].string == "2023-08-31T00:00:00Z", sourceLocation: sourceLocation)
        let selfLink = v["links"].array.first { $0["rel"].string == "self" }
        #expect(selfLink?["href"].string == "http://localhost/v3/", sourceLocation: sourceLocation)
        #expect(
            v["media-types"][0]["type"].string == "application/vnd.openstack.volume+json;version=3",
            sourceLocation: sourceLocation)
    }

    @Test("GET / answers 300 with the version document")
    func rootIsMultipleChoices() async throws {
        try await withSystem { api in
            let reply = try await api.get("/")
            #expect(reply.status == .multipleChoices)
            expectVersionDocument(reply)
            #expect(isRequestID(reply.header("x-openstack-request-id")))
        }
    }

    @Test("GET /v3/ and /v3 answer 200 with the version document and v3 headers")
    func v3RootIsOK() async throws {
        try await withSystem { api in
            for path in ["/v3/", "/v3"] {
                let reply = try await api.get(path)
                #expect(reply.status == .ok, "\(path)")
                expectVersionDocument(reply)
                #expect(reply.header("OpenStack-API-Version") == "volume 3.0")
                #expect(reply.header("Vary") == "OpenStack-API-Version")
                #expect(isRequestID(reply.header("x-openstack-request-id")))
            }
        }
    }

    @Test("No microversion header means 3.0")
    func noHeaderMeansMinimum() async throws {
        try await withSystem { api in
            let reply = try await api.get("/v3/volumes")
            #expect(reply.status == .ok)
            #expect(reply.header("OpenStack-API-Version") == "volume 3.0")
            #expect(reply.header("Vary") == "OpenStack-API-Version")
        }
    }

    @Test("volume latest means 3.71; an explicit version is echoed")
    func latestAndExplicit() async throws {
        try await withSystem { api in
            let latest = try await api.get("/v3/volumes", version: "latest")
            #expect(latest.status == .ok)
            #expect(latest.header("OpenStack-API-Version") == "volume 3.71")
            let explicit = try await api.get("/v3/volumes", version: "3.27")
            #expect(explicit.header("OpenStack-API-Version") == "volume 3.27")
            // A comma list: the `volume` element counts.
            let list = try await api.get(
                "/v3/volumes", headers: [.openStackAPIVersion: "compute 2.1, volume 3.44"])
            #expect(list.status == .ok)
            #expect(list.header("OpenStack-API-Version") == "volume 3.44")
        }
    }

    @Test(
        "Versions outside 3.0...3.71 are 406 computeFault",
        arguments: ["3.99", "3.72", "4.0", "2.0", "2.99"])
    func unsupportedVersion(_ version: String) async throws {
        try await withSystem { api in
            let reply = try await api.get("/v3/volumes", version: version)
            expectFault(reply, .notAcceptable, version)
            #expect(reply.header("Vary") == "OpenStack-API-Version")
            #expect(reply.header("OpenStack-API-Version") != nil)
            #expect(isRequestID(reply.header("x-openstack-request-id")))
        }
    }

    @Test(
        "Malformed versions are 400 badRequest",
        arguments: ["abc", "3", "3.x", "3.5.1", "-3.5", "3.-1", "three.one", "3..1"])
    func malformedVersion(_ version: String) async throws {
        try await withSystem { api in
            let reply = try await api.get("/v3/volumes", version: version)
            expectFault(reply, .badRequest, "invalid format")
            #expect(reply.header("Vary") == "OpenStack-API-Version")
            #expect(isRequestID(reply.header("x-openstack-request-id")))
        }
    }

    @Test("Errors carry the request id, Vary and the version header too")
    func errorHeaders() async throws {
        try await withSystem { api in
            let reply = try await api.get("/v3/volumes/\(randomID())", version: "3.50")
            expectFault(reply, .notFound)
            #expect(reply.header("Vary") == "OpenStack-API-Version")
            #expect(reply.header("OpenStack-API-Version") == "volume 3.50")
            #expect(isRequestID(reply.header("x-openstack-request-id")))
            #expect(reply.header("x-compute-request-id") == reply.header("x-openstack-request-id"))
        }
    }

    @Test("Every response gets its own request id")
    func requestIDsAreUnique() async throws {
        try await withSystem { api in
            var seen: Set<String> = []
            for _ in 0..<5 {
                let id = try #require(try await api.get("/v3/volumes").header("x-openstack-request-id"))
                #expect(isRequestID(id))
                seen.insert(id)
            }
            #expect(seen.count == 5)
        }
    }

    @Test("Routes work with and without the project in the path")
    func projectInPathIsOptional() async throws {
        try await withSystem { api in
            let viaProject = try await api.createVolume(name: "in-admin", token: nil)
            let withProject = try await api.get("/v3/admin/volumes")
            #expect(withProject.status == .ok)
            let withoutProject = try await api.get("/v3/volumes")
            #expect(withoutProject.status == .ok)
            let ids1 = Set(withProject.json["volumes"].array.compactMap { $0["id"].string })
            let ids2 = Set(withoutProject.json["volumes"].array.compactMap { $0["id"].string })
            #expect(ids1 == [viaProject])
            #expect(ids1 == ids2)
            // Creating through the project path lands in the same project.
            let second = try await api.post("/v3/admin/volumes", ["volume": ["size": 1]])
            #expect(second.status == .accepted)
            let show = try await api.get("/v3/admin/volumes/\(viaProject)")
            #expect(show.status == .ok)
            #expect(show.json["volume"]["id"].string == viaProject)
            // Links name the project.
            let links = show.json["volume"]["links"].array
            #expect(
                links.first { $0["rel"].string == "self" }?["href"].string
                    == "http://localhost/v3/admin/volumes/\(viaProject)")
            #expect(
                links.first { $0["rel"].string == "bookmark" }?["href"].string
                    == "http://localhost/admin/volumes/\(viaProject)")
        }
    }

    @Test("Links honour public_endpoint, else X-Forwarded-Proto")
    func linkBase() async throws {
        try await withSystem { api in
            let id = try await api.createVolume(name: "linked", token: nil)
            let forwarded = try await api.get("/v3/admin/volumes/\(id)", headers: [.forwardedProto: "https"])
            #expect(
                forwarded.json["volume"]["links"].array.first?["href"].string
                    == "https://localhost/v3/admin/volumes/\(id)")
        }
        try await withSystem(configure: { $0.publicEndpoint = "https://volumes.example.com/block" }) { api in
            let id = try await api.createVolume(name: "linked", token: nil)
            let show = try await api.get("/v3/admin/volumes/\(id)")
            #expect(
                show.json["volume"]["links"].array.first?["href"].string
                    == "https://volumes.example.com/block/v3/admin/volumes/\(id)")
            let versions = try await api.get("/")
            #expect(versions.text.contains("https://volumes.example.com/block/v3"), "\(versions.text)")
        }
    }

    @Test("A token project that differs from the URL project is 400 Malformed request url")
    func projectMismatch() async throws {
        try await withSystem { api in
            let mismatch = try await api.get("/v3/p2/volumes", token: "u:p1")
            expectFault(mismatch, .badRequest, "Malformed request url")
            #expect(isRequestID(mismatch.header("x-openstack-request-id")))
            let create = try await api.post("/v3/p2/volumes", ["volume": ["size": 1]], token: "u:p1")
            expectFault(create, .badRequest, "Malformed request url")
            let match = try await api.get("/v3/p1/volumes", token: "u:p1")
            #expect(match.status == .ok)
            // Nothing was created by the refused request.
            #expect(try await api.volumeIDs(token: "u:p1").isEmpty)
            #expect(try await api.volumeIDs(token: "u:p2").isEmpty)
        }
    }

    @Test("The token names the project: volumes are listed per project")
    func tokenProjects() async throws {
        try await withSystem { api in
            let a = try await api.createVolume(token: "u:p1")
            let b = try await api.createVolume(token: "u:p2")
            #expect(try await api.volumeIDs(token: "u:p1") == [a])
            #expect(try await api.volumeIDs(token: "u:p2") == [b])
            let detail = try await api.get("/v3/volumes/\(a)", token: "u:p1")
            #expect(detail.json["volume"]["os-vol-tenant-attr:tenant_id"].string == "p1")
            #expect(detail.json["volume"]["user_id"].string == "u")
        }
    }

    @Test("/v3/{project} alone and unknown resources are 404 faults")
    func unknownResources() async throws {
        try await withSystem { api in
            expectFault(try await api.get("/v3/admin"), .notFound)
            expectFault(try await api.get("/v3/nothing"), .notFound)
        }
    }

    @Test("A token without a colon takes the project from the URL, else the default project")
    func dummyToken() async throws {
        try await withSystem { api in
            let inDefault = try await api.createVolume(token: "dummy-token")
            #expect(try await api.volume(inDefault)?["os-vol-tenant-attr:tenant_id"].string == "admin")
            let reply = try await api.post("/v3/p5/volumes", ["volume": ["size": 1]], token: "dummy-token")
            #expect(reply.status == .accepted)
            let inP5 = try #require(reply.json["volume"]["id"].string)
            #expect(try await api.volume(inP5, token: "u:p5")?["os-vol-tenant-attr:tenant_id"].string == "p5")
            #expect(try await api.volumeIDs(token: "u:p5").count == 1)
            // A token naming only a user uses it as the project too.
            let single = try await api.post("/v3/volumes", ["volume": ["size": 1]], token: "solo:")
            let solo = try #require(single.json["volume"]["id"].string)
            #expect(try await api.volume(solo, token: "solo:")?["os-vol-tenant-attr:tenant_id"].string == "solo")
            #expect(single.json["volume"]["user_id"].string == "solo")
        }
    }

    @Test("Versions with leading zeros are malformed (Cinder's ^([1-9]\\d*)\\.([1-9]\\d*|0)$): 400")
    func leadingZeros() async throws {
        try await withSystem { api in
            for version in ["3.01", "03.1", "3.010", "3.00"] {
                let reply = try await api.get("/v3/volumes", version: version)
                // Source bug: APIVersion.negotiate parses with Int(), so "3.01" is taken as 3.1.
                expectFault(reply, .badRequest, "invalid format")
            }
        }
    }
}
