import Foundation
import PQ
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// A PostgreSQL wire-protocol proxy on a Unix socket that cuts a connection at an exact point of
/// the server's answer: armed with a command tag (say "COMMIT"), it forwards the server's
/// messages up to and including the next CommandComplete with that tag, then closes both sides
/// and drops whatever came after it (the ReadyForQuery the pipeline's sync was waiting for).
/// The server has done the command; the client sees its answer and then a dead connection.
/// That is the window between COMMIT's OK and the sync that a terminated backend or a dropped
/// network can open, hit every time instead of by chance.
///
/// It listens in a directory of its own under the upstream's port number, so a libpq conninfo
/// with `host=<directory>` reaches the real server through it. Client bytes are copied as they
/// come; server bytes are read message by message (type byte, then a 32-bit length).
public final class WireCutter: Sendable {
    public let directory: String
    private let port: Int
    private let upstreamPath: String
    private let state = Mutex<State>(State())

    private struct State {
        var armedTag: String?
        var skip = 0
        var cuts = 0
        var readyForQuery = 0
        var listener: Int32 = -1
        var open: Set<Int32> = []
    }

    /// A proxy in front of the cluster's socket `socketDirectory`/.s.PGSQL.`port`.
    public init(socketDirectory: String, port: Int) throws {
        self.port = port
        upstreamPath = socketDirectory + "/.s.PGSQL.\(port)"
        let base = FileManager.default.temporaryDirectory.path + "/pgcut-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        directory = base
        let listener = try Self.listen(at: base + "/.s.PGSQL.\(port)")
        state.withLock { $0.listener = listener }
        let thread = Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                serve(client)
            }
        }
        thread.start()
    }

    /// A proxy in front of the test cluster.
    public convenience init(_ database: TestDatabase) throws {
        try self.init(socketDirectory: database.cluster.socketDirectory, port: database.cluster.port)
    }

    /// `configuration` with its host replaced by this proxy's directory.
    public func configuration(database: String, user: String = "postgres") -> PQConfiguration {
        PQConfiguration("host='\(directory)' port=\(port) user=\(user) dbname='\(database)'")
    }

    /// A pool that reaches `pool`'s database through this proxy.
    public func pool(reaching pool: PQPool) async throws -> PQPool {
        let name = try await pool.query("SELECT current_database()")[0].decode(String.self, at: 0)
        return PQPool(
            configuration: configuration(database: name),
            options: .init(minimumConnections: 0, maximumConnections: 2, acquireTimeout: .seconds(10)),
            logger: testLogger())
    }

    /// The next CommandComplete tagged `tag` (on any connection), after `skipping` more of
    /// them, is the last thing its client hears.
    public func arm(cutAfter tag: String, skipping: Int = 0) {
        state.withLock {
            $0.armedTag = tag; $0.skip = skipping
        }
    }

    /// Forgets an armed cut that did not happen.
    public func disarm() {
        state.withLock { $0.armedTag = nil }
    }

    /// How many connections were cut so far.
    public var cuts: Int { state.withLock { $0.cuts } }

    /// How many ReadyForQuery messages the server has sent through the proxy so far, on every
    /// connection: one for each round trip a client waited for (a pipeline's sync, a statement
    /// prepared, a simple query), so the difference across a request is its round trips.
    public var readyForQuery: Int { state.withLock { $0.readyForQuery } }

    public func stop() {
        let sockets = state.withLock { state -> [Int32] in
            defer { state.open.removeAll(); state.listener = -1 }
            return [state.listener] + Array(state.open)
        }
        for socket in sockets where socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    // MARK: Plumbing

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: bytes + [0])
        }
        return address
    }

    private static func listen(at path: String) throws -> Int32 {
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, Glibc.listen(listener, 64) == 0 else {
            close(listener)
            throw WireCutterError("cannot listen at \(path): errno \(errno)")
        }
        return listener
    }

    private func connectUpstream() -> Int32? {
        let upstream = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.address(upstreamPath)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected != 0 { close(upstream); return nil }
        return upstream
    }

    private func serve(_ client: Int32) {
        guard let upstream = connectUpstream() else { close(client); return }
        state.withLock { $0.open.formUnion([client, upstream]) }
        Thread { [self] in copyClientBytes(from: client, to: upstream) }.start()
        Thread { [self] in forwardServerMessages(from: upstream, to: client) }.start()
    }

    private func cut(_ client: Int32, _ upstream: Int32) {
        let mine = state.withLock { state -> Bool in
            guard state.open.contains(client) else { return false }
            state.open.subtract([client, upstream])
            return true
        }
        guard mine else { return }
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(upstream, Int32(SHUT_RDWR))
        close(client)
        close(upstream)
    }

    private func copyClientBytes(from client: Int32, to upstream: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if count <= 0 || !Self.writeAll(upstream, buffer[0..<count]) { break }
        }
        cut(client, upstream)
    }

    private func forwardServerMessages(from upstream: Int32, to client: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(upstream, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            // Forward every complete message; stop after the armed CommandComplete.
            var offset = 0
            var cutHere = false
            while pending.count - offset >= 5 {
                let length =
                    Int(pending[offset + 1]) << 24 | Int(pending[offset + 2]) << 16
                    | Int(pending[offset + 3]) << 8 | Int(pending[offset + 4])
                guard pending.count - offset >= 1 + length else { break }
                let type = pending[offset]
                let end = offset + 1 + length
                if type == UInt8(ascii: "Z") { state.withLock { $0.readyForQuery += 1 } }
                if type == UInt8(ascii: "C") {
                    let tag = String(decoding: pending[(offset + 5)..<end].prefix { $0 != 0 }, as: UTF8.self)
                    cutHere = state.withLock { state in
                        guard let armed = state.armedTag, armed == tag else { return false }
                        if state.skip > 0 { state.skip -= 1; return false }
                        state.armedTag = nil
                        state.cuts += 1
                        return true
                    }
                }
                offset = end
                if cutHere { break }
            }
            if offset > 0 {
                guard Self.writeAll(client, pending[0..<offset]) else { break }
                pending.removeFirst(offset)
            }
            if cutHere { break }
        }
        cut(client, upstream)
    }

    private static func writeAll(_ socket: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return false }
            rest = rest.dropFirst(written)
        }
        return true
    }
}

public struct WireCutterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
