// swift-tools-version:6.1
// bench/floor: what a request costs a server on this box that does the least it could.
// `bare-server`: Hummingbird with one route and no database, beside care-server's own GET /health
// (bench/floor/run). `thin-server`: Hummingbird and PQ sending a captured request's statements and
// answering the bytes care-server answered, the third side of bench/fhir. A package of its own so
// that neither is ever one of CareRelay's products.
import PackageDescription

let package = Package(
    name: "Floor",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "CareRelay", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "bare-server",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "thin-server",
            dependencies: [
                .product(name: "PQ", package: "CareRelay"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
