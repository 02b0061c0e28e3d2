import AshlarCore
import Foundation
import Logging
import SQLKit
import Testing

@testable import AshlarStore
import _ConnectionPoolModule
@testable import PostgresNIO
import AshlarTestSupport

@Suite("AshlarDatabase and Bootstrap", .timeLimit(.minutes(1)))
struct DatabaseTests {
    private func schemaVersions(_ db: AshlarDatabase) async throws -> [Int] {
        try await db.read.raw("SELECT version FROM schema_version").all().map { try $0.decode(column: "version", as: Int.self) }
    }

    @Test("an in-memory database is migrated and usable")
    func inMemory() async throws {
        for url in ["sqlite://", "sqlite:///:memory:"] {
            let db = try await AshlarDatabase.open(connection: url, logger: quietLogger)
            #expect(try await schemaVersions(db) == [Migrations.steps.count])
            #expect(db.dialectName == "sqlite")
            try await VolumeStore(db: db).insert(makeVolume(id: "mem-1"))
            #expect(try await VolumeStore(db: db).get("mem-1") != nil)
            await db.close()
        }
    }

    @Test("in-memory databases are independent of each other")
    func inMemoryIndependent() async throws {
        let a = try await AshlarDatabase.open(connection: "sqlite://", logger: quietLogger)
        let b = try await AshlarDatabase.open(connection: "sqlite://", logger: quietLogger)
        try await VolumeStore(db: a).insert(makeVolume(id: "only-in-a"))
        let inB = try await VolumeStore(db: b).get("only-in-a")
        await a.close()
        await b.close()
        #expect(inB == nil)
    }

