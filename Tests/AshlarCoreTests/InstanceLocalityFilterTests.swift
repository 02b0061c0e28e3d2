import Testing

@testable import AshlarCore

@Suite struct InstanceLocalityFilterTests {
    @Test func withoutTheHintEveryPoolPasses() {
        #expect(InstanceLocalityFilter().rejection(of: makePool(), for: makeSpec()) == nil)
    }

    @Test func aValidHintCannotBeHonouredAndSaysWhy() throws {
        let spec = makeSpec(hints: ["local_to_instance": "6a1f0d7e-5b0c-4b8e-9f4e-2f1f3c1d2e3a"])
        let reason = try #require(InstanceLocalityFilter().rejection(of: makePool(), for: spec))
        #expect(reason.contains("6a1f0d7e-5b0c-4b8e-9f4e-2f1f3c1d2e3a"))
        #expect(reason.contains("no compute service"))
    }

    @Test func anInvalidHintIsNamed() throws {
        let spec = makeSpec(hints: ["local_to_instance": "not-a-uuid"])
        let reason = try #require(InstanceLocalityFilter().rejection(of: makePool(), for: spec))
        #expect(reason.contains("not-a-uuid") && reason.contains("not an instance UUID"))
    }

    @Test func theSchedulerKnowsItsName() throws {
        let scheduler = try FilterScheduler.make(SchedulerOptions(
            defaultFilters: ["InstanceLocalityFilter"], defaultWeighers: [], capacityWeightMultiplier: 1))
        #expect(scheduler.filters.map(\.name) == ["InstanceLocalityFilter"])
    }
}
