import CareDomain
import CareStore
import CareWire
import Foundation
import Hummingbird

/// GET /v1/resolve: the caller's records whose id starts with a few characters, so people (and
/// the CLI's tables, which show 8) can name a task, handoff, trial, referral, note, score or
/// snapshot without its 36-character id. Patients are found by `GET /v1/patients?search=`.
struct ResolveController: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("resolve", use: resolve)
    }

    /// GET /v1/resolve?kind=task&prefix=3f2b8c1e
    @Sendable func resolve(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        guard let kinds = try query.enumeration("kind", ResolvableKind.self), kinds.count == 1 else {
            throw Problem.badRequest("'kind' is required: one of \(ResolvableKind.names)")
        }
        guard let text = try query.string("prefix", maxLength: 36) else {
            throw Problem.badRequest("'prefix' is required: the first 4 or more characters of an id")
        }
        guard let prefix = IDPrefix(text) else {
            throw Problem.badRequest("'prefix' must be 4 to 32 hex digits of an id, such as 3f2b8c1e")
        }
        let found = try await context.acting("id.resolve", request) { caller in
            try await store.resolve(kinds[0], prefix: prefix, by: caller)
        }
        return try Wire.json(
            ListPage(
                items: found.map {
                    ResolvedRecord(
                        id: $0.id.lower, kind: $0.kind.rawValue, patientId: $0.patientID?.lower, label: $0.label)
                }, nextCursor: nil))
    }
}
