import CareStore
import Foundation
import Hummingbird

/// GET /health (the process answers) and GET /ready (the database answers and its schema is
/// current): for load balancers and orchestrators.
struct HealthController: Sendable {
    let dependencies: CareAPIDependencies

    struct Health: ResponseEncodable {
        var status: String
    }

    struct Readiness: ResponseEncodable {
        var status: String
        var database: String
        var migrations: String
    }

    func addRoutes(to router: Router<CareRequestContext>) {
        router.get("/health") { _, _ in Health(status: "ok") }
        router.get("/ready") { _, _ in try await readiness() }
    }

    func readiness() async throws -> Response {
        var database = "ok"
        var migrations = "current"
        if dependencies.drain.isDraining {
            // Told to stop: still serving, but no new work should come here (DrainService).
            let body = Readiness(status: "draining", database: "not checked", migrations: "not checked")
            return Response(
                status: .serviceUnavailable,
                headers: [.contentType: "application/json", .retryAfter: APILimits.retryAfterSeconds],
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(body))))
        }
        do {
            let status = try await withTimeout(dependencies.readinessTimeout) {
                try await dependencies.store.schemaStatus(dependencies.migrator)
            }
            if !status.isCurrent {
                migrations =
                    "\(status.pending.count) pending: " + status.pending.map(\.fileName).joined(separator: ", ")
            }
        } catch let error as MigrationError {
            migrations = error.description
        } catch {
            database = "unreachable: \(error)"
            migrations = "unknown"
        }
        let ready = database == "ok" && migrations == "current"
        let body = Readiness(status: ready ? "ready" : "unavailable", database: database, migrations: migrations)
        let data = try JSONEncoder().encode(body)
        return Response(
            status: ready ? .ok : .serviceUnavailable,
            headers: ready
                ? [.contentType: "application/json"]
                : [.contentType: "application/json", .retryAfter: APILimits.retryAfterSeconds],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    var description: String { "timed out" }
}

/// Runs `body`, or throws `TimeoutError` when it takes longer than `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
