import CoreFormats
import CareDomain
import CareStore
import CareWire
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// JSON as the API speaks it: snake_case fields, lower-case ids, RFC 3339 UTC timestamps,
/// dates as YYYY-MM-DD.
enum Wire {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// For types whose CodingKeys already are the API's snake_case (the weekly report): the
    /// key conversion is skipped, which is most of the cost of a large answer.
    static let plainEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseTimestamp(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription:
                        "expected an RFC 3339 timestamp (years 1900 to 2999) such as 2026-11-27T09:30:00Z, got \(text)")
            }
            return date
        }
        return decoder
    }()

    /// 2026-11-27T09:30:00.123Z (milliseconds, rounded down).
    static func timestamp(_ date: Date) -> String {
        Timestamp.iso8601(date, fractionDigits: 3, rounding: .down)
    }

    /// RFC 3339: 2026-11-27T09:30:00Z, with optional fractional seconds and any UTC offset, a
    /// year from 1900 to 2999 (the one timestamp parser: CoreFormats' `Timestamp`).
    static func parseTimestamp(_ text: String) -> Date? {
        guard text.utf8.count >= 4, let year = Int(text.prefix(4)), (1900...2999).contains(year) else { return nil }
        return Timestamp.parse(text, rfc3339: true)
    }

    /// The hand-written encoding of the busiest answers (the same document as the Codable one).
    static func json<T: JSONWritable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Response
    {
        answer(value, status: status, headers: headers).response
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Response
    {
        try answer(value, status: status, headers: headers).response
    }

    static func json(bytes: some Sequence<UInt8>, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
        answer(bytes: bytes, status: status, headers: headers).response
    }

    /// An answer as bytes (what a write keeps with its Idempotency-Key), from the same encodings.
    static func answer<T: JSONWritable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:])
        -> Answer
    {
        var writer = JSONWriter()
        value.write(to: &writer)
        return answer(bytes: writer.bytes, status: status, headers: headers)
    }

    static func answer<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Answer
    {
        answer(bytes: try encoder.encode(value), status: status, headers: headers)
    }

    static func answer(bytes: some Sequence<UInt8>, status: HTTPResponse.Status, headers: HTTPFields) -> Answer {
        var headers = headers
        headers[.contentType] = "application/json"
        return Answer(status: status, headers: headers, body: ByteBuffer(bytes: bytes))
    }
}

/// A rendered answer: what is sent, and what a write keeps to replay.
struct Answer: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer

    var response: Response { Response(status: status, headers: headers, body: .init(byteBuffer: body)) }

    /// As kept with an Idempotency-Key: an answer that holds a secret keeps a 409 saying so.
    var kept: StoredResponse {
        var names: [String: String] = [:]
        for name in [HTTPField.Name.location, .eTag] {
            if let value = headers[name] { names[name.canonicalName] = value }
        }
        if let secret = headers[.shownOnce] { return IdempotencyMiddleware.shownOnce(secret, headers: names) }
        return StoredResponse(
            status: status.code, contentType: headers[.contentType], headers: names, body: Data(buffer: body))
    }
}

extension UUID {
    var lower: String { lowercasedString }
}

/// Text as the OpenAPI document describes it: at most `max` characters (Unicode code points,
/// as JSON Schema counts), no NUL (PostgreSQL text cannot hold it), and, when `required`, not
/// blank (the document's pattern names the same whitespace as `blank`).
func checkText(_ value: String?, _ name: String, max: Int, required: Bool = false) throws {
    guard let value else { return }
    if value.unicodeScalars.count > max { throw Problem.badRequest("'\(name)' is longer than \(max) characters") }
    if value.unicodeScalars.contains("\u{0}") { throw Problem.badRequest("'\(name)' cannot contain NUL characters") }
    if required, value.unicodeScalars.allSatisfy(isBlank) { throw Problem.invalid("'\(name)' cannot be empty") }
}

/// The whitespace the API treats as blank (the same list as the document's text pattern).
func isBlank(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
    default: false
    }
}

/// A list page as every list answers it.
extension CareWire.Page: JSONWritable where Item: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { o in
            o.member("items") { $0.array(items) { $1.write(to: &$0) } }
            o.optional("next_cursor", nextCursor) { $0.string($1) }
        }
    }
}

