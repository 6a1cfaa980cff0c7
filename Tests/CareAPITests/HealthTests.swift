import CareAPI
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PQ
import Synchronization
import Testing
import TestSupport

@Suite("Health and readiness", .timeLimit(.minutes(2)))
struct HealthTests {
    func dependencies(_ pool: PQPool) throws -> CareAPIDependencies {
        CareAPIDependencies(
            store: CareStore(pool: pool, logger: testLogger()), migrator: try Migrator(migrations: Migration.embedded())
        )
    }

    @Test("GET /health answers 200 while the process is up")
    func health() async throws {
        try await TestDatabase.withPool { pool, _ in
            let app = buildApplication(try dependencies(pool), host: "127.0.0.1", port: 0, logger: testLogger())
            try await app.test(.router) { client in
                let response = try await client.execute(uri: "/health", method: .get)
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"ok\""))
            }
        }
    }

    @Test("GET /ready is 503 naming the pending migrations, then 200 once they are applied")
    func readyFollowsMigrations() async throws {
        try await TestDatabase.withPool { pool, _ in
            var patient = try dependencies(pool)
            // This test is about migrations, not speed: a loaded box may take more than the 2 s
            // the server allows a probe (that limit is tested with an unreachable database below).
            patient.readinessTimeout = .seconds(60)
            let dependencies = patient
            let app = buildApplication(dependencies, host: "127.0.0.1", port: 0, logger: testLogger())
            try await app.test(.router) { client in
                let before = try await client.execute(uri: "/ready", method: .get)
                #expect(before.status == .serviceUnavailable)
                #expect(String(buffer: before.body).contains("pending: 0001_foundation.sql"))
                try await dependencies.migrator.migrate(pool)
                let after = try await client.execute(uri: "/ready", method: .get)
                #expect(after.status == .ok)
                #expect(String(buffer: after.body).contains("\"ready\""))
            }
        }
    }

    @Test("GET /ready and the API are 503 with Retry-After when the database cannot be reached")
    func readyWithoutDatabase() async throws {
        let pool = PQPool(
            configuration: PQConfiguration("host=/nonexistent-carerelay port=1 dbname=x user=x", connectTimeout: 1),
            options: .init(minimumConnections: 0, maximumConnections: 1)
        )
        let app = buildApplication(try dependencies(pool), host: "127.0.0.1", port: 0, logger: testLogger())
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/ready", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(String(buffer: response.body).contains("unreachable"))
            #expect(response.headers[HTTPField.Name("Retry-After")!] == "2")
            // An API request finds no database to check its token against: 503, saying when to come back.
            let token = "crt_" + String(repeating: "A", count: 43)
            let api = try await client.execute(
                uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(api.status == .serviceUnavailable, "\(String(buffer: api.body))")
            #expect(api.headers[HTTPField.Name("Retry-After")!] == "2")
            #expect(api.headers[.contentType] == "application/problem+json")
        }
        await pool.close()
    }
}

/// Measures responsiveness, so deploy/test runs it on its own, after the rest of the suite:
/// other suites' CPU load would otherwise decide the timing.
@Suite("Responsiveness under database load", .timeLimit(.minutes(2)))
struct ResponsivenessTests {
    func dependencies(_ pool: PQPool) throws -> CareAPIDependencies {
        CareAPIDependencies(
            store: CareStore(pool: pool, logger: testLogger()), migrator: try Migrator(migrations: Migration.embedded())
        )
    }

    @Test("while 32 pg_sleep(1) queries queue on a pool of 8, GET /health answers before any of them finishes")
    func healthIsNotBlockedByDatabaseWork() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 8, acquireTimeout: .seconds(30))
        try await TestDatabase.withPool(options: options) { pool, database in
            let app = buildApplication(
                try dependencies(pool), host: "127.0.0.1", port: 0, services: [], logger: testLogger())
            try await app.test(.live) { client in
                let finished = SharedCounter()
                let started = ContinuousClock.now
                let sleepers = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for _ in 0..<32 {
                            group.addTask {
                                try await pool.query("SELECT pg_sleep(1)")
                                finished.increment()
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                // Let the first eight reach the server.
                let admin = try await PQConnection.connect(database.adminConfiguration)
                var active = 0
                for _ in 0..<80 where active < 8 {
                    try await Task.sleep(for: .milliseconds(10))
                    active = try await admin.query(
                        """
                        SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'
                        """)[
                            0
                        ].decode(Int.self, at: 0)
                }
                await admin.close()
                #expect(active == 8)

                let requested = ContinuousClock.now
                let response = try await client.execute(uri: "/health", method: .get)
                let answeredAfter = ContinuousClock.now - requested
                #expect(response.status == .ok)
                #expect(finished.value == 0, "a pg_sleep(1) finished before /health answered")
                #expect(answeredAfter < .milliseconds(250))
                #expect(ContinuousClock.now - started < .seconds(1))

                try await sleepers.value
                #expect(finished.value == 32)
                // Four waves of eight: the queries really queued on the pool.
                #expect(ContinuousClock.now - started >= .seconds(4))
            }
        }
    }
}

