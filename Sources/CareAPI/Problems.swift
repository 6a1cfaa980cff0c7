import CoreFormats
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// An RFC 9457 problem: every error the API returns has this shape and a stable `type`.
public struct Problem: Error, Sendable, Codable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var requestID: String?
    /// The request field at fault ("started_on"), when one is.
    public var field: String?
    /// What would be accepted instead: allowed values or statuses, a range, close matches.
    public var accepted: [String]?
    /// The path of the open record that conflicts (a second referral of the same kind).
    public var existing: String?
    /// Seconds to wait (a 429's Retry-After header); not part of the body.
    public var retryAfter: Int?

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, field, accepted, existing
        case requestID = "request_id"
    }

    public static let typeBase = "https://carerelay.example/problems/"

    public init(_ kind: String, title: String, status: HTTPResponse.Status, detail: String) {
        self.type = Self.typeBase + kind
        self.title = title
        self.status = status.code
        self.detail = detail
    }

    public static func unauthorized(_ detail: String) -> Problem {
        Problem("unauthorized", title: "Authentication required", status: .unauthorized, detail: detail)
    }

    public static func notFound(_ detail: String) -> Problem {
        Problem("not-found", title: "Not found", status: .notFound, detail: detail)
    }

    public static func badRequest(_ detail: String) -> Problem {
        Problem("bad-request", title: "Bad request", status: .badRequest, detail: detail)
    }

    public static func forbidden(_ detail: String) -> Problem {
        Problem("forbidden", title: "Forbidden", status: .forbidden, detail: detail)
    }

    /// Too many failed authentications from this token or address: come back after `retryAfter` s.
    public static func tooManyAttempts(retryAfter: Int) -> Problem {
        var problem = Problem(
            "too-many-attempts", title: "Too many attempts", status: .tooManyRequests,
            detail: "too many failed authentications from this token or address; try again in \(retryAfter) s")
        problem.retryAfter = retryAfter
        return problem
    }

    public static func invalid(_ detail: String) -> Problem {
        Problem("invalid-request", title: "Invalid request", status: .unprocessableContent, detail: detail)
    }

    /// The problem for any error; internal details stay in the log, never in the response.
    static func from(_ error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as StoreError:
            switch error {
            case .notFound(let what): return .notFound("\(what) not found")
            case .conflict(let why): return Problem("conflict", title: "Conflict", status: .conflict, detail: why)
            case .invalid(let why): return .invalid(why)
            case .forbidden(let why): return .forbidden(why)
            case .invalidValue(let value):
                var problem = Problem.invalid(value.message)
                problem.field = value.field
                problem.accepted = value.accepted.isEmpty ? nil : value.accepted
                return problem
            case .moveNotAllowed(let error):
                var problem = Problem(
                    "status-move-not-allowed", title: "Status move not allowed", status: .conflict,
                    detail: error.description)
                problem.field = "status"
                problem.accepted = error.allowed
                return problem
            case .alreadyOpen(let why, let existing):
                var problem = Problem("already-open", title: "Already open", status: .conflict, detail: why)
                problem.existing = existing
                return problem
            case .staleVersion:
                // Only an If-Match write meets one: its precondition failed.
                return Problem(
                    "precondition-failed", title: "Precondition failed", status: .preconditionFailed,
                    detail: error.description)
            case .tooMany(let why):
                return Problem("too-many", title: "Too many requests", status: .tooManyRequests, detail: why)
            }
        case let error as IdempotencyError:
            switch error {
            case .inFlight:
                return Problem(
                    "idempotency-key-in-use", title: "Request in progress", status: .conflict,
                    detail: "a request with this Idempotency-Key is still being processed; retry in a moment")
            case .mismatch:
                return Problem(
                    "idempotency-key-reused", title: "Idempotency-Key reused", status: .unprocessableContent,
                    detail: "this Idempotency-Key was used for a different request; use a new key for a new request")
            case .responseLost:
                return Problem(
                    "idempotency-response-lost", title: "Response lost", status: .conflict,
                    detail:
                        """
                        the first request with this Idempotency-Key was carried out, but its response was lost; look \
                        the result up instead of retrying
                        """
                )
            case .replay:
                return Problem(
                    "internal-error", title: "Internal error", status: .internalServerError,
                    detail: "a stored response could not be replayed")
            }
        case let error as HTTPError:
            let status = error.status
            return Problem(
                status == .notFound ? "not-found" : "http-\(status.code)", title: status.reasonPhrase, status: status,
                detail: error.body ?? status.reasonPhrase)
        case let error where DatabaseFailure(error) != nil:
            switch DatabaseFailure(error)! {
            case .unstorable(let why):
                // Values the database cannot hold (a NUL in text, say) that slipped past validation.
                return .badRequest("a value in the request cannot be stored: \(why)")
            case .unavailable:
                return Problem(
                    "service-unavailable", title: "Service unavailable", status: .serviceUnavailable,
                    detail: "the database is not reachable right now; try again shortly")
            }
        default:
            return Problem(
                "internal-error", title: "Internal error", status: .internalServerError,
                detail: "the server could not complete the request; it has been logged")
        }
    }
}

