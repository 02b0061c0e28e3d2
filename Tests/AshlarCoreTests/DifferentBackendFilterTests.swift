import Foundation
import Testing

@testable import AshlarCore

@Suite("DifferentBackendFilter")
struct DifferentBackendFilterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var pool: String
        var hint: JSONValue?
        var passes: Bool
        var testDescription: String { "\(pool) with \(hint?.rendered ?? "no hint"): \(passes ? "passes" : "fails")" }
    }

    @Test(arguments: [
        Case(pool: "node1@lvm#p1", hint: nil, passes: true),
        Case(pool: "node1@lvm#p1", hint: [], passes: true),
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.a), passes: false),
        Case(pool: "node1@lvm#p1", hint: [.string(Affinity.a)], passes: false),
        Case(pool: "node1@lvm#p1", hint: [.string(Affinity.b), .string(Affinity.a)], passes: false),
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.b), passes: true),
        // Pool-exact: another pool of the same backend is different.
        Case(pool: "node1@lvm#p2", hint: .string(Affinity.a), passes: true),
        Case(pool: "node2@lvm#p1", hint: [.string(Affinity.a)], passes: true),
        Case(pool: "node2@lvm#p1", hint: [.string(Affinity.a), .string(Affinity.b)], passes: false),
        // A volume that does not exist is on no pool.
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.missing), passes: true),
        // UUIDs are case-insensitive.
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.a.uppercased()), passes: false),
        // Anything that is not a UUID fails every pool.
        Case(pool: "node3@lvm#p1", hint: "not-a-uuid", passes: false),
        Case(pool: "node3@lvm#p1", hint: [.string(Affinity.a), "nope"], passes: false),
        Case(pool: "node3@lvm#p1", hint: 42, passes: false),
        Case(pool: "node3@lvm#p1", hint: [42], passes: false),
        Case(pool: "node3@lvm#p1", hint: ["id": .string(Affinity.a)], passes: false),
        Case(pool: "node3@lvm#p1", hint: .null, passes: false),
    ])
    func passesIffNoHintedVolumeIsOnThePool(_ c: Case) {
        let parts = c.pool.split(separator: "#").map(String.init)
        let pool = makePool(backend: parts[0], pool: parts[1])
        let reason = DifferentBackendFilter().rejection(of: pool, for: Affinity.spec("different_host", c.hint))
        #expect((reason == nil) == c.passes, "\(reason ?? "passed")")
    }

    @Test func rejectionNamesTheVolumesOnThePool() throws {
        let spec = Affinity.spec("different_host", [.string(Affinity.a), .string(Affinity.b)])
        let reason = try #require(DifferentBackendFilter().rejection(of: makePool(backend: "node2@lvm", pool: "p1"), for: spec))
        #expect(reason.contains(Affinity.b))
        #expect(!reason.contains(Affinity.a))
        #expect(reason.contains("different_host"))
    }

    @Test func invalidHintIsExplained() throws {
        let reason = try #require(
            DifferentBackendFilter().rejection(of: makePool(), for: Affinity.spec("different_host", "vol-1")))
        #expect(reason.contains("'vol-1' is not a volume UUID"))
    }

    @Test func onlyTheDifferentHostHintCounts() {
        #expect(DifferentBackendFilter().rejection(
            of: makePool(backend: "node1@lvm", pool: "p1"), for: Affinity.spec("same_host", .string(Affinity.b))) == nil)
    }

    @Test(arguments: [
        ("11111111-1111-1111-1111-111111111111", true),
        ("11111111111111111111111111111111", true),
        ("{11111111-1111-1111-1111-111111111111}", true),
        ("urn:uuid:11111111-1111-1111-1111-111111111111", true),
        ("ABCDEF12-3456-7890-abcd-ef1234567890", true),
        ("11111111-1111-1111-1111-11111111111", false),
        ("1111-11111111-1111-1111-111111111111", false),
        ("g1111111-1111-1111-1111-111111111111", false),
        ("", false),
    ])
    func uuidLikeAsOsloSays(_ text: String, _ expected: Bool) {
        #expect(AffinityHint.isUUIDLike(text) == expected)
    }
}
