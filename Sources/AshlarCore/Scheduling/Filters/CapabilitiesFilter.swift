import Foundation

/// Keeps pools whose capabilities satisfy every unscoped or `capabilities:`-scoped extra spec of the type
/// (`cinder/scheduler/filters/capabilities_filter.py`). Specs with another scope are not capabilities.
public struct CapabilitiesFilter: BackendFilter {
    public init() {}
    public var name: String { "CapabilitiesFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? {
        for (key, requirement) in spec.extraSpecs.sorted(by: { $0.key < $1.key }) {
            var scope = key.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if scope.count > 1 {
                guard scope[0] == "capabilities" else { continue }
                scope.removeFirst()
            }
            var current: JSONValue = .object(pool.capabilities)
            for part in scope {
                guard case .object(let dict) = current, let next = dict[part] else {
                    return "does not report the capability '\(scope.joined(separator: ":"))' that \(key) asks for"
                }
                current = next
            }
            let candidates: [JSONValue]
            if case .array(let list) = current, !requirement.hasPrefix("<all-in>") {
                candidates = list
            } else {
                // `<all-in>` looks at the whole list; other operators at any one element.
                candidates = [current]
            }
            if !candidates.contains(where: { ExtraSpecMatcher.matches($0, requirement) }) {
                return "reports \(key)=\(current.rendered), the type asks for \(requirement)"
            }
        }
        return nil
    }
}
