import AshlarAPI
import AshlarCore
import AshlarStore
import Foundation
import Testing

@Suite("Recovery of work whose message was lost", .timeLimit(.minutes(2)))
struct RecoveryTests {
    @Test("a create accepted but never handed to the scheduler is placed and made after stale_operation_timeout")
    func unplacedCreateIsScheduled() async throws {
        try await withSystem(configure: { $0.staleOperationTimeout = 1 }) { api in
            let types = VolumeTypeStore(db: api.system.database)
            let type = try #require(try await types.get(name: "__DEFAULT__"))
            // As if the API stopped between its insert and its cast to the scheduler.
            let orphan = Volume(
                projectID: "admin", userID: "admin", size: 1, status: .creating, availabilityZone: "nova",
                volumeTypeID: type.id)
            try await api.system.environment.volumes.insert(orphan)
            let done = try await poll(timeout: .seconds(30)) {
                try await api.system.environment.volumes.get(orphan.id)?.status == .available
            }
            #expect(done)
            #expect(try await api.system.environment.volumes.get(orphan.id)?.host == TestSystem.backendHost + "#file-1")
            #expect(FileManager.default.fileExists(atPath: api.system.volumeFile(orphan.id)))
        }
    }

    @Test("an unplaced volume left deleting is removed")
    func unplacedDeleteIsFinished() async throws {
        try await withSystem(configure: { $0.staleOperationTimeout = 1 }) { api in
            let type = try #require(try await VolumeTypeStore(db: api.system.database).get(name: "__DEFAULT__"))
            let orphan = Volume(
                projectID: "admin", userID: "admin", size: 1, status: .deleting, availabilityZone: "nova",
                volumeTypeID: type.id)
            try await api.system.environment.volumes.insert(orphan)
            #expect(try await poll(timeout: .seconds(30)) { try await api.system.environment.volumes.get(orphan.id) == nil })
        }
    }
}
