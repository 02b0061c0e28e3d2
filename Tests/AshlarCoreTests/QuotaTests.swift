import AshlarCore
import Testing

@Suite("Quota resources, deltas and refusals")
struct QuotaTests {
    @Test func resourcesIncludeThreePerTypeOnesForEachType() {
        let all = QuotaResource.all(typeNames: ["fast", "slow_disk"])
        #expect(
            all == [
                "volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "per_volume_gigabytes", "groups",
                "volumes_fast", "gigabytes_fast", "snapshots_fast",
                "volumes_slow_disk", "gigabytes_slow_disk", "snapshots_slow_disk",
            ])
        #expect(QuotaResource.base(of: "gigabytes_slow_disk") == "gigabytes")
        #expect(QuotaResource.base(of: "volumes") == "volumes")
        #expect(QuotaResource.base(of: "backup_gigabytes") == nil)
        #expect(QuotaResource.base(of: "per_volume_gigabytes") == nil)
    }

    @Test func configuredLimitsUseCinderNames() {
        let limits = QuotaDefaults(volumes: 3, gigabytes: 40, perVolumeSizeLimit: 7).limits
        #expect(limits["volumes"] == 3)
        #expect(limits["gigabytes"] == 40)
        #expect(limits["snapshots"] == 10)
        #expect(limits["per_volume_gigabytes"] == 7)
        #expect(limits["backup_gigabytes"] == 1000)
        #expect(limits.count == QuotaResource.global.count)
    }

    @Test func changesAreGlobalThenPerTypeWithoutZeros() {
        let changes = QuotaDeltas.volume(size: 5, volumeTypeName: "fast").changes
        #expect(changes.map(\.resource) == ["volumes", "gigabytes", "volumes_fast", "gigabytes_fast"])
        #expect(changes.map(\.delta) == [1, 5, 1, 5])
        #expect(QuotaDeltas.extend(by: 3, volumeTypeName: nil).changes.map(\.resource) == ["gigabytes"])
        let snapshot = QuotaDeltas.snapshot(size: 4, volumeTypeName: "t", countsGigabytes: false)
        #expect(snapshot.changes.map(\.resource) == ["snapshots", "snapshots_t"])
        #expect(QuotaDeltas.snapshot(size: 4, volumeTypeName: nil).gigabytes == 4)
    }

    @Test func onlyGrowingLimitedChangesAreChecked() {
        let deltas = QuotaDeltas(volumes: -1, gigabytes: 5, snapshots: 1, volumeTypeName: "t")
        let limited = deltas.limitedChanges(["volumes": 0, "gigabytes": -1, "snapshots": 2, "gigabytes_t": 10])
        #expect(limited.map(\.resource) == ["snapshots", "gigabytes_t"])
        #expect(limited.map(\.limit) == [2, 10])
    }

    @Test func refusalAtTheBoundary() {
        let deltas = QuotaDeltas.volume(size: 10, volumeTypeName: nil)
        let limits = ["volumes": 3, "gigabytes": 30]
        #expect(deltas.refusal(limits: limits, usage: ["volumes": 2, "gigabytes": 20]) == nil)
        let error = deltas.refusal(limits: limits, usage: ["volumes": 2, "gigabytes": 21])
        #expect(error?.code == .overLimit)
        #expect(
            error?.message
                == "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 10G, quota is 30G and 21G has been consumed."
        )
    }

    @Test func refusalReportsVolumesBeforeGigabytesBeforePerType() {
        let deltas = QuotaDeltas.volume(size: 10, volumeTypeName: "fast")
        let limits = ["volumes": 1, "gigabytes": 5, "volumes_fast": 0]
        let full = ["volumes": 1, "gigabytes": 1, "volumes_fast": 0]
        #expect(
            deltas.refusal(limits: limits, usage: full)?.message
                == "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'.")
        let typeOnly = deltas.refusal(limits: ["volumes_fast": 2], usage: ["volumes_fast": 2])
        #expect(
            typeOnly?.message
                == "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota 'volumes_fast'.")
    }

    @Test func messagesForEachResource() {
        #expect(
            AshlarError.quotaExceeded(resource: "snapshots_t", limit: 4, inUse: 4, requested: 1).message
                == "SnapshotLimitExceeded: Maximum number of snapshots allowed (4) exceeded")
        let perType = AshlarError.quotaExceeded(resource: "gigabytes_gold", limit: 50, inUse: 45, requested: 8)
        #expect(
            perType.message
                == "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes_gold quota. Requested 8G, quota is 50G and 45G has been consumed."
        )
        #expect(perType.code == .overLimit)
        #expect(
            AshlarError.volumeSizeExceedsLimit(size: 12, limit: 10).message
                == "VolumeSizeExceedsLimit: Requested volume size 12G is larger than maximum allowed limit 10G.")
    }

    @Test func sizeRefusalOnlyAboveALimit() {
        #expect(QuotaResource.sizeRefusal(size: 100, limits: ["per_volume_gigabytes": -1]) == nil)
        #expect(QuotaResource.sizeRefusal(size: 10, limits: ["per_volume_gigabytes": 10]) == nil)
        #expect(QuotaResource.sizeRefusal(size: 11, limits: ["per_volume_gigabytes": 10])?.code == .overLimit)
        #expect(QuotaResource.sizeRefusal(size: 11, limits: [:]) == nil)
    }
}
