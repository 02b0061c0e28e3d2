import AshlarCore
import HTTPTypes
import Testing

/// `/volumes/{id}/metadata[/{key}]`.
@Suite("Volume metadata", .timeLimit(.minutes(2)))
struct VolumeMetadataTests {
    @Test("All six routes: list, merge, replace, show key, update key, delete key")
    func sixRoutes() async throws {
        try await withSystem { api in
            let id = try await api.createAvailableVolume(extra: ["metadata": ["a": "1"]])
            let base = "/v3/volumes/\(id)/metadata"

            try await api.checkMetadataRoutes(base) { try await api.volume(id) }
            let added = try await api.put("\(base)/d", ["meta": ["d": "5"]])
            #expect(added.status == .ok)
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["c": "4", "d": "5"]])))

            let deleted = try await api.delete("\(base)/c")
            #expect(deleted.status == .ok)
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["d": "5"]])))
            expectFault(try await api.delete("\(base)/c"), .notFound)

            let cleared = try await api.put(base, ["metadata": [:]])
            #expect(cleared.status == .ok)
            #expect(try await api.get(base).json == JSON(.object(["metadata": [:]])))
        }
    }

    @Test("PUT of a key with a mismatched or oversized body is 400 and changes nothing")
    func keyMismatch() async throws {
        try await withSystem { api in
            let id = try await api.createVolume(extra: ["metadata": ["k": "v"]])
            let path = "/v3/volumes/\(id)/metadata/k"
            expectFault(try await api.put(path, ["meta": ["other": "x"]]), .badRequest, "mismatch")
            expectFault(try await api.put(path, ["meta": ["k": "x", "j": "y"]]), .badRequest)
            expectFault(try await api.put(path, ["meta": [:]]), .badRequest)
            expectFault(try await api.put(path, ["meta": ["k": 1]]), .badRequest)
            expectFault(try await api.put(path, ["metadata": ["k": "x"]]), .badRequest)
            expectFault(try await api.put(path, ["meta": "k"]), .badRequest)
            #expect(try await api.get("/v3/volumes/\(id)/metadata").json == JSON(.object(["metadata": ["k": "v"]])))
        }
    }

    @Test("Bad metadata bodies are 400; unknown volumes are 404")
    func badBodies() async throws {
        try await withSystem { api in
            let id = try await api.createVolume(extra: ["metadata": ["k": "v"]])
            let base = "/v3/volumes/\(id)/metadata"
            for body: JSONValue in [
                ["metadata": ["k": 1]], ["metadata": "k"], ["metadata": ["k"]], ["metadata": nil], ["meta": ["k": "v"]],
                [:], ["metadata": ["": "v"]],
            ] {
                expectFault(try await api.post(base, body), .badRequest)
                expectFault(try await api.put(base, body), .badRequest)
            }
            expectFault(try await api.post(base, raw: "[1]"), .badRequest)
            expectFault(try await api.post(base, raw: "nope"), .badRequest)
            expectFault(try await api.post(base), .badRequest)
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["k": "v"]])))

            let missing = "/v3/volumes/\(randomID())/metadata"
            expectFault(try await api.get(missing), .notFound)
            expectFault(try await api.post(missing, ["metadata": ["a": "b"]]), .notFound)
            expectFault(try await api.put(missing, ["metadata": ["a": "b"]]), .notFound)
            expectFault(try await api.get("\(missing)/a"), .notFound)
            expectFault(try await api.put("\(missing)/a", ["meta": ["a": "b"]]), .notFound)
            expectFault(try await api.delete("\(missing)/a"), .notFound)
        }
    }

    @Test("ETag from 3.15; If-Match with a stale ETag is 412 and changes nothing, a matching one is 200")
    func etagAndIfMatch() async throws {
        try await withSystem { api in
            let id = try await api.createVolume(extra: ["metadata": ["k": "v"]])
            let base = "/v3/volumes/\(id)/metadata"

            let old = try await api.get(base)
            #expect(old.header("ETag") == nil, "no ETag before 3.15")

            let first = try await api.get(base, version: "3.15")
            let etag = try #require(first.header("ETag"))
            #expect(!etag.isEmpty)
            // The ETag follows the content.
            #expect(try await api.get(base, version: "3.15").header("ETag") == etag)
            _ = try await api.post(base, ["metadata": ["k2": "v2"]])
            let second = try await api.get(base, version: "3.15")
            let newEtag = try #require(second.header("ETag"))
            #expect(newEtag != etag)

            // Stale: 412, nothing changed.
            let stale = try await api.put(
                base, ["metadata": ["x": "y"]], version: "3.15", headers: [.ifMatch: etag])
            expectFault(stale, .preconditionFailed)
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["k": "v", "k2": "v2"]])))

            // Matching: 200.
            let fresh = try await api.put(
                base, ["metadata": ["x": "y"]], version: "3.15", headers: [.ifMatch: newEtag])
            #expect(fresh.status == .ok, "\(fresh)")
            #expect(fresh.json == JSON(.object(["metadata": ["x": "y"]])))
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["x": "y"]])))

            // A quoted ETag works too; before 3.15 If-Match is ignored.
            let quotedTag = try #require(try await api.get(base, version: "3.15").header("ETag"))
            let quoted = try await api.put(
                base, ["metadata": ["q": "1"]], version: "3.15", headers: [.ifMatch: "\"\(quotedTag)\""])
            #expect(quoted.status == .ok, "\(quoted)")
            let ignored = try await api.put(base, ["metadata": ["z": "1"]], headers: [.ifMatch: "stale"])
            #expect(ignored.status == .ok, "\(ignored)")
            #expect(try await api.get(base).json == JSON(.object(["metadata": ["z": "1"]])))
        }
    }
}
