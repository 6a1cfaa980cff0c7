// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "CareRelay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "care-server", targets: ["care-server"]),
        .executable(name: "care", targets: ["care"]),
        .library(name: "PQ", targets: ["PQ"]),
        .library(name: "LocalPostgres", targets: ["LocalPostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // libpq, through pkg-config; the only place C is seen.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Text formats the whole program shares: UUID text and generation, RFC 3339 and
        // PostgreSQL timestamps (one parser), JSON strings, hex (one decoder). Foundation only.
        .target(name: "CoreFormats"),
        // Our libpq wrapper: connections on their own executors, typed rows, a pool, LISTEN, pipelines.
        .target(
            name: "PQ",
            dependencies: [
                "CLibPQ", "CoreFormats",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Async functions run on their caller's executor unless they say otherwise: a
            // transaction that runs on its connection's executor stays there statement by statement.
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // The API's resources, defined once for care-server (encoding) and the CLI (decoding).
        .target(name: "CareWire", dependencies: ["CareDomain", "CoreFormats"]),
        // The care domain as values and rules: no I/O, no database, no HTTP.
        .target(name: "CareDomain", dependencies: ["CoreFormats"]),
        // A private PostgreSQL cluster (initdb + pg_ctl) for the embedded default and the tests.
        .target(
            name: "LocalPostgres",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // The care domain on PostgreSQL; for now the migrator and the embedded migrations.
        .target(
            name: "CareStore",
            dependencies: [
                "PQ", "CareDomain", "CoreFormats",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")],
            plugins: ["EmbedMigrations"]
        ),
        // The HTTP API.
        .target(
            name: "CareAPI",
            dependencies: [
                "CareStore", "CareWebhooks", "CoreFormats", "CareWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // Webhook delivery: the dispatcher, Standard Webhooks signatures, the destination check.
        .target(
            name: "CareWebhooks",
            dependencies: [
                "CareWire",
                "CareStore", "CoreFormats",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // care-server's commands: serve, migrate, admin.
        .target(
            name: "CareServer",
            dependencies: [
                "PQ", "CareStore", "CareAPI", "CareWebhooks", "LocalPostgres", "CoreFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // A typed client of the HTTP API (what the CLI talks through). Never links libpq.
        .target(
            name: "CareClient",
            dependencies: [
                "CareWire", "CareDomain", "CoreFormats",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The care CLI's commands. Never links libpq.
        .target(
            name: "CareCLI",
            dependencies: [
                "CareClient", "CareWire", "CareDomain", "CoreFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "care-server", dependencies: ["CareServer", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "care", dependencies: ["CareCLI"]),

        // Build tool: embeds sql/migrations/*.sql into CareStore so the binary carries its schema.
        .executableTarget(name: "embed-migrations"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["embed-migrations"]
        ),

        // Tests run against a real PostgreSQL that TestSupport starts once per test process.
        .target(
            name: "TestSupport",
            dependencies: [
                "PQ", "LocalPostgres", "CareStore", "CoreFormats", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "CareDomainTests", dependencies: ["CareDomain"]),
        .testTarget(name: "CoreFormatsTests", dependencies: ["CoreFormats"]),
        .testTarget(name: "PQTests", dependencies: ["PQ", "LocalPostgres", "TestSupport", "CoreFormats"]),
        .testTarget(name: "CareStoreTests", dependencies: ["CareStore", "PQ", "TestSupport", "CoreFormats"]),
        .testTarget(
            name: "CareAPITests",
            dependencies: [
                "CareAPI", "CareServer", "CareStore", "CareWebhooks", "PQ", "LocalPostgres", "TestSupport",
                "CoreFormats", "CareWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