extension Request {
    /// The JSON body as `T`, or a 400 problem that says which field is wrong and how.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: CareRequestContext) async throws -> T {
        var request = self
        let buffer = try await request.collectBodyLimited()
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("send a JSON body") }
        let data = Data(buffer: buffer)
        // Two values for one key would leave the meaning to the parser: refused.
        if let key = JSONKeys.firstDuplicate(in: buffer.readableBytesView) {
            throw Problem.badRequest("the body names '\(key)' twice in one object; send each field once")
        }
        do {
            return try Wire.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Problem.badRequest(Self.describe(error))
        } catch {
            throw Problem.badRequest("the body is not valid JSON")
        }
    }

    /// The body, refusing more than the API's limit with 413.
    mutating func collectBodyLimited() async throws -> ByteBuffer {
        do {
            return try await collectBody(upTo: APILimits.maximumBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem.tooLarge
        } catch is NIOTooManyBytesError {
            throw Problem.tooLarge
        }
    }
}

extension Problem {
    static var tooLarge: Problem {
        Problem(
            "payload-too-large", title: "Payload too large", status: .contentTooLarge,
            detail: "the body is larger than \(APILimits.maximumBodyBytes / 1024) KiB")
    }
}

extension Request {

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue.snakeCased }
            return names.isEmpty
                ? "the body" : "'" + names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[") + "'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "'\(key.stringValue.snakeCased)' is required\(parent)"
        case .typeMismatch(let type, let context):
            return "\(path(context)) must be \(Self.typeName(type))"
        case .dataCorrupted(let context) where context.debugDescription.contains("UUID"):
            return "\(path(context)) must be an id such as \(Self.exampleID)"
        case .valueNotFound(let type, let context):
            return "\(path(context)) must be \(Self.typeName(type)), not null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON" }
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "the body does not match the expected shape"
        }
    }

    static let exampleID = "3f2b8c1e-6d4a-4b9e-9c7f-2a5e1d0b7c44"

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is UUID.Type: "an id such as \(exampleID)"
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: type is any Collection.Type ? "an array" : "an object"
        }
    }
}

extension String {
    var snakeCased: String {
        var result = ""
        for character in self {
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
        return result
    }
}

enum APILimits {
    /// The largest request body accepted (notes are the longest bodies).
    static let maximumBodyBytes = 1024 * 1024
    static let maximumPageSize = 200
    static let maximumNoteCharacters = 50_000
    /// Tokens made through the API: their default life (CareStore.maximumRequestTokenDays caps it).
    static let defaultTokenDays: TimeInterval = 90
    /// What a 503 asks the caller to wait (Retry-After, seconds).
    static let retryAfterSeconds = "2"
}

/// Query parameters, validated: a wrong one is a 400 that names it.
struct QueryParameters {
    let parameters: Parameters

    init(_ request: Request) {
        parameters = request.uri.queryParameters
    }

    func string(_ name: String, maxLength: Int = 200) throws -> String? {
        guard let value = parameters[name[...]].map(String.init) else { return nil }
        guard value.unicodeScalars.count <= maxLength else {
            throw Problem.badRequest("'\(name)' is longer than \(maxLength) characters")
        }
        guard !value.contains("\u{0}") else { throw Problem.badRequest("'\(name)' cannot contain NUL characters") }
        return value
    }

    func int(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = try string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem.badRequest("'\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func limit(default value: Int = 50) throws -> Int {
        try int("limit", default: value, range: 1...APILimits.maximumPageSize)
    }

    /// A keyset list's cursor: the id of the last item of the previous page.
    func afterID() throws -> UUID? {
        guard let text = try string("cursor", maxLength: 64) else { return nil }
        guard let id = UUID(hyphenated: text) else {
            throw Problem.badRequest("'cursor' must be the next_cursor of the previous page")
        }
        return id
    }

    /// A numeric cursor (an event or audit id, or a position in the queue).
    func number(_ name: String = "cursor") throws -> Int64? {
        guard let text = try string(name, maxLength: 19) else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw Problem.badRequest("'\(name)' must be the next_cursor of the previous page")
        }
        return value
    }

    func uuid(_ name: String) throws -> UUID? {
        guard let text = try string(name) else { return nil }
        guard let id = UUID(hyphenated: text) else {
            throw Problem.badRequest("'\(name)' must be an id such as \(Request.exampleID)")
        }
        return id
    }

