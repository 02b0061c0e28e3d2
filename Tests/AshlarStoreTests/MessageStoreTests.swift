import AshlarCore
import Foundation
import Testing

@testable import AshlarStore

@Suite("MessageStore", .timeLimit(.minutes(1)))
struct MessageStoreTests {
    private func message(
        project: String = "p1", resource: String? = "vol-1", at offset: Double = 0, expiresIn: Double = 3600
    ) -> UserMessage {
        let created = baseTime.addingTimeInterval(offset)
        return UserMessage(
            projectID: project, requestID: "req-\(offset)", resourceType: "VOLUME", resourceUUID: resource,
            eventID: "VOLUME_VOLUME_001_003", userMessage: "schedule allocate volume: no valid backend \(offset)",
            createdAt: created, expiresAt: created.addingTimeInterval(expiresIn))
    }

    @Test("insert then get returns every field")
    func roundTrip() async throws {
        try await withMemoryDatabase { db in
            let store = MessageStore(db: db)
            let m = message(at: 5)
            try await store.insert(m)
            let got = try #require(try await store.get(m.id))
            #expect(got.id == m.id)
            #expect(got.projectID == "p1")
            #expect(got.requestID == "req-5.0")
            #expect(got.resourceType == "VOLUME")
            #expect(got.resourceUUID == "vol-1")
            #expect(got.eventID == "VOLUME_VOLUME_001_003")
            #expect(got.level == "ERROR")
            #expect(got.userMessage == m.userMessage)
            #expect(closeEnough(got.createdAt, m.createdAt))
            #expect(closeEnough(got.expiresAt, m.expiresAt))
            #expect(try await store.get("missing") == nil)

            let bare = UserMessage(
                projectID: "p1", requestID: nil, resourceType: nil, resourceUUID: nil, eventID: "E", userMessage: "u")
            try await store.insert(bare)
            let b = try #require(try await store.get(bare.id))
            #expect(b.requestID == nil && b.resourceType == nil && b.resourceUUID == nil)
            // The default lifetime is 30 days.
            #expect(abs((b.expiresAt ?? .distantPast).timeIntervalSince(b.createdAt) - 2_592_000) < 0.001)
        }
    }

    @Test("message_ttl sets when a stored message expires, unless the message says")
    func ttl() async throws {
        try await withMemoryDatabase { db in
            let store = MessageStore(db: db, ttl: 60)
            let bare = UserMessage(
                projectID: "p1", requestID: nil, resourceType: nil, resourceUUID: nil, eventID: "E", userMessage: "u")
            try await store.insert(bare)
            let got = try #require(try await store.get(bare.id))
            #expect(abs((got.expiresAt ?? .distantPast).timeIntervalSince(got.createdAt) - 60) < 0.001)
            let dated = message(project: "p1", resource: "vol-1", at: 1)
            try await store.insert(dated)
            #expect(closeEnough(try await store.get(dated.id)?.expiresAt, dated.expiresAt))
        }
    }

    @Test("list filters by project and resource, newest first")
    func list() async throws {
        try await withMemoryDatabase { db in
            let store = MessageStore(db: db)
            let a = message(project: "p1", resource: "vol-1", at: 1)
            let b = message(project: "p1", resource: "vol-2", at: 3)
            let c = message(project: "p1", resource: "vol-1", at: 2)
            let d = message(project: "p2", resource: "vol-1", at: 4)
            for m in [a, b, c, d] { try await store.insert(m) }
            #expect(try await store.list(projectID: "p1").map(\.id) == [b.id, c.id, a.id])
            #expect(try await store.list(projectID: "p1", resourceUUID: "vol-1").map(\.id) == [c.id, a.id])
            #expect(try await store.list(projectID: nil).map(\.id) == [d.id, b.id, c.id, a.id])
            #expect(try await store.list(projectID: nil, resourceUUID: "vol-1").map(\.id) == [d.id, c.id, a.id])
            #expect(try await store.list(projectID: "p3").isEmpty)
        }
    }

    @Test("delete removes one message")
    func delete() async throws {
        try await withMemoryDatabase { db in
            let store = MessageStore(db: db)
            let a = message(at: 1)
            let b = message(at: 2)
            try await store.insert(a)
            try await store.insert(b)
            try await store.delete(id: a.id)
            #expect(try await store.get(a.id) == nil)
            #expect(try await store.get(b.id) != nil)
            try await store.delete(id: a.id)  // deleting again is harmless
            #expect(try await store.list(projectID: nil).count == 1)
        }
    }

    @Test("reap removes only expired messages")
    func reap() async throws {
        try await withMemoryDatabase { db in
            let store = MessageStore(db: db)
            let expired = message(at: 0, expiresIn: 10)
            let alive = message(at: 0, expiresIn: 1000)
            try await store.insert(expired)
            try await store.insert(alive)
            try await store.reap(now: baseTime.addingTimeInterval(5))
            #expect(try await store.list(projectID: nil).count == 2)
            try await store.reap(now: baseTime.addingTimeInterval(11))
            #expect(try await store.get(expired.id) == nil)
            #expect(try await store.get(alive.id) != nil)
            // With the real clock everything from 2023 is long expired.
            try await store.reap()
            #expect(try await store.list(projectID: nil).isEmpty)
        }
    }
}
