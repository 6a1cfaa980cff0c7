import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// HTTP from the tests to a running care-server, through AsyncHTTPClient. (URLSession on Linux
/// crashed the whole test process when a task was cancelled with its request in flight:
/// "Trying to access a behaviour for a task that in not in the registry".)
enum HTTP {
    struct Answer: Sendable {
        var status: Int
        var headers: Headers
        var data: Data
        var text: String { String(decoding: data, as: UTF8.self) }
        /// The body as a JSON object (empty when it is not one).
        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
    }

    /// An answer's header fields, looked up without regard to case.
    struct Headers: Sendable {
        var fields: HTTPHeaders
        subscript(_ name: String) -> String? { fields.first(name: name) }
    }

    /// One request; `timeout` bounds the whole exchange, the answer's body included.
    static func send(
        _ method: String, _ url: String, token: String? = nil, json: String? = nil, key: String? = nil,
        timeout: TimeAmount = .seconds(120)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        if let key { request.headers.add(name: "Idempotency-Key", value: key) }
        let deadline = NIODeadline.now() + timeout
        let response = try await HTTPClient.shared.execute(request, deadline: deadline)
        let body = try await response.body.collect(upTo: 64 << 20)
        return Answer(
            status: Int(response.status.code), headers: Headers(fields: response.headers),
            data: Data(body.readableBytesView))
    }
}