@Suite("Slow clients are cut off", .timeLimit(.minutes(2)))
struct ReadDeadlineTests {
    /// A loopback TCP connection, read and written byte by byte.
    struct Connection {
        let socket: Int32

        init(port: Int) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw CancellationError() }
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        func send(_ text: String) { _ = text.withCString { write(socket, $0, strlen($0)) } }

        /// True once the server has closed the connection (a read returns 0).
        func closedByServer() -> Bool {
            var byte: UInt8 = 0
            return read(socket, &byte, 1) == 0
        }

        /// What the server answers until it closes the connection (or 10 s pass).
        func response() -> String {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let count = read(socket, &buffer, buffer.count)
                if count == 0 { break }
                if count > 0 { bytes += buffer[0..<count] }
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        func close() { Glibc.close(socket) }
    }

    @Test(
        """
        headers sent a byte at a time, or no request at all, are cut off at the head deadline; an ordinary request is \
        answered
        """
    )
    func slowLoris() async throws {
        let pool = PQPool(
            configuration: PQConfiguration("host=/nonexistent-carerelay port=1 dbname=x user=x", connectTimeout: 1),
            options: .init(minimumConnections: 0, maximumConnections: 1))
        let app = buildApplication(
            CareAPIDependencies(
                store: CareStore(pool: pool, logger: testLogger()),
                migrator: try Migrator(migrations: Migration.embedded())),
            host: "127.0.0.1", port: 0, services: [], timeouts: HTTPTimeouts(head: .seconds(1), body: .seconds(1)),
            logger: testLogger())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // An ordinary request on a connection of its own (the test client's pooled one may sit
            // idle past the 1 s deadline on a slow machine, and be rightly closed).
            let ordinary = try Connection(port: port)
            defer { ordinary.close() }
            ordinary.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let answer = ordinary.response()
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")

            let loris = try Connection(port: port)
            defer { loris.close() }
            let idle = try Connection(port: port)
            defer { idle.close() }
            let started = ContinuousClock.now
            let header = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "a", count: 200)
            var sent = 0
            var lorisClosed = false, idleClosed = false
            // Keep trickling a byte every 50 ms: the head never completes; wait for the server to close both.
            while ContinuousClock.now - started < .seconds(20), !(lorisClosed && idleClosed) {
                if !lorisClosed, sent < header.utf8.count {
                    loris.send(String(header[header.index(header.startIndex, offsetBy: sent)]))
                    sent += 1
                }
                lorisClosed = lorisClosed || loris.closedByServer()
                idleClosed = idleClosed || idle.closedByServer()
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(
                lorisClosed && idleClosed,
                "the server kept a slow client \(lorisClosed ? "" : "(trickling)") \(idleClosed ? "" : "(idle)")")
            #expect(sent < header.utf8.count, "cut off before the head could complete")
            #expect(ContinuousClock.now - started < .seconds(10))
        }
        await pool.close()
    }
}

@Suite("Oversized headers", .timeLimit(.minutes(2)))
struct HeaderLimitTests {
    @Test("headers over 80 KiB are answered 431 with a problem+json, then the connection closes")
    func tooLarge() async throws {
        let pool = PQPool(
            configuration: PQConfiguration("host=/nonexistent-carerelay port=1 dbname=x user=x", connectTimeout: 1),
            options: .init(minimumConnections: 0, maximumConnections: 1))
        let app = buildApplication(
            CareAPIDependencies(
                store: CareStore(pool: pool, logger: testLogger()),
                migrator: try Migrator(migrations: Migration.embedded())),
            host: "127.0.0.1", port: 0, services: [], logger: testLogger())
        try await app.test(.live) { client in
            let connection = try ReadDeadlineTests.Connection(port: try #require(client.port))
            defer { connection.close() }
            connection.send(
                "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "x", count: 100 * 1024)
                    + "\r\n\r\n")
            var answer: [UInt8] = []
            let deadline = ContinuousClock.now + .seconds(20)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while ContinuousClock.now < deadline {
                let count = read(connection.socket, &buffer, buffer.count)
                if count == 0 { break }  // closed by the server
                if count > 0 { answer += buffer[0..<count] }
            }
            let text = String(decoding: answer, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 431"), "\(text.prefix(200))")
            #expect(text.contains("application/problem+json") && text.contains("headers-too-large"), "\(text)")
        }
        await pool.close()
    }
}
