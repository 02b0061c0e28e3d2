// swift-tools-version:6.2
import PackageDescription

/// One set of compiler settings for every target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ashlar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ashlar", targets: ["ashlar"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // The domain: models, states, config, errors, scheduling. Foundation only.
        .target(
            name: "AshlarCore",
            swiftSettings: swiftSettings
        ),
        // Persistence over SQLKit: SQLite (embedded) and PostgreSQL (distributed).
        .target(
            name: "AshlarStore",
            dependencies: [
                "AshlarCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // Only to tell the pool's refusals (its circuit breaker) from other errors.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // RPC: the interface, the in-process transport, and RabbitMQ on oslo.messaging's wire.
        .target(
            name: "AshlarMessaging",
            dependencies: [
                "AshlarCore", "AshlarAMQP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The scheduler service.
        .target(
            name: "AshlarScheduler",
            dependencies: [
                "AshlarCore", "AshlarStore", "AshlarMessaging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The volume manager and its drivers.
        .target(
            name: "AshlarVolume",
            dependencies: [
                "AshlarCore", "AshlarStore", "AshlarMessaging", "AshlarImages",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Images: the store built into the all-in-one (records and files) and the hashes Glance keeps.
        .target(
            name: "AshlarImages",
            dependencies: ["AshlarCore", "AshlarStore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The Glance v2 client (`glance_api_servers`), on the stack's HTTP client.
        .target(
            name: "AshlarGlance",
            dependencies: [
                "AshlarCore", "AshlarImages",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Block Storage v3 HTTP API.
        .target(
            name: "AshlarAPI",
            dependencies: [
                "AshlarCore", "AshlarStore", "AshlarMessaging", "AshlarImages",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ashlar",
            dependencies: [
                "AshlarCore", "AshlarStore", "AshlarMessaging", "AshlarScheduler", "AshlarVolume", "AshlarAPI",
                "AshlarImages", "AshlarGlance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // The client commands' HTTP: NIO, already in the build, rather than FoundationNetworking, whose
                // libcurl chain every `ashlar serve` would map.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // `swift run -c release SchedulerBench`: scheduling decisions with many pools (see bench/README.md).
        .executableTarget(
            name: "SchedulerBench",
            dependencies: ["AshlarCore", "AshlarScheduler"],
            path: "bench/SchedulerBench",
            swiftSettings: swiftSettings
        ),
        // `bench/rpc`: RPC round trips and casts over one RabbitMQ, against oslo.messaging (see bench/README.md).
        .executableTarget(
            name: "RPCBench",
            dependencies: [
                "AshlarAMQP", "AshlarCore", "AshlarMessaging", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/RPCBench",
            swiftSettings: swiftSettings),
        // `swift run -c release CloneBench`: snapshots and clones of the file driver, reflink vs sparse copy
        // (see bench/README.md).
        .executableTarget(
            name: "CloneBench",
            dependencies: ["AshlarCore", "AshlarVolume"],
            path: "bench/CloneBench",
            swiftSettings: swiftSettings
        ),
        // The AMQP 0-9-1 client: codec, state machines, connection and channel, and the reconnecting session.
        .target(
            name: "AshlarAMQP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "AshlarCoreTests", dependencies: ["AshlarCore"], swiftSettings: swiftSettings),
        .testTarget(name: "AshlarSchedulerTests", dependencies: ["AshlarScheduler"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AshlarStoreTests",
            dependencies: [
                "AshlarStore", "AshlarTestSupport", .product(name: "Logging", package: "swift-log"),
                // To build PostgreSQL's own errors for the mapping to 503 (debug builds: @testable).
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AshlarMessagingTests",
            dependencies: ["AshlarMessaging", "AshlarTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        // What several test targets share: a tgtd of the test's own (debug builds only: it imports AshlarVolume
        // @testable).
        .target(
            name: "AshlarTestSupport",
            dependencies: [
                "AshlarCore", "AshlarStore", "AshlarVolume", "AshlarAMQP", .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/AshlarTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AshlarVolumeTests",
            dependencies: [
                "AshlarVolume", "AshlarImages", "AshlarScheduler", "AshlarTestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AshlarImagesTests",
            dependencies: ["AshlarImages", "AshlarStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AshlarAPITests",
            dependencies: [
                "AshlarAPI", "AshlarScheduler", "AshlarVolume", "AshlarImages",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AshlarAMQPTests",
            dependencies: [
                "AshlarAMQP", "AshlarTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Needs real parts: the built `ashlar` binary and the openstack/cinder clients.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "AshlarCore", "AshlarMessaging", "AshlarTestSupport", .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),
    ]
)
