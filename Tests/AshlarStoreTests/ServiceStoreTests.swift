import AshlarCore
import Foundation
import Testing

@testable import AshlarStore

@Suite("ServiceStore", .timeLimit(.minutes(1)))
struct ServiceStoreTests {
    @Test("register creates an enabled row with no reports")
    func registerCreates() async throws {
        try await withMemoryDatabase { db in
            let store = ServiceStore(db: db)
            let before = Date().timeIntervalSince1970
            try await store.register(host: "node@lvm", binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "az1")
            let s = try #require(try await store.get(host: "node@lvm", binary: "cinder-volume"))
            #expect(s.host == "node@lvm")
            #expect(s.binary == "cinder-volume")
            #expect(s.topic == "cinder-volume")
            #expect(s.availabilityZone == "az1")
            #expect(s.disabled == false)
            #expect(s.disabledReason == nil)
            #expect(s.frozen == false)
            #expect(s.reportCount == 0)
            #expect(s.backendState == nil)
            #expect(s.createdAt.timeIntervalSince1970 >= before - 1)
            #expect(s.updatedAt != nil)
            #expect(s.isUp(downTime: 60))
            #expect(try await store.get(host: "node@lvm", binary: "cinder-scheduler") == nil)
        }
    }

    @Test("registering again refreshes topic and zone but keeps the disabled flag")
    func registerTwiceKeepsDisabled() async throws {
        try await withMemoryDatabase { db in
            let store = ServiceStore(db: db)
            try await store.register(host: "node@lvm", binary: "cinder-volume", topic: "t1", availabilityZone: "az1")
            let changed = try await store.setDisabled(host: "node@lvm", binary: "cinder-volume", disabled: true, reason: "maintenance")
            #expect(changed.count == 1)
            try await store.heartbeat(host: "node@lvm", binary: "cinder-volume")
            let first = try #require(try await store.get(host: "node@lvm", binary: "cinder-volume"))
            try await store.register(host: "node@lvm", binary: "cinder-volume", topic: "t2", availabilityZone: "az2")
            let s = try #require(try await store.get(host: "node@lvm", binary: "cinder-volume"))
            #expect(s.disabled)
            #expect(s.disabledReason == "maintenance")
            #expect(s.topic == "t2")
            #expect(s.availabilityZone == "az2")
            #expect(s.reportCount == first.reportCount)
            #expect(closeEnough(s.createdAt, first.createdAt))
            #expect(try await store.list().count == 1)
        }
    }

    @Test("heartbeat increments the report count and moves updated_at forward")
    func heartbeat() async throws {
        try await withMemoryDatabase { db in
            let store = ServiceStore(db: db)
            try await store.register(host: "n@b", binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "nova")
            let start = try #require(try await store.get(host: "n@b", binary: "cinder-volume"))
            try await Task.sleep(for: .milliseconds(20))
            try await store.heartbeat(host: "n@b", binary: "cinder-volume", backendState: "up")
            let one = try #require(try await store.get(host: "n@b", binary: "cinder-volume"))
            #expect(one.reportCount == 1)
            #expect(one.backendState == "up")
            let t0 = try #require(start.updatedAt)
            let t1 = try #require(one.updatedAt)
            #expect(t1 > t0)
            try await Task.sleep(for: .milliseconds(20))
            try await store.heartbeat(host: "n@b", binary: "cinder-volume")
            let two = try #require(try await store.get(host: "n@b", binary: "cinder-volume"))
            #expect(two.reportCount == 2)
            #expect(two.backendState == "up", "a heartbeat without a state keeps the last one")
            #expect(try #require(two.updatedAt) > t1)
            try await store.heartbeat(host: "n@b", binary: "cinder-volume", backendState: "down")
            #expect(try await store.get(host: "n@b", binary: "cinder-volume")?.backendState == "down")
            // A heartbeat of an unregistered service changes nothing.
            try await store.heartbeat(host: "ghost@b", binary: "cinder-volume")
            #expect(try await store.get(host: "ghost@b", binary: "cinder-volume") == nil)
        }
    }

