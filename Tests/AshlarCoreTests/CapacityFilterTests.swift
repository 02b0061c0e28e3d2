import Foundation
import Testing

@testable import AshlarCore

/// One CapacityFilter case with the outcome upstream Cinder gives
/// (`capacity_filter.py` + `sched_utils.calculate_capacity_factors`; reference section C.2).
struct CapacityCase: Sendable, CustomTestStringConvertible {
    var label: String
    var total: Capacity
    var free: Capacity
    var provisioned: Double = 0
    var reserved: Double = 0
    var ratio: Double = 20
    var thinSupport = false
    var thickType = false
    var size: Int
    var passes: Bool

    var testDescription: String { label }

    var pool: PoolState {
        makePool(
            total: total, free: free, provisioned: provisioned, reserved: reserved, ratio: ratio, thin: thinSupport)
    }
    var spec: RequestSpec { makeSpec(size: size, thick: thickType) }
}

@Suite("CapacityFilter")
struct CapacityFilterTests {
    static let agreeing: [CapacityCase] = [
        // Backends that cannot report capacity are assumed to fit (the retry handles the rest).
        .init(label: "infinite free passes any size", total: .gb(100), free: .infinite, size: 100_000, passes: true),
        .init(label: "unknown free passes any size", total: .gb(100), free: .unknown, size: 100_000, passes: true),
        .init(
            label: "unknown free passes even with reserve", total: .unknown, free: .unknown, reserved: 50, size: 10,
            passes: true),
        .init(label: "infinite total, no reserve, passes", total: .infinite, free: .gb(10), size: 1000, passes: true),
        .init(label: "unknown total, no reserve, passes", total: .unknown, free: .gb(10), size: 1000, passes: true),
        .init(label: "unknown total with reserve fails", total: .unknown, free: .gb(10), reserved: 5, size: 1, passes: false),
        .init(label: "infinite total with reserve fails", total: .infinite, free: .gb(10), reserved: 5, size: 1, passes: false),
        .init(label: "total 0 fails", total: .gb(0), free: .gb(0), size: 1, passes: false),
        .init(label: "total 0 fails even with free space", total: .gb(0), free: .gb(50), size: 1, passes: false),
        .init(label: "negative total fails", total: .gb(-1), free: .gb(10), size: 1, passes: false),
        // Thick arithmetic on a consistent backend (free = total - provisioned).
        .init(label: "thick: exactly the free space", total: .gb(100), free: .gb(50), provisioned: 50, size: 50, passes: true),
        .init(label: "thick: one GiB too many", total: .gb(100), free: .gb(50), provisioned: 50, size: 51, passes: false),
        .init(label: "thick: empty pool, whole pool", total: .gb(100), free: .gb(100), size: 100, passes: true),
        // reserved = floor(107 * 10%) = 10 → 97 usable. Rounding would give 11 (96 usable); no reserve 107.
        .init(label: "reserve is floored: 97 of 107 fit", total: .gb(107), free: .gb(107), reserved: 10, size: 97, passes: true),
        .init(label: "reserve is floored: 98 of 107 do not", total: .gb(107), free: .gb(107), reserved: 10, size: 98, passes: false),
        .init(label: "100% reserved leaves nothing", total: .gb(100), free: .gb(100), reserved: 100, size: 1, passes: false),
        // Thin: total * ratio is what may be provisioned.
        .init(label: "thin: up to total x ratio", total: .gb(100), free: .gb(100), thinSupport: true, size: 2000, passes: true),
        .init(label: "thin: beyond total x ratio", total: .gb(100), free: .gb(100), thinSupport: true, size: 2001, passes: false),
        .init(
            label: "thin: provisioned counts (100 left)", total: .gb(100), free: .gb(100), provisioned: 1900,
            thinSupport: true, size: 100, passes: true),
        .init(
            label: "thin: provisioned counts (101 too many)", total: .gb(100), free: .gb(100), provisioned: 1900,
            thinSupport: true, size: 101, passes: false),
        .init(
            label: "thin: ratio 1 behaves like thick (fits)", total: .gb(100), free: .gb(100), ratio: 1, thinSupport: true,
            size: 100, passes: true),
        .init(
            label: "thin: ratio 1 behaves like thick (too big)", total: .gb(100), free: .gb(100), ratio: 1,
            thinSupport: true, size: 101, passes: false),
        .init(
            label: "thin: ratio below 1 is invalid", total: .gb(100), free: .gb(100), ratio: 0.5, thinSupport: true,
            size: 1, passes: false),
        .init(
            label: "thin: reserve applies before the ratio (180 fit)", total: .gb(100), free: .gb(100), reserved: 10,
            ratio: 2, thinSupport: true, size: 180, passes: true),
        .init(
            label: "thin: reserve applies before the ratio (181 do not)", total: .gb(100), free: .gb(100), reserved: 10,
            ratio: 2, thinSupport: true, size: 181, passes: false),
        // The over-subscription ratio is ignored without thin_provisioning_support.
        .init(
            label: "no thin support: ratio ignored (fits)", total: .gb(100), free: .gb(10), provisioned: 90,
            thinSupport: false, size: 10, passes: true),
        .init(
            label: "no thin support: ratio ignored (too big)", total: .gb(100), free: .gb(10), provisioned: 90,
            thinSupport: false, size: 11, passes: false),
        // provisioning:type=thick turns the thin arithmetic off on a thin pool.
        .init(
            label: "thin type on a thin pool over-subscribes", total: .gb(100), free: .gb(10), provisioned: 500,
            thinSupport: true, size: 20, passes: true),
        .init(
            label: "thick type on the same pool does not", total: .gb(100), free: .gb(10), provisioned: 500,
            thinSupport: true, thickType: true, size: 20, passes: false),
        .init(
            label: "thick type ignores an invalid ratio", total: .gb(100), free: .gb(100), ratio: 0.5, thinSupport: true,
            thickType: true, size: 10, passes: true),
    ]

