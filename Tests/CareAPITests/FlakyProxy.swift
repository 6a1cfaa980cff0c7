import Foundation
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// A loopback HTTP proxy for one request per connection that loses answers: for the first
/// `dropAnswers` requests it forwards the request to the server and then closes the client's
/// connection without the answer (the write happened; the client saw a network error).
/// It records each request's Idempotency-Key.
///
/// With `unavailable`, the first requests are answered 503 with Retry-After: 1 instead, as
/// care-server answers while its database is down (not forwarded: nothing happened).
final class FlakyProxy: Sendable {
    let upstream: Int
    let dropAnswers: Int
    let unavailable: Int
    private let state = Mutex<(keys: [String], listener: Int32)>(([], -1))

    init(upstream: Int, dropAnswers: Int, unavailable: Int = 0) {
        self.upstream = upstream
        self.dropAnswers = dropAnswers
        self.unavailable = unavailable
    }

    var keys: [String] { state.withLock { $0.keys } }

    /// Listens on a free loopback port and serves on a thread of its own; returns the port.
    func start() throws -> Int {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw ProxyError("cannot listen") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        state.withLock { $0.listener = listener }
        let thread = Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                self.serve(client)
            }
        }
        thread.start()
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func stop() {
        let listener = state.withLock { $0.listener }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        guard let request = Self.readMessage(client) else { return }
        let text = String(decoding: request, as: UTF8.self)
        let key = text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("idempotency-key:") }
            .map { String($0.dropFirst("idempotency-key:".count)).trimmingCharacters(in: .whitespaces) }
        let number = state.withLock { state -> Int in
            state.keys.append(key ?? "")
            return state.keys.count
        }
        if number <= unavailable {
            let body =
                #"""
                {"detail":"the database is not reachable right now; try again shortly","status":503,"title":"Service \#
                unavailable","type":"https://carerelay.example/problems/service-unavailable"}
                """#
            let head =
                """
                HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: \
                1\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n
                """
            _ = Self.writeAll(client, Array((head + body).utf8))
            return
        }
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(server) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(upstream).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0, Self.writeAll(server, request) else { return }
        guard let answer = Self.readMessage(server) else { return }
        if number <= dropAnswers { return }  // the server did the work; the client never hears
        _ = Self.writeAll(client, answer)
    }

    /// One HTTP/1.1 message: the head, then Content-Length bytes of body.
    static func readMessage(_ socket: Int32) -> [UInt8]? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var expected: Int?
        while expected == nil || data.count < expected! {
            let count = read(socket, &buffer, buffer.count)
            if count <= 0 { return data.isEmpty ? nil : data }
            data += buffer[0..<count]
            if expected == nil, let end = data.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) {
                let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = end.upperBound + length
            }
        }
        return data
    }

    static func writeAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    struct ProxyError: Error { var message: String; init(_ message: String) { self.message = message } }
}
