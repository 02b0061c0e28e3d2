import Foundation
import Testing

@testable import AshlarCore

/// Volume ids and where they live, for the affinity filter tests.
enum Affinity {
    static let a = "11111111-1111-1111-1111-111111111111"
    static let b = "22222222-2222-2222-2222-222222222222"
    /// A well-formed id that `hosts` does not know: a volume that does not exist.
    static let missing = "33333333-3333-3333-3333-333333333333"
    static let hosts = [a: "node1@lvm#p1", b: "node2@lvm#p1"]

    /// A spec carrying hint `key` = `value` and the volume hosts above.
    static func spec(_ key: String, _ value: JSONValue?) -> RequestSpec {
        makeSpec(hints: value.map { [key: $0] } ?? [:], volumeHosts: hosts)
    }
}