    @Test("agrees with Cinder", arguments: agreeing)
    func matchesCinder(_ c: CapacityCase) {
        let reason = CapacityFilter().rejection(of: c.pool, for: c.spec)
        if c.passes {
            #expect(reason == nil)
        } else {
            #expect(reason != nil)
        }
    }

    /// Cases where upstream's `calculate_capacity_factors` (HEAD) and Ashlar's arithmetic disagree.
    ///
    /// Upstream: thick `virtual_free = min(free, total - reserved - provisioned)`; thin
    /// `virtual_free = (total - reserved) * ratio - provisioned`, the ratio check dividing by that total.
    /// Ashlar subtracts the reserve from the reported free space and multiplies *that* by the ratio.
    static let diverging: [CapacityCase] = [
        .init(
            label: "thick: reserve comes out of total, not free (min(50, 90) = 50 fits 45)", total: .gb(100),
            free: .gb(50), reserved: 10, size: 45, passes: true),
        .init(
            label: "thick: provisioned space counts (min(80, 50) = 50 does not fit 60)", total: .gb(100),
            free: .gb(80), provisioned: 50, size: 60, passes: false),
        .init(
            label: "thin: virtual free is total x ratio - provisioned (1940 fits 1500)", total: .gb(100),
            free: .gb(50), provisioned: 60, thinSupport: true, size: 1500, passes: true),
        .init(
            label: "thin: (100 - 10) x 2 - 50 = 130 does not fit 140", total: .gb(100), free: .gb(100),
            provisioned: 50, reserved: 10, ratio: 2, thinSupport: true, size: 140, passes: false),
    ]

    @Test("follows calculate_capacity_factors", arguments: diverging)
    func capacityFactors(_ c: CapacityCase) {
        let reason = CapacityFilter().rejection(of: c.pool, for: c.spec)
        if c.passes {
            #expect(reason == nil)
        } else {
            #expect(reason != nil)
        }
    }

    @Test func nameIsTheConfigName() {
        #expect(CapacityFilter().name == "CapacityFilter")
    }

    @Test func thickRejectionSaysWhatWasAskedAndWhatIsFree() throws {
        let reason = try #require(
            CapacityFilter().rejection(of: makePool(total: .gb(100), free: .gb(30)), for: makeSpec(size: 40)))
        #expect(reason.contains("40 GiB"))
        #expect(reason.contains("30 GiB free"))
    }

    @Test func thinRejectionMentionsTheRatio() throws {
        // total_available = 10 × 20 = 200; (195 + 10) / 200 ≤ 20, but the thin free space is 200 - 195 = 5 GiB.
        let pool = makePool(total: .gb(10), free: .gb(10), provisioned: 195, ratio: 20, thin: true)
        let reason = try #require(CapacityFilter().rejection(of: pool, for: makeSpec(size: 10)))
        #expect(reason.contains("10 GiB"))
        #expect(reason.contains("5 GiB free (thin"))
    }

    @Test func overSubscribedRejectionNamesTheRatio() throws {
        // total_available = 10 × 1.5 = 15; (20 + 5) / 15 = 1.67 > 1.5.
        let pool = makePool(total: .gb(10), free: .gb(10), provisioned: 20, ratio: 1.5, thin: true)
        let reason = try #require(CapacityFilter().rejection(of: pool, for: makeSpec(size: 5)))
        #expect(reason.contains("1.67"))
        #expect(reason.contains("1.50"))
    }

    @Test func unknownTotalWithReserveSaysWhy() throws {
        let pool = makePool(total: .unknown, free: .gb(10), reserved: 5)
        let reason = try #require(CapacityFilter().rejection(of: pool, for: makeSpec(size: 1)))
        #expect(reason.contains("unknown"))
    }

    @Test func invalidRatioIsNamed() throws {
        let pool = makePool(ratio: 0.5, thin: true)
        let reason = try #require(CapacityFilter().rejection(of: pool, for: makeSpec(size: 1)))
        #expect(reason.contains("max_over_subscription_ratio"))
    }

    @Test func onlyProvisioningTypeThickDisablesThin() {
        // A thin pool with almost no real free space: only the thin arithmetic lets 50 GiB in.
        let pool = makePool(total: .gb(100), free: .gb(5), thin: true)
        for value in ["thin", "Thick", "THICK", "", "thick "] {
            let spec = makeSpec(size: 50, extraSpecs: ["provisioning:type": value])
            #expect(CapacityFilter().rejection(of: pool, for: spec) == nil, "provisioning:type=\(value)")
        }
        #expect(CapacityFilter().rejection(of: pool, for: makeSpec(size: 50, thick: true)) != nil)
    }
}
