import AshlarCore
import AshlarImages
import AshlarStore
import Foundation
import Logging
import Synchronization
import Testing

/// The built-in image store without HTTP: records, data files, hashes and the status rules of an upload.
@Suite("Local image store", .timeLimit(.minutes(1)))
struct LocalImageStoreTests {
    static let logger = Logger(label: "ashlar.images.tests", factory: { _ in SwiftLogNoOpLogHandler() })

    func withStore(_ body: (LocalImageStore, URL) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ashlar-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let database = try await AshlarDatabase.open(connection: "sqlite://", logger: Self.logger)
        let store = LocalImageStore(directory: dir.appendingPathComponent("images").path, database: database)
        try store.prepare()
        do {
            try await body(store, dir)
        } catch {
            await database.close()
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        await database.close()
        try? FileManager.default.removeItem(at: dir)
    }

    let owner = CallerContext(requestID: "r", userID: "u", projectID: "p1", isAdmin: false)
    let stranger = CallerContext(requestID: "r", userID: "v", projectID: "p2", isAdmin: false)

    @Test("upload: queued → active with size, MD5 and SHA-512; download verifies; a second upload is refused")
    func uploadAndDownload() async throws {
        try await withStore { store, dir in
            let source = dir.appendingPathComponent("src").path
            var data = Data(count: 300_000)
            data.replaceSubrange(0..<5, with: Data("hello".utf8))
            try data.write(to: URL(fileURLWithPath: source))
            let image = try await store.create(.init(name: "a", diskFormat: "raw", containerFormat: "bare"), context: owner)
            #expect(image.status == "queued")
            #expect(image.owner == "p1")
            let seen = Mutex<Int64>(0)
            try await store.upload(image.id, from: source, context: owner) { done, _ in seen.withLock { $0 = done } }
            #expect(seen.withLock { $0 } == 300_000)
            let active = try await store.show(image.id, context: owner)
            #expect(active.status == "active")
            #expect(active.size == 300_000)
            #expect(active.virtualSize == 300_000)
            var digest = ImageDigest()
            digest.update(data)
            #expect(active.checksum == digest.finalize().checksum)
            #expect(active.osHashValue == digest.finalize().sha512)
            await #expect(throws: AshlarError.self) { try await store.upload(image.id, from: source, context: owner, progress: nil) }

            let copy = dir.appendingPathComponent("copy").path
            try await store.download(image.id, to: copy, context: owner, progress: nil)
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == data)
            // Data that no longer matches its hash is refused and leaves nothing behind.
            try Data("tampered".utf8).write(to: URL(fileURLWithPath: store.dataPath(of: image.id)))
            await #expect(throws: AshlarError.self) {
                try await store.download(image.id, to: copy + "2", context: owner, progress: nil)
            }
            #expect(!FileManager.default.fileExists(atPath: copy + "2"))
        }
    }

    @Test("an upload that fails half-way leaves the image queued and no data file")
    func failedUpload() async throws {
        try await withStore { store, _ in
            let image = try await store.create(.init(name: "a", diskFormat: "raw", containerFormat: "bare"), context: owner)
            struct Cut: Error {}
            await #expect(throws: Cut.self) {
                _ = try await store.receive(image.id, context: owner) { sink in
                    try [UInt8](repeating: 7, count: 1000).withUnsafeBytes { try sink.write($0) }
                    throw Cut()
                }
            }
            #expect(try await store.show(image.id, context: owner).status == "queued")
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory).isEmpty)
        }
    }

    @Test("private images are another project's not-found; public ones are anyone's; delete removes the data")
    func visibilityAndDelete() async throws {
        try await withStore { store, dir in
            let hidden = try await store.create(
                .init(name: "h", diskFormat: "raw", containerFormat: "bare", visibility: "private"), context: owner)
            await #expect(throws: AshlarError.self) { _ = try await store.show(hidden.id, context: stranger) }
            let open = try await store.create(
                .init(name: "o", diskFormat: "raw", containerFormat: "bare", visibility: "public"), context: owner)
            #expect(try await store.show(open.id, context: stranger).id == open.id)
            let source = dir.appendingPathComponent("src").path
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: source))
            try await store.upload(open.id, from: source, context: owner, progress: nil)
            try await store.delete(open.id, context: owner)
            #expect(!FileManager.default.fileExists(atPath: store.dataPath(of: open.id)))
            try await store.delete(open.id, context: owner)  // gone already: not an error
        }
    }
}
