import AshlarCore
import AshlarScheduler
import Foundation

/// Scheduling decisions per second with many pools, and the time to take in a first round of capability reports.
///
///     swift run -c release SchedulerBench [pools …]     (default: 100 1000 10000)
///
/// One pool per backend, as LVM reports; every pool passes the default filters (AvailabilityZoneFilter,
/// CapacityFilter, CapabilitiesFilter with `volume_backend_name`), so all are weighed by the CapacityWeigher.
/// A decision is what the scheduler service does per create once it knows the unusable backends (one query
/// returning the few down, disabled or frozen services, not timed here): filter and weigh the usable pools,
/// choose, and record the placement in the pool's state.
@main
struct SchedulerBench {
    /// Upstream's FilterScheduler per decision on this kind of machine, from the issue (ms).
    static let upstream: [Int: Double] = [100: 6.6, 1_000: 65, 10_000: 663]

    static func main() async throws {
        let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let clock = ContinuousClock()
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: ["AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"],
            defaultWeighers: ["CapacityWeigher"], capacityWeightMultiplier: 1))
        let spec = RequestSpec(volumeID: "bench", size: 1, extraSpecs: ["volume_backend_name": "lvmbackend"])
        print(
            "| pools | first round of reports (cold) | decision p50 | decision p99 | decisions/s | upstream per decision |"
        )
        print("|---|---|---|---|---|---|")
        for count in sizes.isEmpty ? [100, 1_000, 10_000] : sizes {
            let manager = HostManager()
            let now = Date().timeIntervalSince1970
            let reports = (0..<count).map { i in (backend: "node\(i)@lvm", capabilities: report(i)) }
            let ingestStart = clock.now
            for r in reports {
                await manager.update(
                    backend: r.backend, availabilityZone: "nova", capabilities: r.capabilities, timestamp: now)
            }
            let ingest = clock.now - ingestStart
            let decisions = count >= 10_000 ? 300 : 2_000
            var samples: [Duration] = []
            samples.reserveCapacity(decisions)
            let runStart = clock.now
            for _ in 0..<decisions {
                let start = clock.now
                await manager.setUnusable([])
                guard case .chosen = await manager.place(spec, with: scheduler) else {
                    fatalError("every pool should pass")
                }
                samples.append(clock.now - start)
            }
            let total = clock.now - runStart
            samples.sort()
            let p50 = ms(samples[samples.count / 2])
            let p99 = ms(samples[min(samples.count - 1, samples.count * 99 / 100)])
            let perSecond = Double(decisions) / seconds(total)
            let reference = upstream[count].map { String(format: "%.1f ms (%.0f× ours)", $0, $0 / p50) } ?? "—"
            print(
                "| \(count) | \(String(format: "%.1f ms", ms(ingest))) | \(String(format: "%.3f ms", p50)) | \(String(format: "%.3f ms", p99)) | \(String(format: "%.0f", perSecond)) | \(reference) |"
            )
        }
    }

    /// A capability report as a file or LVM backend sends it, with one pool and varied free space.
    static func report(_ i: Int) -> [String: JSONValue] {
        let free = Double(200 + (i * 7919) % 800)
        return [
            "volume_backend_name": "lvmbackend", "vendor_name": "Open Source", "driver_version": "3.0.0",
            "storage_protocol": "iSCSI",
            "pools": [
                [
                    "pool_name": "lvmbackend", "total_capacity_gb": 1000, "free_capacity_gb": .double(free),
                    "allocated_capacity_gb": .double(1000 - free), "provisioned_capacity_gb": .double(1000 - free),
                    "reserved_percentage": 0, "max_over_subscription_ratio": "20.0", "thin_provisioning_support": true,
                    "thick_provisioning_support": false, "total_volumes": 10, "QoS_support": false, "multiattach": true,
                    "backend_state": "up", "location_info": .string("LVMVolumeDriver:node\(i):cinder-volumes:thin:0"),
                ]
            ],
        ]
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func ms(_ d: Duration) -> Double { seconds(d) * 1000 }
}
