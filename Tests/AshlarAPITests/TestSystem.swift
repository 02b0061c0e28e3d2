import AshlarAPI
import AshlarCore
import AshlarImages
import AshlarMessaging
import AshlarScheduler
import AshlarStore
import AshlarVolume
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import NIOCore
import Prometheus
import Testing

/// A logger that drops everything, so test output stays readable.
let quietLogger = Logger(label: "ashlar.api.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// The registry the process-wide metrics system reports to. `MetricsSystem` can be bootstrapped once per
/// process, so the one test that reads `ashlar_http_requests_total` from `/metrics` uses this registry.
let bootstrappedMetricsRegistry: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}()

/// A whole Ashlar in one process, as `ashlar serve` wires it: an in-memory database, the in-process bus, a
/// scheduler and one file-backed volume service running in a background task, and the API application.
final class TestSystem: Sendable {
    /// The node name; the volume service is `node@file-1`.
    static let node = "testnode"
    static let backendName = "file-1"
    static var backendHost: String { "\(node)@\(backendName)" }
    static let secondBackendName = "file-2"

    let directory: URL
    let volumeDirectory: String
    let config: AshlarConfig
    let database: AshlarDatabase
    let transport: InProcessTransport
    let environment: APIEnvironment
    let registry: PrometheusCollectorRegistry
    /// The volume service's iSCSI target: exports kept in memory, calls recorded, failures on demand.
    let target: FakeISCSITarget
    /// The built-in image store, under the state folder as `ashlar serve` keeps it.
    let imageStore: LocalImageStore
    private let services: Task<Void, Never>

    private init(
        directory: URL, volumeDirectory: String, config: AshlarConfig, database: AshlarDatabase,
        transport: InProcessTransport, environment: APIEnvironment, registry: PrometheusCollectorRegistry,
        target: FakeISCSITarget, imageStore: LocalImageStore, services: Task<Void, Never>
    ) {
        self.imageStore = imageStore
        self.directory = directory
        self.volumeDirectory = volumeDirectory
        self.config = config
        self.database = database
        self.transport = transport
        self.environment = environment
        self.registry = registry
        self.target = target
        self.services = services
    }

    static func start(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        configure: (inout AshlarConfig) -> Void = { _ in },
        driver wrap: (FileDriver) -> any VolumeDriver = { $0 },
        secondBackend: Bool = false
    ) async throws -> TestSystem {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ashlar-api-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = try AshlarConfig.make(files: [], overrides: .init(statePath: directory.path))
        config.host = node
        config.reportInterval = 1
        config.scheduler.driverInitWaitTime = 5
        configure(&config)

        let database = try await AshlarDatabase.open(connection: "sqlite://", logger: quietLogger)
        try await Bootstrap.ensureDefaultType(config: config, database: database, logger: quietLogger)
        let transport = InProcessTransport(logger: quietLogger)
        let volumeDirectory = directory.appendingPathComponent("volumes").path
        let driver = wrap(FileDriver(directory: volumeDirectory, backendName: backendName))
        let target = FakeISCSITarget()
        let imageStore = LocalImageStore(directory: directory.appendingPathComponent("images").path, database: database)
        try imageStore.prepare()
        let manager = VolumeManager(
            host: backendHost, backendName: backendName, availabilityZone: config.storageAvailabilityZone,
            driver: driver, database: database, transport: transport, reportInterval: .seconds(1),
            logger: quietLogger, target: target, iscsi: ISCSIConfig(),
            staleAfter: .seconds(config.staleOperationTimeout), images: imageStore, imageOptions: config.images)
        // A second file backend on the same node, for moves between backends.
        let second = secondBackend
            ? VolumeManager(
                host: "\(node)@\(Self.secondBackendName)", backendName: Self.secondBackendName,
                availabilityZone: config.storageAvailabilityZone,
                driver: FileDriver(
                    directory: directory.appendingPathComponent(Self.secondBackendName).path,
                    backendName: Self.secondBackendName),
                database: database, transport: transport, reportInterval: .seconds(1), logger: quietLogger,
                staleAfter: .seconds(config.staleOperationTimeout))
            : nil
        let filterScheduler = try FilterScheduler.make(config.scheduler)
        let scheduler = SchedulerService(
            host: node, availabilityZone: config.storageAvailabilityZone, scheduler: filterScheduler,
            maxAttempts: config.scheduler.maxAttempts, initWaitTime: .seconds(config.scheduler.driverInitWaitTime),
            serviceDownTime: config.serviceDownTime, reportInterval: .seconds(1), database: database,
            transport: transport, logger: quietLogger, staleAfter: .seconds(config.staleOperationTimeout))
        let services = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await scheduler.run() }
                group.addTask { try? await manager.run() }
                if let second { group.addTask { try? await second.run() } }
            }
        }
        // Capability reports are fanned out and dropped while nobody listens, so the first one may be lost; wait
        // for the scheduler to hold one so that the first create never races it on a loaded machine.
        let deadline = ContinuousClock.now + .seconds(60)
        let reporters = secondBackend ? 2 : 1
        while await Set(scheduler.hostManager.allPools().map(\.backend)).count < reporters, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let environment = APIEnvironment(
            config: config, database: database, transport: transport, registry: registry, logger: quietLogger,
            images: imageStore, imageStore: imageStore)
        return TestSystem(
            directory: directory, volumeDirectory: volumeDirectory, config: config, database: database,
            transport: transport, environment: environment, registry: registry, target: target,
            imageStore: imageStore, services: services)
    }

    /// Stops the services, closes the database and removes the temporary directory.
    func stop() async {
        services.cancel()
        await services.value
        await database.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The file of a volume on the file backend.
    func volumeFile(_ id: String) -> String { "\(volumeDirectory)/volume-\(id)" }

    /// The file of a volume on the second backend (`secondBackend: true`).
    func secondVolumeFile(_ id: String) -> String {
        directory.appendingPathComponent(Self.secondBackendName).appendingPathComponent("volume-\(id)").path
    }
}

