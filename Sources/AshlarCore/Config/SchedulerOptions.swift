import Foundation

/// Scheduler options, read from `[DEFAULT]` with cinder's option names and defaults.
public struct SchedulerOptions: Sendable, Equatable {
    /// `scheduler_default_filters`: filter class names, applied in order.
    public var defaultFilters: [String]
    /// `scheduler_default_weighers`: weigher class names.
    public var defaultWeighers: [String]
    /// `scheduler_max_attempts`: how many backends a create may try, at least 1.
    public var maxAttempts: Int
    /// `capacity_weight_multiplier`: positive spreads volumes onto the emptiest backend.
    public var capacityWeightMultiplier: Double
    /// `allocated_capacity_weight_multiplier`: negative favours the least-allocated backend.
    public var allocatedCapacityWeightMultiplier: Double
    /// `volume_number_multiplier`: negative favours backends with fewer volumes.
    public var volumeNumberMultiplier: Double
    /// `scheduler_driver_init_wait_time`: seconds to wait for backends to report at start-up.
    public var driverInitWaitTime: Int

    /// Creates scheduler options; every argument defaults to cinder's default.
    public init(
        defaultFilters: [String] = ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"],
        defaultWeighers: [String] = ["CapacityWeigher"],
        maxAttempts: Int = 3,
        capacityWeightMultiplier: Double = 1.0,
        allocatedCapacityWeightMultiplier: Double = -1.0,
        volumeNumberMultiplier: Double = -1.0,
        driverInitWaitTime: Int = 60
    ) {
        self.defaultFilters = defaultFilters
        self.defaultWeighers = defaultWeighers
        self.maxAttempts = maxAttempts
        self.capacityWeightMultiplier = capacityWeightMultiplier
        self.allocatedCapacityWeightMultiplier = allocatedCapacityWeightMultiplier
        self.volumeNumberMultiplier = volumeNumberMultiplier
        self.driverInitWaitTime = driverInitWaitTime
    }

    /// The option names this type reads from `[DEFAULT]`.
    static let optionNames: Set<String> = [
        "scheduler_default_filters", "scheduler_default_weighers", "scheduler_max_attempts",
        "capacity_weight_multiplier", "allocated_capacity_weight_multiplier", "volume_number_multiplier",
        "scheduler_driver_init_wait_time",
    ]

    /// Reads the options from `[DEFAULT]`, falling back to the defaults above.
    init(layers: AshlarConfig.Layers) throws(ConfigError) {
        let section = INIFile.defaultSection
        let defaults = SchedulerOptions()
        self.init(
            defaultFilters: layers.setting("scheduler_default_filters", in: section)?.list() ?? defaults.defaultFilters,
            defaultWeighers: layers.setting("scheduler_default_weighers", in: section)?.list()
                ?? defaults.defaultWeighers,
            maxAttempts: try layers.setting("scheduler_max_attempts", in: section)?.int(in: 1...Int.max)
                ?? defaults.maxAttempts,
            capacityWeightMultiplier: try layers.setting("capacity_weight_multiplier", in: section)?.double()
                ?? defaults.capacityWeightMultiplier,
            allocatedCapacityWeightMultiplier: try layers.setting("allocated_capacity_weight_multiplier", in: section)?
                .double() ?? defaults.allocatedCapacityWeightMultiplier,
            volumeNumberMultiplier: try layers.setting("volume_number_multiplier", in: section)?.double()
                ?? defaults.volumeNumberMultiplier,
            driverInitWaitTime: try layers.setting("scheduler_driver_init_wait_time", in: section)?.int(in: 0...Int.max)
                ?? defaults.driverInitWaitTime
        )
    }
}
