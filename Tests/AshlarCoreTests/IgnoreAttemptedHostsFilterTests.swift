import Foundation
import Testing

@testable import AshlarCore

@Suite("IgnoreAttemptedHostsFilter")
struct IgnoreAttemptedHostsFilterTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var backend: String
        var attempted: [String]
        var passes: Bool
        var testDescription: String { "\(backend) after \(attempted): \(passes ? "passes" : "fails")" }
    }

    @Test(arguments: [
        Case(backend: "node1@lvm", attempted: [], passes: true),
        Case(backend: "node1@lvm", attempted: ["node1@lvm"], passes: false),
        Case(backend: "node1@lvm", attempted: ["node2@lvm", "node1@lvm"], passes: false),
        Case(backend: "node1@lvm", attempted: ["node2@lvm"], passes: true),
        // Whole backends only: neither a prefix, a bare host nor another backend of the host matches.
        Case(backend: "node1@lvm2", attempted: ["node1@lvm"], passes: true),
        Case(backend: "node1@lvm", attempted: ["node1"], passes: true),
        Case(backend: "node1@lvm", attempted: ["node1@lvm#pool"], passes: true),
    ])
    func passesIffTheBackendWasNotAttempted(_ c: Case) {
        let reason = IgnoreAttemptedHostsFilter().rejection(
            of: makePool(backend: c.backend, pool: "pool"), for: makeSpec(attempted: c.attempted))
        #expect((reason == nil) == c.passes, "\(reason ?? "passed")")
    }

    @Test func rejectionNamesTheBackendAndTheAttempt() throws {
        let reason = try #require(
            IgnoreAttemptedHostsFilter().rejection(
                of: makePool(backend: "node2@lvm", pool: "a"), for: makeSpec(attempted: ["node1@lvm", "node2@lvm"])))
        #expect(reason.contains("node2@lvm"))
        #expect(reason.contains("already failed"))
        #expect(reason.contains("attempt 2 of 2"))
    }

    @Test func everyPoolOfTheBackendIsRejected() {
        let spec = makeSpec(attempted: ["node1@lvm"])
        let pools = ["a", "b", "c"].map { makePool(backend: "node1@lvm", pool: $0) }
        #expect(pools.allSatisfy { IgnoreAttemptedHostsFilter().rejection(of: $0, for: spec) != nil })
    }

    @Test func name() {
        #expect(IgnoreAttemptedHostsFilter().name == "IgnoreAttemptedHostsFilter")
    }
}
