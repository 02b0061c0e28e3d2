import Foundation

/// Hint `local_to_instance=<instance uuid>`: keep the pools on the compute host of that instance
/// (`instance_locality_filter.py`). Locating an instance needs a compute service, which Ashlar does not talk to,
/// so a valid hint rejects every pool with that explanation instead of placing the volume somewhere else silently.
public struct InstanceLocalityFilter: BackendFilter {
    public init() {}
    public var name: String { "InstanceLocalityFilter" }

    public func rejection(of pool: PoolState, for spec: RequestSpec) -> String? { compiled(for: spec)(pool) }

    public func isNeeded(for spec: RequestSpec) -> Bool {
        spec.schedulerHints["local_to_instance"].map { !$0.isNull } ?? false
    }

    public func compiled(for spec: RequestSpec) -> (PoolState) -> String? {
        guard let value = spec.schedulerHints["local_to_instance"], !value.isNull else { return { _ in nil } }
        let reason: String
        if case .string(let id) = value, UUID(uuidString: id) != nil {
            reason = "cannot be checked against instance \(id): no compute service is configured to locate instances"
        } else {
            reason = "cannot be checked: the local_to_instance hint \(value.rendered) is not an instance UUID"
        }
        return { _ in reason }
    }
}