    @Test("setDisabled by node matches all of its backends, not other nodes")
    func setDisabledByNode() async throws {
        try await withMemoryDatabase { db in
            let store = ServiceStore(db: db)
            for host in ["node@a", "node@b", "node2@a", "xnode@a"] {
                try await store.register(host: host, binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "nova")
            }
            try await store.register(host: "node", binary: "cinder-scheduler", topic: "cinder-scheduler", availabilityZone: "nova")
            let changed = try await store.setDisabled(host: "node", binary: "cinder-volume", disabled: true, reason: "why")
            #expect(Set(changed.map(\.host)) == ["node@a", "node@b"])
            #expect(changed.allSatisfy { $0.disabled && $0.disabledReason == "why" })
            let all = try await store.list()
            #expect(Set(all.filter(\.disabled).map(\.host)) == ["node@a", "node@b"])
            #expect(try await store.get(host: "node", binary: "cinder-scheduler")?.disabled == false)

            // The exact backend host matches only itself; re-enabling clears the reason.
            let enabled = try await store.setDisabled(host: "node@a", binary: "cinder-volume", disabled: false, reason: nil)
            #expect(enabled.map(\.host) == ["node@a"])
            let a = try #require(try await store.get(host: "node@a", binary: "cinder-volume"))
            #expect(a.disabled == false)
            #expect(a.disabledReason == nil)
            #expect(try await store.get(host: "node@b", binary: "cinder-volume")?.disabled == true)

            // The scheduler row is found by its plain host.
            let sched = try await store.setDisabled(host: "node", binary: "cinder-scheduler", disabled: true, reason: nil)
            #expect(sched.map(\.host) == ["node"])
            // Nothing matches: empty result.
            #expect(try await store.setDisabled(host: "nobody", binary: "cinder-volume", disabled: true, reason: nil).isEmpty)
        }
    }

    @Test("setDisabled takes _ in a node name literally")
    func setDisabledUnderscore() async throws {
        try await withMemoryDatabase { db in
            let store = ServiceStore(db: db)
            try await store.register(host: "node_1@a", binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "nova")
            try await store.register(host: "nodeX1@a", binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "nova")
            let changed = try await store.setDisabled(host: "node_1", binary: "cinder-volume", disabled: true, reason: nil)
            #expect(changed.map(\.host).contains("node_1@a"))
            #expect(changed.map(\.host) == ["node_1@a"])
        }
    }

    @Test("list filters by host and binary, ordered by binary then host")
    func list() async throws {
        try await withMemoryDatabase { db in
            let store = ServiceStore(db: db)
            try await store.register(host: "n2@b", binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "nova")
            try await store.register(host: "n1@b", binary: "cinder-volume", topic: "cinder-volume", availabilityZone: "nova")
            try await store.register(host: "n1", binary: "cinder-scheduler", topic: "cinder-scheduler", availabilityZone: "nova")
            let all = try await store.list()
            #expect(all.map(\.binary) == ["cinder-scheduler", "cinder-volume", "cinder-volume"])
            #expect(all.map(\.host) == ["n1", "n1@b", "n2@b"])
            #expect(try await store.list(binary: "cinder-volume").map(\.host) == ["n1@b", "n2@b"])
            // A node matches its backends too, as upstream's host filter matches them.
            #expect(try await store.list(host: "n1").map(\.host) == ["n1", "n1@b"])
            #expect(try await store.list(host: "n1@b").map(\.host) == ["n1@b"])
            #expect(try await store.list(host: "n1@").isEmpty)
            #expect(try await store.list(host: "n1@b", binary: "cinder-volume").count == 1)
            #expect(try await store.list(host: "n1@b", binary: "cinder-scheduler").isEmpty)
        }
    }
}