    func timestamp(_ name: String) throws -> Date? {
        guard let text = try string(name) else { return nil }
        guard let date = Wire.parseTimestamp(text) else {
            throw Problem.badRequest("'\(name)' must be an RFC 3339 timestamp such as 2026-11-27T09:30:00Z")
        }
        return date
    }

    func bool(_ name: String) throws -> Bool? {
        guard let text = try string(name) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw Problem.badRequest("'\(name)' must be true or false")
        }
    }

    func enumeration<T: RawRepresentable>(_ name: String, _ type: T.Type) throws -> [T]?
    where T.RawValue == String, T: CaseIterable {
        guard let text = try string(name, maxLength: 500) else { return nil }
        return try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let value = T(rawValue: String(part)) else {
                var problem = Problem.badRequest(
                    """
                    '\(name)' must be one or more (comma-separated) of: \
                    \(T.allCases.map(\.rawValue).joined(separator: ", "))
                    """
                )
                problem.field = name
                problem.accepted = T.allCases.map(\.rawValue)
                throw problem
            }
            return value
        }
    }
}

extension CareRequestContext {
    /// A path parameter that must be a UUID.
    func id(_ name: String = "id") throws -> UUID {
        guard let text = parameters.get(name), let id = UUID(hyphenated: text) else {
            throw Problem.badRequest("the \(name) in the path must be an id such as \(Request.exampleID)")
        }
        return id
    }

    /// Who the request's token speaks for, looked up now if no store command has yet (a visit of
    /// its own: routes whose first step is a store command leave it to that command).
    func principal(_ store: CareStore) async throws -> Principal {
        guard let credential else { throw Problem.unauthorized("send a token: Authorization: Bearer crt_...") }
        guard let principal = try await store.authenticate(credential) else { throw AuthenticationFailed() }
        return principal
    }

    /// This request's caller for a store command, audited as `action` (the store decides what
    /// it may do: the API passes the caller, it does not judge).
    func caller(_ action: String, _ request: Request, patient: UUID? = nil) throws -> Caller {
        guard let credential else { throw Problem.unauthorized("send a token: Authorization: Bearer crt_...") }
        return .request(
            RequestActor(
                credential: credential, requestID: requestID, action: action, resource: request.uri.path,
                patientID: patient, idempotency: idempotency))
    }

    /// Runs a write for this request's caller and answers with `render` of its result. With an
    /// Idempotency-Key the answer is made inside the command's transaction and kept with the key
    /// there, so a write that committed always has its answer to replay, whatever dies after
    /// COMMIT (the server, the connection, the client).
    func respond<T: Sendable>(
        _ action: String, _ request: Request, patient: UUID? = nil, _ body: (Caller) async throws -> T,
        render: @escaping @Sendable (T) throws -> Answer
    ) async throws -> Response {
        let caller = try caller(action, request, patient: patient)
        idempotency?.keepAnswer { value in
            guard let value = value as? T else { return nil }
            return try render(value).kept
        }
        return try render(try await body(caller)).response
    }

    /// Runs `body` with this request's caller, audited as `action`.
    func acting<T>(_ action: String, _ request: Request, patient: UUID? = nil, _ body: (Caller) async throws -> T)
        async throws -> T
    {
        try await body(try caller(action, request, patient: patient))
    }
}

/// Finds an object key that appears twice in the same JSON object. Malformed JSON is left to
/// the decoder (this answers nil for it).
enum JSONKeys {
    static func firstDuplicate(in bytes: some Collection<UInt8>) -> String? {
        let bytes = Array(bytes)
        // One entry per open container: the keys seen, for an object; nil for an array.
        var stack: [Set<String>?] = []
        var expectingKey = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                stack.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                stack.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = stack.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                var escaped = false
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") || escaped {
                    escaped = !escaped && bytes[index] == UInt8(ascii: "\\")
                    index += 1
                }
                guard index < bytes.count else { return nil }
                if expectingKey, var keys = stack.last ?? nil {
                    let raw = Array(bytes[start...index])
                    let key =
                        raw.contains(UInt8(ascii: "\\"))
                        ? (try? JSONDecoder().decode(String.self, from: Data(raw)))
                            ?? String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                        : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    if keys.contains(key) { return key }
                    keys.insert(key)
                    stack[stack.count - 1] = keys
                    expectingKey = false
                }
            default:
                break
            }
            index += 1
        }
        return nil
    }
}
