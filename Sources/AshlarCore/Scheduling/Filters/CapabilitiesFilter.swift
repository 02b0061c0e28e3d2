import Foundation

/// Keeps pools whose capabilities satisfy every unscoped or `capabilities:`-scoped extra spec of the type
/// (`cinder/scheduler/filters/capabilities_filter.py`). Specs with another scope are not capabilities.
public struct CapabilitiesFilter: BackendFilter {
    public init() {}
    public var name: String { "CapabilitiesFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? { compiled(for: spec)(pool) }

    /// One extra spec, parsed: where its capability lives and how to match it.
    private struct Requirement {
        var key: String
        var path: [String]
        var requirement: String
        var wholeList: Bool
        var matches: (JSONValue) -> Bool
    }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        var requirements: [Requirement] = []
        for (key, requirement) in spec.extraSpecs.sorted(by: { $0.key < $1.key }) {
            var path = key.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if path.count > 1 {
                guard path[0] == "capabilities" else { continue }
                path.removeFirst()
            }
            requirements.append(
                Requirement(
                    key: key, path: path, requirement: requirement,
                    // `<all-in>` looks at the whole list; other operators at any one element.
                    wholeList: requirement.hasPrefix("<all-in>"), matches: ExtraSpecMatcher.compile(requirement)))
        }
        return { pool in
            for r in requirements {
                var current: JSONValue?
                if r.path.count == 1 {
                    current = r.path[0] == "volume_backend_name" ? pool.volumeBackendName : pool.capabilities[r.path[0]]
                } else {
                    var value: JSONValue = .object(pool.capabilities)
                    for part in r.path {
                        guard case .object(let dict) = value, let next = dict[part] else {
                            value = .null
                            current = nil
                            break
                        }
                        value = next
                        current = next
                    }
                }
                guard let current else {
                    return "does not report the capability '\(r.path.joined(separator: ":"))' that \(r.key) asks for"
                }
                let matched: Bool
                if case .array(let list) = current, !r.wholeList {
                    matched = list.contains(where: r.matches)
                } else {
                    matched = r.matches(current)
                }
                if !matched { return "reports \(r.key)=\(current.rendered), the type asks for \(r.requirement)" }
            }
            return nil
        }
    }
}