/// Gives every response a request id (the caller's X-Request-Id when it is sane) and the
/// protective headers, and turns every error into problem+json.
struct ProblemMiddleware: RouterMiddleware {
    static let protective: [(HTTPField.Name, String)] = [
        (.cacheControl, "no-store"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (.contentSecurityPolicy, "frame-ancestors 'none'"),
    ]

    typealias Context = CareRequestContext
    /// The routes, to tell "no such path" (404) from "not this method" (405).
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        // FHIR clients get FHIR's error resource (OperationOutcome) with the same status.
        let fhir = request.uri.path.hasPrefix("/fhir/")
        let incoming = request.headers[.requestID].flatMap {
            $0.count <= 128 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } ? $0 : nil
        }
        let requestID = incoming ?? UUID.random().lowercasedString
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = "\(requestID)"
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            var problem = Problem.from(error)
            let allowed = routes.methods(for: request.uri.path)
            if !allowed.isEmpty, !allowed.contains(request.method) {
                problem = Problem(
                    "method-not-allowed", title: "Method not allowed", status: .methodNotAllowed,
                    detail: "\(request.uri.path) answers \(allowed.map(\.rawValue).sorted().joined(separator: ", "))")
            }
            problem.requestID = requestID
            response = try fhir ? problem.operationOutcome() : problem.response()
            if !allowed.isEmpty { response.headers[.allow] = allowed.map(\.rawValue).sorted().joined(separator: ", ") }
        } catch {
            var problem = Problem.from(error)
            problem.requestID = requestID
            if problem.status >= 500 {
                context.logger.error(
                    "request failed",
                    metadata: ["error": "\(error)", "path": "\(request.uri.path)", "status": "\(problem.status)"])
            }
            response = try fhir ? problem.operationOutcome() : problem.response()
        }
        response.headers[.requestID] = requestID
        // Patient data is neither cached, sniffed, framed nor leaked through a Referer.
        for (name, value) in Self.protective where response.headers[name] == nil { response.headers[name] = value }
        return response
    }
}

extension Problem {
    func response() throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: .init(code: status), headers: headers(contentType: "application/problem+json"),
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(self))))
    }

    /// The headers of any rendering of the problem (problem+json, FHIR's OperationOutcome).
    func headers(contentType: String) -> HTTPFields {
        var headers: HTTPFields = [.contentType: contentType]
        if status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"carerelay\"" }
        // Every 503 says when to come back: the database is usually back within seconds.
        if status == 503 { headers[.retryAfter] = APILimits.retryAfterSeconds }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return headers
    }
}

extension HTTPField.Name {
    static let retryAfter = HTTPField.Name("Retry-After")!
    static let requestID = HTTPField.Name("X-Request-Id")!
}

/// The API's path templates and their methods, filled in once the router is built.
final class RouteTable: @unchecked Sendable {
    private let lock = NSLock()
    private var templates: [(segments: [Substring], methods: Set<HTTPRequest.Method>)] = []

    func load(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        var byPath: [String: Set<HTTPRequest.Method>] = [:]
        for route in routes { byPath[route.path, default: []].insert(route.method) }
        lock.withLock {
            templates = byPath.map { (path, methods) in (path.split(separator: "/"), methods) }
        }
    }

    /// The methods the path answers (empty when no route has this path).
    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let segments = path.split(separator: "/")
        return lock.withLock {
            templates.filter { template in
                template.segments.count == segments.count
                    && zip(template.segments, segments).allSatisfy {
                        $0.hasPrefix("{") || $0.hasPrefix(":") || $0 == $1
                    }
            }.reduce(into: Set<HTTPRequest.Method>()) { $0.formUnion($1.methods) }
        }
    }
}

extension String.StringInterpolation {
    /// Ids in every message are lower-case, as the API writes them (see CareStore's twin).
    mutating func appendInterpolation(_ id: UUID) {
        appendLiteral(id.lowercasedString)
    }
}