    @Test("a file database is created (with missing parents) at the absolute path after sqlite:///")
    func fileDatabaseCreated() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let file = dir.appendingPathComponent("nested/deeper/ashlar.sqlite").path
        #expect(file.hasPrefix("/"))
        let db = try await AshlarDatabase.open(connection: "sqlite:///" + file, logger: quietLogger)
        try await VolumeStore(db: db).insert(makeVolume(id: "file-1"))
        await db.close()
        #expect(FileManager.default.fileExists(atPath: file))
    }

    @Test("opening the same file twice keeps data and migrates once")
    func migrationsIdempotent() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let url = "sqlite:///" + dir.appendingPathComponent("ashlar.sqlite").path

        let first = try await AshlarDatabase.open(connection: url, logger: quietLogger)
        try await VolumeStore(db: first).insert(makeVolume(id: "kept", name: "kept"))
        try await VolumeTypeStore(db: first).insert(VolumeType(name: "gold"))
        // A second handle while the first is open.
        let second = try await AshlarDatabase.open(connection: url, logger: quietLogger)
        #expect(try await schemaVersions(second) == [Migrations.steps.count])
        #expect(try await VolumeStore(db: second).get("kept")?.name == "kept")
        await second.close()
        await first.close()

        // And again after both are closed.
        let third = try await AshlarDatabase.open(connection: url, logger: quietLogger)
        #expect(try await schemaVersions(third) == [Migrations.steps.count])
        #expect(try await VolumeStore(db: third).get("kept")?.name == "kept")
        #expect(try await VolumeTypeStore(db: third).get(name: "gold") != nil)
        await third.close()
    }

    @Test("running the migrations again on a migrated database changes nothing")
    func migrationsRunTwice() async throws {
        try await withMemoryDatabase { db in
            try await VolumeStore(db: db).insert(makeVolume(id: "x"))
            try await Migrations.run(on: db.write, logger: quietLogger)
            try await Migrations.run(on: db.write, logger: quietLogger)
            #expect(try await schemaVersions(db) == [Migrations.steps.count])
            #expect(try await VolumeStore(db: db).get("x") != nil)
        }
    }

    @Test("file databases use WAL journaling")
    func walMode() async throws {
        try await withFileDatabase { db, _ in
            let mode = try await db.write.raw("PRAGMA journal_mode").first()?.decode(column: "journal_mode", as: String.self)
            #expect(mode?.lowercased() == "wal")
        }
    }

    @Test("unsupported connection URLs are invalid input")
    func unsupportedURL() async throws {
        for url in [
            "mysql+pymysql://x", "", "sqlite:/relative", "postgresql://localhost/ashlar", "postgresql://u@localhost",
            "postgresql://u@localhost/a?sslmode=sometimes",
        ] {
            let error = await ashlarError { _ = try await AshlarDatabase.open(connection: url, logger: quietLogger) }
            #expect(error?.code == .invalidInput, "\(url)")
        }
    }

    // MARK: - Bootstrap

    private func config(statePath: String) throws -> AshlarConfig {
        try AshlarConfig.make(files: [], overrides: .init(statePath: statePath))
    }

    @Test("ensureDefaultType creates __DEFAULT__ exactly once")
    func ensureDefaultTypeOnce() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let config = try config(statePath: dir.path)
        #expect(config.defaultVolumeType == VolumeType.defaultName)
        try await withMemoryDatabase { db in
            let types = VolumeTypeStore(db: db)
            try await Bootstrap.ensureDefaultType(config: config, database: db, logger: quietLogger)
            let created = try #require(try await types.get(name: "__DEFAULT__"))
            #expect(created.description == "Default Volume Type")
            #expect(created.isPublic)
            #expect(created.extraSpecs.isEmpty)
            try await Bootstrap.ensureDefaultType(config: config, database: db, logger: quietLogger)
            let all = try await types.list()
            #expect(all.map(\.name) == ["__DEFAULT__"])
            #expect(all.first?.id == created.id)
        }
    }

    @Test("concurrent bootstraps still leave one __DEFAULT__")
    func ensureDefaultTypeConcurrent() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let config = try config(statePath: dir.path)
        try await withFileDatabase { db, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<5 {
                    group.addTask { try await Bootstrap.ensureDefaultType(config: config, database: db, logger: quietLogger) }
                }
                try await group.waitForAll()
            }
            #expect(try await VolumeTypeStore(db: db).list().map(\.name) == ["__DEFAULT__"])
        }
    }

    @Test("ensureDefaultType warns when default_volume_type names a missing type")
    func ensureDefaultTypeWarns() async throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        var config = try config(statePath: dir.path)
        try await withMemoryDatabase { db in
            let box = CapturingLogHandler.Box()
            let logger = Logger(label: "capture", factory: { _ in CapturingLogHandler(box: box) })
            try await Bootstrap.ensureDefaultType(config: config, database: db, logger: logger)
            #expect(!box.all.contains { $0.0 == .warning }, "the default type exists: no warning")

            config.defaultVolumeType = "gold"
            try await Bootstrap.ensureDefaultType(config: config, database: db, logger: logger)
            #expect(box.all.contains { $0.0 == .warning && $0.1.contains("gold") })

            let before = box.all.count
            try await VolumeTypeStore(db: db).insert(VolumeType(name: "gold"))
            try await Bootstrap.ensureDefaultType(config: config, database: db, logger: logger)
            #expect(!box.all.dropFirst(before).contains { $0.0 == .warning })
        }
    }

    @Test("a PostgreSQL server nobody answers on is .unavailable, naming where it was looked for and not the password")
    func unreachablePostgreSQL() async throws {
        let port = Loopback.freePort()
        let started = ContinuousClock.now
        let error = await ashlarError {
            _ = try await AshlarDatabase.open(
                connection: "postgresql+psycopg2://ashlar:s3cret@127.0.0.1:\(port)/cinder",
                options: .init(leaseTimeout: .seconds(1)), logger: quietLogger)
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        #expect(error?.message.contains("s3cret") == false)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test(
        "a login the server refuses (here: no such database) is said at once, in the server's words",
        .enabled(if: TestPostgres.isAvailable || TestPostgres.isRequired, "PostgreSQL is not installed"))
    func refusedLogin() async throws {
        let server = try await TestPostgres.shared()
        let started = ContinuousClock.now
        let error = await ashlarError {
            _ = try await AshlarDatabase.open(connection: server.url(database: "nosuchdb"), logger: quietLogger)
        }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("nosuchdb") == true && error?.message.contains("does not exist") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(10), "not after pool_timeout's 30 s")
    }

    @Test("a connection lost inside a write's transaction, or the pool refusing, is the database unavailable (503)")
    func connectionLossInsideATransaction() throws {
        // PostgresNIO wraps whatever fails inside `withTransaction`: the wrapper is opened to the failure.
        let lost = PostgresTransactionError(file: #file, line: #line, closureError: PSQLError(code: .serverClosedConnection))
        let mapped = try #require(PostgresPoolDatabase.map(lost) as? AshlarError)
        #expect(mapped.code == .unavailable)
        #expect(mapped.message == "The database is unreachable; try again later.")
        let atCommit = PostgresTransactionError(file: #file, line: #line, commitError: PSQLError(code: .uncleanShutdown))
        #expect((PostgresPoolDatabase.map(atCommit) as? AshlarError)?.code == .unavailable)
        let tripped = _ConnectionPoolModule.ConnectionPoolError.connectionCreationCircuitBreakerTripped
        #expect((PostgresPoolDatabase.map(tripped) as? AshlarError)?.code == .unavailable)
        // What is not about the connection stays itself, for the store to read (a constraint, a bug).
        let other = PostgresTransactionError(file: #file, line: #line, closureError: PSQLError(code: .tooManyParameters))
        #expect(PostgresPoolDatabase.map(other) is PSQLError)
        let refused = AshlarError(.invalidInput, "no")
        let inside = PostgresTransactionError(file: #file, line: #line, closureError: refused)
        #expect((PostgresPoolDatabase.map(inside) as? AshlarError)?.code == .invalidInput)
    }

    @Test("connection URLs in upstream's spellings")
    func connectionURLs() throws {
        let full = try DatabaseURL("postgresql+psycopg2://cinder:p%40ss@db.example:6432/cinder?sslmode=require")
        #expect(
            full
                == .postgresql(
                    .init(
                        host: "db.example", port: 6432, user: "cinder", password: "p@ss", database: "cinder",
                        sslMode: "require")))
        #expect(try DatabaseURL("postgres://u@h/d") == .postgresql(.init(host: "h", user: "u", database: "d")))
        #expect(try DatabaseURL("sqlite://") == .sqlite(path: nil))
        #expect(try DatabaseURL("sqlite:////var/lib/a.db") == .sqlite(path: "/var/lib/a.db"))
        #expect(DatabaseURL.redacted("postgresql://u:secret@h/d") == "postgresql://u:***@h/d")
    }
}
