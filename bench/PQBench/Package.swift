// swift-tools-version:6.1
// The PQ-versus-PostgresNIO benchmark. A package of its own so that PostgresNIO is a
// dependency of the benchmark only, never of CareRelay's products.
import PackageDescription

let package = Package(
    name: "PQBench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "CareRelay", path: "../.."),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "pq-bench",
            dependencies: [
                .product(name: "PQ", package: "CareRelay"),
                .product(name: "LocalPostgres", package: "CareRelay"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