/// Runs `body` against a fresh system, driving the API through HummingbirdTesting's router framework (no
/// sockets), and always stops the system afterwards.
func withSystem<T: Sendable>(
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    configure: (inout AshlarConfig) -> Void = { _ in },
    driver: (FileDriver) -> any VolumeDriver = { $0 },
    secondBackend: Bool = false,
    _ body: @Sendable (API) async throws -> T
) async throws -> T {
    let system = try await TestSystem.start(
        registry: registry, configure: configure, driver: driver, secondBackend: secondBackend)
    do {
        let app = APIServer.application(
            environment: system.environment, host: "127.0.0.1", port: 0, logger: quietLogger)
        let result = try await app.test(.router) { client in
            try await body(API(client: client, system: system))
        }
        await system.stop()
        return result
    } catch {
        await system.stop()
        throw error
    }
}

// MARK: - Requests

/// A thin client over the test client: JSON bodies, the microversion header and the noauth token.
struct API: Sendable {
    let client: any TestClientProtocol
    let system: TestSystem

    @discardableResult
    func request(
        _ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil, raw: String? = nil,
        version: String? = nil, token: String? = nil, headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        if let version { headers[.openStackAPIVersion] = "volume \(version)" }
        if let token { headers[.authToken] = token }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(string: json.testSerialized)
            headers[.contentType] = "application/json"
        } else if let raw {
            body = ByteBuffer(string: raw)
            headers[.contentType] = "application/json"
        }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        return Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    @discardableResult
    func get(
        _ path: String, version: String? = nil, token: String? = nil, headers: HTTPFields = [:]
    )
        async throws -> Reply
    {
        try await request(.get, path, version: version, token: token, headers: headers)
    }

