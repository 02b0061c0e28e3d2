import Foundation
import Testing

@testable import AshlarCore

@Suite("SameBackendFilter")
struct SameBackendFilterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var pool: String
        var hint: JSONValue?
        var passes: Bool
        var testDescription: String { "\(pool) with \(hint?.rendered ?? "no hint"): \(passes ? "passes" : "fails")" }
    }

    @Test(arguments: [
        Case(pool: "node1@lvm#p1", hint: nil, passes: true),
        Case(pool: "node9@lvm#p1", hint: [], passes: true),
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.a), passes: true),
        Case(pool: "node1@lvm#p1", hint: [.string(Affinity.b), .string(Affinity.a)], passes: true),
        Case(pool: "node2@lvm#p1", hint: [.string(Affinity.b), .string(Affinity.a)], passes: true),
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.b), passes: false),
        // Pool-exact: another pool of the same backend is not the same.
        Case(pool: "node1@lvm#p2", hint: .string(Affinity.a), passes: false),
        // A volume that does not exist is on no pool; with a real one it still passes where that one is.
        Case(pool: "node1@lvm#p1", hint: .string(Affinity.missing), passes: false),
        Case(pool: "node1@lvm#p1", hint: [.string(Affinity.missing), .string(Affinity.a)], passes: true),
        // Anything that is not a UUID fails every pool, even the one holding the valid volume.
        Case(pool: "node1@lvm#p1", hint: [.string(Affinity.a), "nope"], passes: false),
        Case(pool: "node1@lvm#p1", hint: "nope", passes: false),
        Case(pool: "node1@lvm#p1", hint: true, passes: false),
    ])
    func passesIffAHintedVolumeIsOnThePool(_ c: Case) {
        let parts = c.pool.split(separator: "#").map(String.init)
        let pool = makePool(backend: parts[0], pool: parts[1])
        let reason = SameBackendFilter().rejection(of: pool, for: Affinity.spec("same_host", c.hint))
        #expect((reason == nil) == c.passes, "\(reason ?? "passed")")
    }

    @Test func rejectionSaysWhereTheVolumesAre() throws {
        let spec = Affinity.spec("same_host", [.string(Affinity.a), .string(Affinity.missing)])
        let reason = try #require(SameBackendFilter().rejection(of: makePool(backend: "node2@lvm", pool: "p1"), for: spec))
        #expect(reason.contains("same_host"))
        #expect(reason.contains("\(Affinity.a) is on node1@lvm#p1"))
        #expect(reason.contains("\(Affinity.missing) does not exist"))
    }

    @Test func invalidHintIsExplained() throws {
        let reason = try #require(SameBackendFilter().rejection(of: makePool(), for: Affinity.spec("same_host", [7])))
        #expect(reason.contains("same_host"))
        #expect(reason.contains("'7'"))
        #expect(reason.contains("not a volume UUID"))
    }

    @Test func onlyTheSameHostHintCounts() {
        #expect(SameBackendFilter().rejection(
            of: makePool(backend: "node1@lvm", pool: "p1"), for: Affinity.spec("different_host", .string(Affinity.b))) == nil)
    }
}
