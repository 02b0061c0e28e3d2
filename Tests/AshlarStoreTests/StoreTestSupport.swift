import AshlarCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import AshlarStore
import AshlarTestSupport

/// A logger that drops everything, so test output stays readable.
let quietLogger = Logger(label: "ashlar.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A fresh directory under the system temporary directory; removed by `removeTemporaryDirectory`.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ashlar-store-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func removeTemporaryDirectory(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// Runs `body` with a new in-memory database and closes it afterwards.
func withMemoryDatabase<T>(_ body: (AshlarDatabase) async throws -> T) async throws -> T {
    let db = try await AshlarDatabase.open(connection: "sqlite://", logger: quietLogger)
    do {
        let result = try await body(db)
        await db.close()
        return result
    } catch {
        await db.close()
        throw error
    }
}

/// Runs `body` with a new database file in a temporary directory; closes it and removes the directory afterwards.
func withFileDatabase<T>(_ body: (AshlarDatabase, URL) async throws -> T) async throws -> T {
    let dir = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(dir) }
    let file = dir.appendingPathComponent("ashlar.sqlite").path
    let db = try await AshlarDatabase.open(connection: "sqlite:///" + file, logger: quietLogger)
    do {
        let result = try await body(db, dir)
        await db.close()
        return result
    } catch {
        await db.close()
        throw error
    }
}

/// Which kind of database a parameterised test runs against.
enum DatabaseKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, file, postgresql
    var testDescription: String { rawValue }
}

/// Runs `body` with a new database of `kind`. PostgreSQL runs on the tests' own server (`TestPostgres`); where it is
/// not installed the PostgreSQL case is skipped with a note, except in CI, where it must run.
func withDatabase(_ kind: DatabaseKind, _ body: (AshlarDatabase) async throws -> Void) async throws {
    switch kind {
    case .memory: try await withMemoryDatabase(body)
    case .file: try await withFileDatabase { db, _ in try await body(db) }
    case .postgresql:
        guard TestPostgres.isAvailable || TestPostgres.isRequired else {
            print("note: PostgreSQL is not installed; the postgresql case is skipped (scripts/setup-test-env)")
            return
        }
        // These tests check what the statements do, not how fast: with every suite running at once a statement can
        // wait behind hundreds of others for one of the five connections, longer than pool_timeout's 30 s.
        let db = try await AshlarDatabase.open(
            connection: try await TestPostgres.newDatabase(), options: .init(leaseTimeout: .seconds(180)),
            logger: quietLogger)
        do {
            try await body(db)
            await db.close()
        } catch {
            await db.close()
            throw error
        }
    }
}

/// A fixed, microsecond-aligned base time so that tests do not depend on the clock.
let baseTime = Date(timeIntervalSince1970: 1_700_000_000.123456)

/// A volume with sensible defaults; `offset` seconds after `baseTime`.
func makeVolume(
    id: String = UUID().uuidString.lowercased(), project: String = "p1", name: String? = nil, size: Int = 1,
    status: VolumeStatus = .available, host: String? = nil, offset: Double = 0,
    metadata: [String: String] = [:], bootable: Bool = false, updatedAt: Date? = nil,
    attachStatus: AttachStatus = .detached, description: String? = nil
) -> Volume {
    Volume(
        id: id, projectID: project, userID: "u1", name: name, description: description, size: size, status: status,
        attachStatus: attachStatus, availabilityZone: "nova", volumeTypeID: "type-1", host: host,
        bootable: bootable, metadata: metadata, createdAt: baseTime.addingTimeInterval(offset), updatedAt: updatedAt)
}

/// Whether two dates are equal to within a microsecond.
func closeEnough(_ a: Date?, _ b: Date?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case (let a?, let b?): abs(a.timeIntervalSince1970 - b.timeIntervalSince1970) < 1e-6
    default: false
    }
}

/// The AshlarError `body` throws, or nil when it throws nothing (or something else).
func ashlarError(_ body: () async throws -> Void) async -> AshlarError? {
    do {
        try await body()
        return nil
    } catch let error as AshlarError {
        return error
    } catch {
        Issue.record("expected an AshlarError, got \(error)")
        return nil
    }
}

/// A log handler that keeps every message, for asserting on warnings.
struct CapturingLogHandler: LogHandler {
    final class Box: Sendable {
        let entries = Mutex<[(Logger.Level, String)]>([])
        var all: [(Logger.Level, String)] { entries.withLock { $0 } }
    }
    let box: Box
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        box.entries.withLock { $0.append((event.level, "\(event.message)")) }
    }
}
