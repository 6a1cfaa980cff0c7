import CoreFormats
import CareStore
import CareWire
import Foundation
import Hummingbird

/// Bearer-token authentication for /v1. The token is looked up in the transaction of the
/// request's first store command, as its first statement (docs/architecture.md, "The path of a
/// write"): no visit to the database of its own. A request that ends without having looked it up
/// (no command, or refused by its own rules first) is looked up before it is answered, so nothing
/// but 401 problem+json ever reaches a caller without a valid token. Unknown, revoked and expired
/// tokens look the same.
///
/// Failures are counted per token and per client address (`AuthFailureLimiter`): past the
/// limit the answer is 429 with Retry-After, before the token is looked up.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = CareRequestContext
    let store: CareStore
    let limiter: AuthFailureLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let address = context.clientAddress
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send a token: Authorization: Bearer crt_...")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        let token = parts[1].drop(while: \.isWhitespace)
        let end = token.lastIndex(where: { !$0.isWhitespace }).map(token.index(after:)) ?? token.startIndex
        let presented = String(token[..<end])
        if let wait = limiter.retryAfter(token: presented, address: address) {
            throw Problem.tooManyAttempts(retryAfter: wait)
        }
        func rejected() -> Problem {
            limiter.recordFailure(token: presented, address: address)
            return Problem.unauthorized("the token is unknown, expired or revoked")
        }
        guard let credential = Credential(token: presented) else { throw rejected() }
        var context = context
        context.credential = credential
        let response: Response
        do {
            response = try await next(request, context)
        } catch is AuthenticationFailed {
            throw rejected()
        } catch {
            // What went wrong is told only to a caller whose token is good.
            guard try await store.authenticate(credential) != nil else { throw rejected() }
            throw error
        }
        guard try await store.authenticate(credential) != nil else { throw rejected() }
        return response
    }
}

/// GET /v1/me: who the token speaks for, and their teams and roles.
struct MeController: Sendable {
    let store: CareStore

    func addRoutes(to group: RouterGroup<CareRequestContext>) {
        group.get("me") { _, context in
            let principal = try await context.principal(store)
            let teams = try await store.memberships(of: principal.memberID)
            return try Wire.json(
                Me(
                    id: principal.memberID.lowercasedString, displayName: principal.displayName,
                    isServiceAccount: principal.isServiceAccount, scopes: principal.scopes.map(\.rawValue).sorted(),
                    teams: teams.map(Team.init)))
        }
    }
}
