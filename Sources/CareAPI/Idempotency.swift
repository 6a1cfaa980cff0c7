import CareStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Idempotency-Key on POST: the same key and body replay the first response; the same key with
/// another body is 422; the same key while the first request is still running is 409. The key
/// is claimed and written in the same transaction as the change it guards (see
/// CareStore.command), so a change and its key commit together; the response is kept with them
/// (or, for an answer not made in that transaction, right after), for at least 24 hours.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = CareRequestContext
    let store: CareStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.method == .post, let key = request.headers[.idempotencyKey] else {
            var response = try await next(request, context)
            response.headers[.shownOnce] = nil
            return response
        }
        guard (1...255).contains(key.count), key.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) else {
            throw Problem.badRequest("the Idempotency-Key must be 1 to 255 printable ASCII characters")
        }
        var request = request
        let body = try await request.collectBodyLimited()
        var hasher = SHA256()
        hasher.update(data: Data("POST \(request.uri.path)\n".utf8))
        hasher.update(data: Data(buffer: body))
        // Claimed by the request's first store command, in its transaction: a key already used
        // answers there with its first response (or 409/422), before the command does anything.
        let claim = IdempotencyClaim(key: key, requestHash: Data(hasher.finalize()))
        var context = context
        context.idempotency = claim
        var response: Response
        do {
            response = try await next(request, context)
        } catch IdempotencyError.replay(let stored) {
            return Self.replay(stored)
        }
        // An answer that holds a secret (a token, a webhook's signing secret) is shown once: the
        // marker never leaves the server, and what is kept for a replay is a 409 saying so.
        let secret = response.headers[.shownOnce]
        response.headers[.shownOnce] = nil
        // Kept already, with the change, in its own transaction (Context.respond).
        guard claim.isClaimed, claim.kept == nil else { return response }
        // Keep the response with the key; the body is collected and sent on as it was.
        let collector = CollectingWriter()
        try await response.body.write(collector)
        var kept: [String: String] = [:]
        for name in [HTTPField.Name.location, .eTag] {
            if let value = response.headers[name] { kept[name.canonicalName] = value }
        }
        let stored =
            secret.map { Self.shownOnce($0, headers: kept) }
            ?? StoredResponse(
                status: response.status.code, contentType: response.headers[.contentType], headers: kept,
                body: Data(buffer: collector.buffer))
        do {
            try await store.recordIdempotentResponse(
                claim, memberID: context.principal(store).memberID, response: stored)
        } catch {
            context.logger.error(
                "could not keep the response of an idempotent request", metadata: ["error": "\(error)"])
        }
        var copy = response
        copy.body = .init(byteBuffer: collector.buffer)
        return copy
    }

    /// What a replay of a request that minted a secret answers: the request was carried out
    /// (Location names the result), the secret is not kept.
    static func shownOnce(_ what: String, headers: [String: String]) -> StoredResponse {
        let problem = Problem(
            "secret-shown-once", title: "Secret shown once", status: .conflict,
            detail:
                "this request was carried out; its answer held a \(what), which is shown only once and not kept to "
                + "replay. Look the result up, or ask for a new \(what)")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return StoredResponse(
            status: 409, contentType: "application/problem+json", headers: headers,
            body: (try? encoder.encode(problem)) ?? Data())
    }

    static func replay(_ stored: StoredResponse) -> Response {
        var headers: HTTPFields = [.idempotentReplayed: "true"]
        if let type = stored.contentType { headers[.contentType] = type }
        for (name, value) in stored.headers { if let field = HTTPField.Name(name) { headers[field] = value } }
        return Response(
            status: .init(code: stored.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: stored.body)))
    }
}

/// Collects a response body (ours are small JSON documents) so it can be kept and sent on.
struct CollectingWriter: ResponseBodyWriter {
    final class Box: @unchecked Sendable { var buffer = ByteBuffer() }
    let box = Box()
    var buffer: ByteBuffer { box.buffer }

    mutating func write(_ buffer: ByteBuffer) async throws {
        var part = buffer
        box.buffer.writeBuffer(&part)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

extension HTTPField.Name {
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    public static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
    /// Set by a handler whose answer holds a secret; removed before the answer leaves.
    static let shownOnce = HTTPField.Name("CareRelay-Shown-Once")!
}