    @discardableResult
    func post(
        _ path: String, _ json: JSONValue? = nil, raw: String? = nil, version: String? = nil, token: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> Reply {
        try await request(.post, path, json: json, raw: raw, version: version, token: token, headers: headers)
    }

    @discardableResult
    func put(
        _ path: String, _ json: JSONValue? = nil, raw: String? = nil, version: String? = nil, token: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> Reply {
        try await request(.put, path, json: json, raw: raw, version: version, token: token, headers: headers)
    }

    @discardableResult
    func delete(_ path: String, version: String? = nil, token: String? = nil) async throws -> Reply {
        try await request(.delete, path, version: version, token: token)
    }

    // MARK: Volumes

    /// Creates a volume and checks the 202; returns its id.
    @discardableResult
    func createVolume(
        size: Int = 1, name: String? = nil, extra: [String: JSONValue] = [:], version: String? = nil,
        token: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        var fields: [String: JSONValue] = ["size": .int(Int64(size))]
        if let name { fields["name"] = .string(name) }
        fields.merge(extra) { _, new in new }
        let reply = try await post(
            "/v3/volumes", ["volume": .object(fields)], version: version, token: token)
        #expect(reply.status == .accepted, "create: \(reply.text)", sourceLocation: sourceLocation)
        return try #require(reply.json["volume"]["id"].string, sourceLocation: sourceLocation)
    }

    /// Creates a volume and waits until it is `available`.
    @discardableResult
    func createAvailableVolume(
        size: Int = 1, name: String? = nil, extra: [String: JSONValue] = [:], token: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let id = try await createVolume(
            size: size, name: name, extra: extra, token: token, sourceLocation: sourceLocation)
        try await waitForStatus(id, "available", token: token, sourceLocation: sourceLocation)
        return id
    }

    /// The volume's detail view (`GET /volumes/{id}`), or nil on 404.
    func volume(_ id: String, version: String? = nil, token: String? = nil) async throws -> JSON? {
        try await view("/v3/volumes/\(id)", "volume", version: version, token: token)
    }

    /// Polls until the volume has `status`; fails after `timeout`.
    func waitForStatus(
        _ id: String, _ status: String, token: String? = nil, timeout: Duration = .seconds(60),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        if let last = try await pollStatus("/v3/volumes/\(id)", "volume", status, token: token, timeout: timeout) {
            let messages = try await get("/v3/messages?all_tenants=1&resource_uuid=\(id)", version: "3.3")
                .json["messages"].array.compactMap { $0["user_message"].string }
            Issue.record(
                "volume \(id) did not become \(status) (last: \(last)); messages: \(messages)",
                sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }

    /// Polls until the volume is gone (404); fails after `timeout`.
    func waitForGone(
        _ id: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await waitUntilGone("/v3/volumes/\(id)", "volume \(id)", timeout: timeout, sourceLocation: sourceLocation)
    }

    // MARK: Any resource

    /// The view under `key` of `GET path`, or nil on 404.
    func view(_ path: String, _ key: String, version: String? = nil, token: String? = nil) async throws -> JSON? {
        let reply = try await get(path, version: version, token: token)
        if reply.status == .notFound { return nil }
        return reply.json[key]
    }

    /// Polls the `key` view of `path` until its status is `status`; nil when it got there, else the last status
    /// seen. `error` is final here: the wait for anything else stops there.
    func pollStatus(
        _ path: String, _ key: String, _ status: String, token: String?, timeout: Duration
    ) async throws -> String? {
        var last = "?"
        let reached = try await poll(timeout: timeout) {
            last = try await view(path, key, token: token)?["status"].string ?? "(gone)"
            return last == status || (last == "error" && status != "error")
        }
        return reached && last == status ? nil : last
    }

    /// Polls until `GET path` is 404; records that `what` was not deleted and throws after `timeout`.
    func waitUntilGone(
        _ path: String, _ what: String, timeout: Duration, sourceLocation: SourceLocation
    ) async throws {
        let gone = try await poll(timeout: timeout) { try await get(path).status == .notFound }
        if !gone {
            Issue.record("\(what) was not deleted", sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }

    /// Ids of the caller's volumes (`GET /volumes`), as a set.
    func volumeIDs(token: String? = nil, query: String = "") async throws -> Set<String> {
        let reply = try await get("/v3/volumes\(query)", token: token)
        return Set(reply.json["volumes"].array.compactMap { $0["id"].string })
    }

    /// Waits until both services have registered and heartbeated.
    func waitForServices(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ready = try await poll(timeout: .seconds(10)) {
            let services = try await get("/v3/os-services").json["services"].array
            let binaries = Set(services.filter { $0["state"].string == "up" }.compactMap { $0["binary"].string })
            return binaries.isSuperset(of: ["cinder-scheduler", "cinder-volume"])
        }
        if !ready {
            Issue.record("services did not come up", sourceLocation: sourceLocation)
            throw TestFailure.timeout
        }
    }
}

enum TestFailure: Error {
    case timeout
}

/// Calls `check` every 50 ms until it returns true or `timeout` passes; returns whether it did.
func poll(timeout: Duration = .seconds(30), _ check: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await check() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await check()
}

extension HTTPField.Name {
    static let openStackAPIVersion = HTTPField.Name("OpenStack-API-Version")!
    static let authToken = HTTPField.Name("X-Auth-Token")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let requestID = HTTPField.Name("x-openstack-request-id")!
}

// MARK: - Replies

/// A response: status, headers, body text and the body as JSON.
struct Reply: Sendable, CustomStringConvertible {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: JSON { JSON(try? JSONValue.parse(Data(text.utf8))) }

    var description: String { "\(status.code) \(text.prefix(500))" }

    func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }
}

/// Read access to a JSON document that never traps: a missing key or index gives an empty `JSON`.
struct JSON: Sendable, Equatable, CustomStringConvertible {
    let value: JSONValue?

    init(_ value: JSONValue?) { self.value = value }

    subscript(key: String) -> JSON {
        if case .object(let o)? = value { return JSON(o[key]) }
        return JSON(nil)
    }

    subscript(index: Int) -> JSON {
        if case .array(let a)? = value, a.indices.contains(index) { return JSON(a[index]) }
        return JSON(nil)
    }

    var exists: Bool { value != nil }
    var isNull: Bool { value == .null }

    var string: String? {
        if case .string(let s)? = value { return s }
        return nil
    }

    var int: Int? {
        if case .int(let i)? = value { return Int(i) }
        return nil
    }

    var bool: Bool? {
        if case .bool(let b)? = value { return b }
        return nil
    }

    var array: [JSON] {
        if case .array(let a)? = value { return a.map { JSON($0) } }
        return []
    }

    var object: [String: JSON]? {
        if case .object(let o)? = value { return o.mapValues { JSON($0) } }
        return nil
    }

    var keys: Set<String> { Set(object?.keys.map { $0 } ?? []) }

    var description: String { value?.testSerialized ?? "(missing)" }
}

extension JSONValue {
    /// Compact JSON text, for request bodies.
    var testSerialized: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

// MARK: - Fault assertions

/// Cinder's fault name for a status (`wsgi.Fault._fault_names`).
func faultName(for code: Int) -> String {
    switch code {
    case 400: "badRequest"
    case 401: "unauthorized"
    case 403: "forbidden"
    case 404: "itemNotFound"
    case 405: "badMethod"
    case 409: "conflictingRequest"
    case 413, 429: "overLimit"
    case 415: "badMediaType"
    case 501: "notImplemented"
    case 503: "serviceUnavailable"
    default: "computeFault"
    }
}

/// Checks that `reply` is exactly `{"<fault>": {"code": status, "message": "…"}}` with the given status, and
/// that the message contains `containing` (case-insensitively) when given.
func expectFault(
    _ reply: Reply, _ status: HTTPResponse.Status, _ containing: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(reply.status == status, "\(reply)", sourceLocation: sourceLocation)
    expectFaultBody(reply, containing, sourceLocation: sourceLocation)
}

/// Checks that the body is a Cinder fault matching the reply's own status.
func expectFaultBody(_ reply: Reply, _ containing: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let code = reply.status.code
    let name = faultName(for: code)
    let body = reply.json
    #expect(body.keys == [name], "fault body of \(code): \(reply.text)", sourceLocation: sourceLocation)
    #expect(body[name]["code"].int == code, "fault code: \(reply.text)", sourceLocation: sourceLocation)
    let message = body[name]["message"].string
    #expect(message?.isEmpty == false, "fault message: \(reply.text)", sourceLocation: sourceLocation)
    if let containing {
        #expect(
            message?.lowercased().contains(containing.lowercased()) == true,
            "fault message should contain '\(containing)': \(reply.text)", sourceLocation: sourceLocation)
    }
}

/// `req-` followed by a lowercase UUID.
func isRequestID(_ text: String?) -> Bool {
    guard let text, text.hasPrefix("req-") else { return false }
    let uuid = text.dropFirst(4)
    return UUID(uuidString: String(uuid)) != nil && uuid == uuid.lowercased()
}

/// A UUID that no volume has.
func randomID() -> String { UUID().uuidString.lowercased() }
