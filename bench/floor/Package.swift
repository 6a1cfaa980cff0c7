// swift-tools-version:6.1
// bench/floor: the CPU a request costs a Hummingbird server that does nothing, beside
// care-server's own GET /health, at the rate of the API's writes. A package of its own so that
// the bare server is never one of CareRelay's products.
import PackageDescription

let package = Package(
    name: "Floor",
    platforms: [.macOS(.v15)],
    dependencies: [
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
        )
    ],
    swiftLanguageModes: [.v6]
)
