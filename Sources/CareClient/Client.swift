import AsyncHTTPClient
import CoreFormats
import Foundation
import NIOCore
import NIOHTTP1

/// Why a call failed, in a form the CLI turns into one line and an exit code.
public enum CareClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an RFC 9457 problem (or another error status).
    case problem(status: Int, type: String, detail: String)
    /// The server could not be reached (connection refused, DNS, timeout).
    case unreachable(String)
    /// The answer was not what the API document says.
    case unexpected(String)

    public var description: String {
        switch self {
        case .problem(_, _, let detail): detail
        case .unreachable(let why): why
        case .unexpected(let why): why
        }
    }

    public var status: Int? {
        if case .problem(let status, _, _) = self { return status }
        return nil
    }
}

/// A typed client of care-server's HTTP API (docs/openapi.json), over AsyncHTTPClient.
/// Every POST and PUT carries an Idempotency-Key and is retried with the same key after a
/// network error, so a write that reached the server is applied once.
public final class CareClient: Sendable {
    public let server: URL
    let token: String?
    let http: HTTPClient
    let timeout: TimeAmount
    /// Attempts of a request that meets a network error (the first included).
    let attempts: Int

    public init(server: URL, token: String?, timeout: Duration = .seconds(30), attempts: Int = 3) {
        self.server = server
        self.token = token
        self.timeout = TimeAmount(timeout)
        self.attempts = max(1, attempts)
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3)))
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
    }

    /// Sends one request; `body` is JSON. Writes get an Idempotency-Key (the same on every retry).
    public func send(
        _ method: HTTPMethod, _ path: String, query: [String: String?] = [:], body: Data? = nil,
        headers extra: [String: String] = [:], timeout override: TimeAmount? = nil
    ) async throws -> Answer {
        var components = URLComponents(url: server.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        let items = query.compactMap { key, value in value.map { URLQueryItem(name: key, value: $0) } }.sorted {
            $0.name < $1.name
        }
        if !items.isEmpty { components.queryItems = items }
        guard let url = components.url?.absoluteString else {
            throw CareClientError.unexpected("cannot make a URL of \(path)")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "care/\(CareClient.version)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if method == .POST || method == .PUT {
            request.headers.add(name: "Idempotency-Key", value: UUID().uuidString.lowercased())
        }
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        var lastError: (any Error)?
        for attempt in 1...attempts {
            do {
                let response = try await http.execute(request, timeout: override ?? timeout)
                let bytes = try await response.body.collect(upTo: 64 << 20)
                var headers: [String: String] = [:]
                for header in response.headers { headers[header.name.lowercased()] = header.value }
                let answer = Answer(
                    status: Int(response.status.code), headers: headers, body: Data(bytes.readableBytesView))
                // Something answered that is not a care-server (a web server, a proxy's page):
                // care-server answers every refusal as JSON problem details.
                let type = answer.headers["content-type"] ?? ""
                guard (200..<300).contains(answer.status) || type.contains("json") || answer.body.isEmpty else {
                    throw CareClientError.unexpected(
                        "\(server.absoluteString) does not answer as a care-server (\(path) gave \(answer.status)"
                            + (type.isEmpty ? "" : " \(type.split(separator: ";")[0])")
                            + "); check the URL with care login --server URL")
                }
                guard (200..<300).contains(answer.status) else {
                    // The server is there but its database is not: wait as it asks (at most
                    // 10 s a time) and try again with the same Idempotency-Key.
                    if answer.status == 503, attempt < attempts {
                        try await Task.sleep(
                            for: .seconds(min(max(Int(answer.headers["retry-after"] ?? "") ?? 1, 0), 10)))
                        continue
                    }
                    throw Self.problem(answer)
                }
                return answer
            } catch let error as CareClientError {
                throw error
            } catch {
                lastError = error
                // A connection that could not be made was already retried by the HTTP client
                // until its connect timeout: the server is not there. Other network failures
                // (a connection lost mid-request) are retried with the same Idempotency-Key,
                // so a write that did reach the server is applied once.
                if Self.isConnectFailure(error) { break }
                if attempt < attempts { try await Task.sleep(for: .milliseconds(200 * (1 << (attempt - 1)))) }
            }
        }
        throw CareClientError.unreachable("cannot reach \(server.absoluteString): \(Self.describe(lastError))")
    }

    static func isConnectFailure(_ error: any Error) -> Bool {
        if let client = error as? HTTPClientError, client == .connectTimeout { return true }
        let text = "\(error)"
        return text.contains("connectionRefused") || text.contains("Connection refused")
            || text.contains("connectTimeout")
            || text.contains("NIOConnectionError")
    }

    static func describe(_ error: (any Error)?) -> String {
        guard let error else { return "no answer" }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            case .connectTimeout: return "the connection timed out"
            default: return "\(client)"
            }
        }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }

    static func problem(_ answer: Answer) -> CareClientError {
        struct Problem: Decodable {
            var type: String?
            var title: String?
            var detail: String?
            var accepted: [String]?
            /// A 409 for a duplicate: the path of the open record ("/v1/trials/<id>").
            var existing: String?
        }
        let decoded = try? JSONDecoder().decode(Problem.self, from: answer.body)
        let kind = decoded?.type.map { $0.components(separatedBy: "/").last ?? $0 } ?? "http-\(answer.status)"
        var detail = decoded?.detail ?? decoded?.title ?? "the server answered \(answer.status)"
        // What would be accepted instead (close matches of an unknown drug, the allowed values),
        // unless the detail says it already.
        if let accepted = decoded?.accepted, let first = accepted.first, accepted.count <= 12, !detail.contains(first) {
            let list = accepted.joined(separator: ", ")
            detail += accepted.count <= 3 ? " (did you mean \(list)?)" : " (accepted: \(list))"
        }
        // The open record a duplicate was refused for, by the short id the CLI takes
        // ("care trial dose 7478d612 ...").
        if let existing = decoded?.existing {
            let parts = existing.split(separator: "/")
            if parts.count >= 2, parts[parts.count - 2].hasSuffix("s") {
                detail += " (the open one: \(parts[parts.count - 2].dropLast()) \(parts[parts.count - 1].prefix(8)))"
            }
        }
        return .problem(status: answer.status, type: kind, detail: detail)
    }

    public static let version = "0.2.0"

    // MARK: JSON

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
                return date
            }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        return decoder
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.iso8601(date, fractionDigits: 3, rounding: .down))
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public func get<T: Decodable>(
        _ path: String, query: [String: String?] = [:], as type: T.Type = T.self, timeout: TimeAmount? = nil
    ) async throws -> T {
        try decode(try await send(.GET, path, query: query, timeout: timeout).body)
    }

    public func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) async throws -> T {
        try decode(try await send(.POST, path, body: try Self.encoder.encode(body)).body)
    }

    func decode<T: Decodable>(_ data: Data) throws -> T {
        do {
            return try Self.decoder.decode(T.self, from: data)
        } catch {
            let json = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil
            throw CareClientError.unexpected(
                json
                    ? "the server's answer was not understood: \(error)"
                    : """
                    \(server.absoluteString) does not answer as a care-server (its answer is not JSON); check the \
                    URL with care login --server URL
                    """
            )
        }
    }
}
