import Foundation

/// A set of QoS specs (`/qos-specs`): named key/value limits that volume types point at. Front-end specs are
/// enforced by the host that attaches the volume (they travel in the connection info), back-end ones by the
/// backend.
public struct QoSSpecs: Sendable, Equatable {
    /// Who enforces the specs.
    public enum Consumer: String, Sendable, CaseIterable {
        case frontEnd = "front-end"
        case backEnd = "back-end"
        case both
    }

    public var id: String
    public var name: String
    public var consumer: Consumer
    public var specs: [String: String]
    public var createdAt: Date
    public var updatedAt: Date?

    public init(
        id: String = UUID().uuidString.lowercased(), name: String, consumer: Consumer = .backEnd,
        specs: [String: String] = [:], createdAt: Date = Date(), updatedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.consumer = consumer
        self.specs = specs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Whether the attaching host enforces them (and so gets them in the connection info).
    public var isFrontEnd: Bool { consumer != .backEnd }

    /// The limits a host enforces for a volume of `size` GiB, as upstream puts them in
    /// `connection_info.data.qos_specs`: each `<limit>_per_gb` becomes `<limit>` = value × size (a number), raised to
    /// `<limit>_per_gb_min` and capped at `<limit>_max` when those are given; the other keys pass unchanged.
    public func connectionSpecs(size: Int) -> [String: JSONValue] {
        var specs = self.specs
        var computed: [String: JSONValue] = [:]
        for limit in Self.perGBLimits {
            guard let text = specs[limit + "_per_gb"], let perGB = Int(text) else { continue }
            let minimum = specs.removeValue(forKey: limit + "_per_gb_min").flatMap { Int($0) } ?? 0
            let value = max(minimum, perGB * size)
            let maximum = specs.removeValue(forKey: limit + "_max").flatMap { Int($0) } ?? value
            specs[limit + "_per_gb"] = nil
            specs[limit] = nil
            computed[limit] = .int(Int64(min(value, maximum)))
        }
        return specs.mapValues(JSONValue.string).merging(computed) { _, new in new }
    }

    /// The limits that may be given per GiB.
    public static let perGBLimits = [
        "read_iops_sec", "read_bytes_sec", "write_iops_sec", "write_bytes_sec", "total_iops_sec", "total_bytes_sec",
    ]
}
