import AshlarCore
import HTTPTypes
import Testing

extension API {
    /// The routes every resource's metadata shares (one `MetadataController`), from metadata `{"a": "1"}`: list,
    /// merge, replace (seen in the resource's own view through `view`), show a key, 404 for a key gone, update a
    /// key. Leaves the metadata `{"c": "4"}`.
    func checkMetadataRoutes(
        _ base: String, view: () async throws -> JSON?, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let list = try await get(base)
        #expect(list.status == .ok, sourceLocation: sourceLocation)
        #expect(list.json == JSON(.object(["metadata": ["a": "1"]])), sourceLocation: sourceLocation)

        let merged = try await post(base, ["metadata": ["b": "2", "a": "one"]])
        #expect(merged.status == .ok, "\(merged)", sourceLocation: sourceLocation)
        #expect(merged.json == JSON(.object(["metadata": ["a": "one", "b": "2"]])), sourceLocation: sourceLocation)

        let replaced = try await put(base, ["metadata": ["c": "3"]])
        #expect(replaced.status == .ok, "\(replaced)", sourceLocation: sourceLocation)
        #expect(replaced.json == JSON(.object(["metadata": ["c": "3"]])), sourceLocation: sourceLocation)
        #expect(try await view()?["metadata"] == JSON(.object(["c": "3"])), sourceLocation: sourceLocation)

        let key = try await get("\(base)/c")
        #expect(key.status == .ok, sourceLocation: sourceLocation)
        #expect(key.json == JSON(.object(["meta": ["c": "3"]])), sourceLocation: sourceLocation)
        expectFault(try await get("\(base)/a"), .notFound, sourceLocation: sourceLocation)

        let updated = try await put("\(base)/c", ["meta": ["c": "4"]])
        #expect(updated.status == .ok, "\(updated)", sourceLocation: sourceLocation)
        #expect(updated.json == JSON(.object(["meta": ["c": "4"]])), sourceLocation: sourceLocation)
    }
}
