import Foundation
import Testing

@testable import AshlarCore

@Suite("RequestSpec")
struct RequestSpecTests {
    static let full = RequestSpec(
        volumeID: "vol-1", size: 10, availabilityZone: "az1", volumeTypeName: "gold",
        extraSpecs: ["volume_backend_name": "lvm"], attemptedHosts: ["node1@lvm"],
        schedulerHints: ["different_host": ["11111111-1111-1111-1111-111111111111"], "query": "[]"],
        volumeHostsForHints: ["11111111-1111-1111-1111-111111111111": "node1@lvm#pool"])

    static func keys(_ spec: RequestSpec) throws -> [String] {
        let data = try JSONEncoder().encode(spec)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return object.keys.sorted()
    }

    @Test func newFieldsDefaultToEmpty() {
        let spec = RequestSpec(volumeID: "v", size: 1)
        #expect(spec.schedulerHints.isEmpty)
        #expect(spec.volumeHostsForHints.isEmpty)
    }

    @Test func hintsAreEncodedUnderSnakeCaseKeys() throws {
        let keys = try Self.keys(Self.full)
        #expect(keys.contains("scheduler_hints"))
        #expect(keys.contains("volume_hosts_for_hints"))
        #expect(!keys.contains("schedulerHints"))
        #expect(!keys.contains("volumeHostsForHints"))
        // The original keys are unchanged, so older peers still read the spec.
        #expect(keys.contains("volumeID"))
        #expect(keys.contains("attemptedHosts"))
    }

    @Test(arguments: [full, RequestSpec(volumeID: "v", size: 1)])
    func roundTrips(_ spec: RequestSpec) throws {
        let decoded = try JSONDecoder().decode(RequestSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded == spec)
    }

    @Test(arguments: [
        #"{"volumeID": "v", "size": 2, "extraSpecs": {}, "attemptedHosts": []}"#,
        #"{"volumeID": "v", "size": 2, "extraSpecs": {}, "attemptedHosts": [], "scheduler_hints": {}}"#,
    ])
    func absentHintsDecodeAsEmpty(_ text: String) throws {
        let spec = try JSONDecoder().decode(RequestSpec.self, from: Data(text.utf8))
        #expect(spec.volumeID == "v")
        #expect(spec.size == 2)
        #expect(spec.schedulerHints == [:])
        #expect(spec.volumeHostsForHints == [:])
    }

    @Test func hintsDecodeFromSnakeCase() throws {
        let text = #"""
            {"volumeID": "v", "size": 2, "extraSpecs": {}, "attemptedHosts": [],
             "scheduler_hints": {"same_host": "abc", "query": "[\"=\", 1, 1]"},
             "volume_hosts_for_hints": {"abc": "h@b#p"}}
            """#
        let spec = try JSONDecoder().decode(RequestSpec.self, from: Data(text.utf8))
        #expect(spec.schedulerHints == ["same_host": "abc", "query": #"["=", 1, 1]"#])
        #expect(spec.volumeHostsForHints == ["abc": "h@b#p"])
    }

    @Test func aHintsMapOfTheWrongTypeIsAnError() {
        let text = #"{"volumeID": "v", "size": 2, "extraSpecs": {}, "attemptedHosts": [], "volume_hosts_for_hints": [1]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RequestSpec.self, from: Data(text.utf8)) }
    }
}
