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
        var source: Source
        /// Whether a reported value satisfies the requirement (`<all-in>` looks at a whole list, other operators
        /// at any one element).
        var satisfied: (JSONValue) -> Bool
    }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        var requirements: [Requirement] = []
        for (key, requirement) in spec.extraSpecs.sorted(by: { $0.key < $1.key }) {
            var path = key.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if path.count > 1 {
                guard path[0] == "capabilities" else { continue }
                path.removeFirst()
            }
            let matches = ExtraSpecMatcher.compile(requirement)
            let wholeList = requirement.hasPrefix("<all-in>")
            requirements.append(
                Requirement(
                    key: key, path: path, requirement: requirement, source: Source(path),
                    satisfied: { value in
                        if case .array(let list) = value, !wholeList { return list.contains(where: matches) }
                        return matches(value)
                    }))
        }
        // The closures apart from the rest, so the per-pool loop touches nothing it does not call.
        let sources = requirements.map(\.source)
        let checks = requirements.map(\.satisfied)
        return { pool in
            for i in sources.indices {
                guard let value = sources[i].value(in: pool) else {
                    let r = requirements[i]
                    return "does not report the capability '\(r.path.joined(separator: ":"))' that \(r.key) asks for"
                }
                if !checks[i](value) {
                    let r = requirements[i]
                    return "reports \(r.key)=\(value.rendered), the type asks for \(r.requirement)"
                }
            }
            return nil
        }
    }

    /// Where a capability is read from: the backend name from its own field (nearly every type asks for it),
    /// other top-level keys from the dictionary, nested keys by walking it.
    private enum Source {
        case backendName
        case key(String)
        case path([String])

        init(_ path: [String]) {
            if path == ["volume_backend_name"] {
                self = .backendName
            } else if path.count == 1 {
                self = .key(path[0])
            } else {
                self = .path(path)
            }
        }

        /// The capability's value on `pool`; nil when the pool does not report it.
        func value(in pool: PoolState) -> JSONValue? {
            switch self {
            case .backendName: return pool.volumeBackendName
            case .key(let key): return pool.capabilities[key]
            case .path(let path):
                var value: JSONValue = .object(pool.capabilities)
                for part in path {
                    guard case .object(let dict) = value, let next = dict[part] else { return nil }
                    value = next
                }
                return value
            }
        }
    }
}
