import Foundation
import LocalPostgres
import PQ
import Synchronization
import Testing
import TestSupport

@Suite("The connection pool", .timeLimit(.minutes(2)))
struct PoolTests {
    @Test("when every connection is busy, a waiter times out with .poolTimeout")
    func exhaustionTimesOut() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 2, acquireTimeout: .milliseconds(300))
        try await TestDatabase.withPool(options: options) { pool, _ in
            // Both connections are known to be taken before the third caller asks: a fixed sleep
            // here failed in CI when the box was slow to open the two connections.
            let (held, holding) = AsyncStream<Void>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await pool.withConnection { (connection: PQConnection) async throws in
                            holding.yield()
                            try await connection.query("SELECT pg_sleep(2)")
                        }
                    }
                }
                var taken = 0
                for await _ in held {
                    taken += 1
                    if taken == 2 { break }
                }
                let started = ContinuousClock.now
                let error = await #expect(throws: PQError.self) { try await pool.query("SELECT 1") }
                let waited = ContinuousClock.now - started
                #expect(error?.kind == .poolTimeout)
                #expect(waited >= .milliseconds(250))
                #expect(waited < .seconds(1.5))
                try await group.waitForAll()
            }
            let statistics = await pool.currentStatistics
            #expect(statistics.timeouts == 1)
            #expect(statistics.open <= 2)
        }
    }

    @Test("a waiter gets the connection that is released before its timeout")
    func waiterIsServed() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 1, acquireTimeout: .seconds(5))
        try await TestDatabase.withPool(options: options) { pool, _ in
            let (held, holding) = AsyncStream<Void>.makeStream()
            async let slow: Void = pool.withConnection { (connection: PQConnection) async throws in
                holding.yield()
                try await connection.query("SELECT pg_sleep(0.3)")
            }
            for await _ in held { break }
            let rows = try await pool.query("SELECT 42")
            #expect(try rows[0].decode(Int.self, at: 0) == 42)
            _ = try await slow
            let statistics = await pool.currentStatistics
            #expect(statistics.waits >= 1)
            #expect(statistics.open == 1)
        }
    }

    @Test("more concurrent users than connections all get served, never more connections than the maximum")
    func manyUsers() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 3, acquireTimeout: .seconds(20))
        try await TestDatabase.withPool(options: options) { pool, _ in
            let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        try await pool.withConnection { (connection: PQConnection) async throws in
                            try await connection.query("SELECT pg_sleep(0.01)")
                            return await connection.backendPID
                        }
                    }
                }
                return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
            }
            #expect(pids.count <= 3)
        }
    }

    /// Opens three connections at once, returns them to the pool, and terminates their backends
    /// behind the pool's back: the pids that must never serve again.
    func killThreeIdleConnections(_ pool: PQPool, _ database: TestDatabase) async throws -> Set<Int32> {
        let before = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await pool.withConnection { (connection: PQConnection) async throws in
                        try await connection.query("SELECT pg_sleep(0.2)")
                        return await connection.backendPID
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(before.count == 3)
        let killed = try await database.admin(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = \
            ANY(\(before.map { Int($0) })::int[])
            """
        )
        #expect(try killed[0].decode(Int.self, at: 0) == 3)
        try await Task.sleep(for: .milliseconds(100))
        return before
    }

    @Test("connections killed with pg_terminate_backend are discarded, never handed out again")
    func recoversFromTerminatedBackends() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 3)
        try await TestDatabase.withPool(options: options) { pool, database in
            let before = try await killThreeIdleConnections(pool, database)

            // Every following query succeeds, on new backends.
            for _ in 0..<5 {
                let pid = try await pool.withConnection { (connection: PQConnection) async throws in
                    try await connection.query("SELECT 1")
                    return await connection.backendPID
                }
                #expect(!before.contains(pid))
            }
            #expect(await pool.currentStatistics.discarded >= 3)
        }
    }

    @Test("pool.query and isolated transactions check the connection on its own executor: killed ones are never used")
    func isolatedUseSkipsTerminatedBackends() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 3)
        try await TestDatabase.withPool(options: options) { pool, database in
            let before = try await killThreeIdleConnections(pool, database)
            for index in 0..<6 {
                let pid: Int32
                if index % 2 == 0 {
                    pid = try await pool.query("SELECT pg_backend_pid()")[0].decode(Int32.self, at: 0)
                } else {
                    pid = try await pool.withIsolatedTransaction { connection in connection.backendPID }
                }
                #expect(!before.contains(pid))
            }
            #expect(await pool.currentStatistics.discarded >= 3)
        }
    }

    @Test("a connection killed while in use reports a connection error and is not reused")
    func killedWhileInUse() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 1)
        try await TestDatabase.withPool(options: options) { pool, database in
            let pid = try await pool.withConnection { await $0.backendPID }
            async let killer: Void = {
                // Kill it once the statement is running (a fixed delay could kill it before).
                while try await database.admin(
                    """
                    SELECT count(*) FROM pg_stat_activity WHERE pid = \(Int(pid)) AND state = 'active' AND query LIKE \
                    'SELECT pg_sleep(5)%'
                    """
                )[0].decode(Int.self, at: 0) == 0 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                _ = try await database.admin("SELECT pg_terminate_backend(\(Int(pid)))")
            }()
            let error = await #expect(throws: PQError.self) { try await pool.query("SELECT pg_sleep(5)") }
            #expect(error?.isConnectionFailure == true)
            try await killer
            let rows = try await pool.query("SELECT pg_backend_pid()")
            #expect(try rows[0].decode(Int32.self, at: 0) != pid)
        }
    }

    @Test("the pool recovers after PostgreSQL restarts")
    func recoversFromRestart() async throws {
        let cluster = try await TestDatabase.makePrivateCluster()
        let pool = PQPool(
            configuration: PQConfiguration(cluster.conninfo()),
            options: .init(minimumConnections: 0, maximumConnections: 2)
        )
        let first = try await pool.withConnection { (connection: PQConnection) async throws in
            try await connection.query("SELECT 1")
            return await connection.backendPID
        }
        try await cluster.stopOffPool(mode: "fast")
        try await cluster.startOffPool()
        let rows = try await pool.query("SELECT pg_backend_pid()")
        #expect(try rows[0].decode(Int32.self, at: 0) != first)
        await pool.close()
        await cluster.destroyOffPool()
    }

    @Test("run() keeps the minimum open and close() ends it")
    func serviceKeepsMinimum() async throws {
        let database = try await TestDatabase.shared()
        let configuration = try await database.makeDatabase()
        let pool = PQPool(configuration: configuration, options: .init(minimumConnections: 2, maximumConnections: 4))
        let running = Task { try await pool.run() }
        var open = 0
        for _ in 0..<50 where open < 2 {
            try await Task.sleep(for: .milliseconds(100))
            open = await pool.currentStatistics.open
        }
        #expect(open == 2)
        running.cancel()
        try await running.value
        await #expect(throws: PQError.self) { try await pool.query("SELECT 1") }
    }
}

@Suite("Pipelines and LISTEN/NOTIFY", .timeLimit(.minutes(1)))
struct PipelineAndListenTests {
    @Test("a pipeline returns every statement's result, in order")
    func pipelineInOrder() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.query("CREATE TABLE log (n int)")
            let results = try await pool.withConnection { (connection: PQConnection) async throws in
                try await connection.pipeline([
                    "INSERT INTO log VALUES (\(1))",
                    "INSERT INTO log VALUES (\(2))",
                    "SELECT n FROM log ORDER BY n",
                    "SELECT \("third")::text AS word",
                ])
            }
            #expect(results.count == 4)
            #expect(results[0].affectedRows == 1)
            #expect(try results[2].column(Int.self) == [1, 2])
            #expect(try results[3][0].decode(String.self, column: "word") == "third")
        }
    }

    @Test("a failing statement in a pipeline throws and undoes the statements before it")
    func pipelineFailure() async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: 1)) { pool, _ in
            try await pool.query("CREATE TABLE log (n int PRIMARY KEY)")
            let error = await #expect(throws: PQError.self) {
                try await pool.withConnection { (connection: PQConnection) async throws in
                    try await connection.pipeline([
                        "INSERT INTO log VALUES (\(1))",
                        "INSERT INTO log VALUES (\(1))",
                        "INSERT INTO log VALUES (\(2))",
                    ])
                }
            }
            #expect(error?.sqlState == SQLState.uniqueViolation)
            let rows = try await pool.query("SELECT count(*) FROM log")
            #expect(try rows[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("NOTIFY reaches a listener with its payload")
    func notificationDelivered() async throws {
        try await TestDatabase.withPool { pool, _ in
            let notifications = try await pool.listen("care_events")
            try await pool.query("SELECT pg_notify('care_events', \("event 17"))")
            try await pool.query("SELECT pg_notify('other_channel', 'ignored')")
            try await pool.query("SELECT pg_notify('care_events', \("event 18"))")
            var payloads: [String] = []
            for await event in notifications {
                if case .notification(let notification) = event {
                    #expect(notification.channel == "care_events")
                    payloads.append(notification.payload)
                }
                if payloads.count == 2 { break }
            }
            #expect(payloads == ["event 17", "event 18"])
        }
    }

    @Test("a notification sent inside a transaction arrives only after COMMIT")
    func notifyAfterCommit() async throws {
        try await TestDatabase.withPool { pool, _ in
            let notifications = try await pool.listen("after_commit")
            let received = Mutex<String?>(nil)
            let reader = Task {
                var iterator = notifications.makeAsyncIterator()
                let payload = await PipelineAndListenTests.nextPayload(&iterator)
                received.withLock { $0 = payload }
            }
            try await pool.withTransaction { connection in
                try await connection.query("SELECT pg_notify('after_commit', 'committed')")
                try await Task.sleep(for: .milliseconds(300))
                #expect(received.withLock { $0 } == nil)
            }
            await reader.value
            #expect(received.withLock { $0 } == "committed")
        }
    }

    @Test("the listener reconnects and listens again after its backend is terminated")
    func listenerReconnects() async throws {
        try await TestDatabase.withPool { pool, database in
            let notifications = try await pool.listen("relisten")
            var iterator = notifications.makeAsyncIterator()
            try await pool.query("SELECT pg_notify('relisten', 'before')")
            #expect(await Self.nextPayload(&iterator) == "before")

            let datname = try await pool.query("SELECT current_database()")[0].decode(String.self, at: 0)
            let myPID = try await pool.query("SELECT pg_backend_pid()")[0].decode(Int.self, at: 0)
            // The listener's backend is the one waiting on LISTEN in this database, not ours.
            let killed = try await database.admin(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = \(datname) AND pid <> \(myPID) AND query LIKE 'LISTEN%'
                """)
            #expect(try killed[0].decode(Int.self, at: 0) == 1)

            // The reader is told to look again, then hears new notifications.
            var sawReconnect = false
            while let event = await iterator.next() {
                if event == .reconnected { sawReconnect = true; break }
            }
            #expect(sawReconnect)
            try await pool.query("SELECT pg_notify('relisten', 'after')")
            #expect(await Self.nextPayload(&iterator) == "after")
        }
    }

    static func nextPayload(_ iterator: inout PQNotifications.AsyncIterator) async -> String? {
        while let event = await iterator.next() {
            if case .notification(let notification) = event { return notification.payload }
        }
        return nil
    }
}

@Suite("Connecting", .timeLimit(.minutes(2)))
struct ConnectingTests {
    @Test("connects over TCP with a postgresql:// URL as well as over a Unix socket")
    func tcpURL() async throws {
        let port = Int.random(in: 20_000...40_000)
        let base = FileManager.default.temporaryDirectory.path + "/carerelay-private-\(getpid())-tcp\(port)"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let cluster = try LocalPostgres(
            directory: base + "/pg", port: port, settings: ["listen_addresses": "127.0.0.1"], logger: testLogger())
        try await cluster.startOffPool()
        // Local TCP connections need a password unless pg_hba trusts them; initdb --auth=trust does.
        let connection = try await PQConnection.connect(
            PQConfiguration("postgresql://postgres@127.0.0.1:\(port)/postgres?application_name=tcp-test"))
        let rows = try await connection.query("SELECT inet_server_port(), current_setting('application_name')")
        let (serverPort, application) = try rows[0].decode(Int.self, String.self)
        #expect(serverPort == port)
        #expect(application == "tcp-test")
        await connection.close()
        await cluster.destroyOffPool()
        try? FileManager.default.removeItem(atPath: base)
    }

    @Test("a refused connection is a connection error that says where it tried")
    func refused() async throws {
        let error = await #expect(throws: PQError.self) {
            try await PQConnection.connect(
                PQConfiguration("host=/nonexistent-carerelay port=1 dbname=x user=x", connectTimeout: 1))
        }
        #expect(error?.kind == .connection)
        #expect(error?.isConnectionFailure == true)
        #expect(error?.message.contains("/nonexistent-carerelay") == true)
    }

    @Test("the pool's health check discards an idle connection killed behind its back")
    func idleHealthCheck() async throws {
        let options = PQPool.Options(
            minimumConnections: 1, maximumConnections: 2, healthCheckInterval: .milliseconds(100))
        try await TestDatabase.withPool(options: options) { pool, database in
            let running = Task { try await pool.run() }
            defer { running.cancel() }
            let pid = try await pool.withConnection { await $0.backendPID }
            _ = try await database.admin("SELECT pg_terminate_backend(\(Int(pid)))")
            // Nobody asks for a connection: the service notices on its own and opens a new one.
            var statistics = await pool.currentStatistics
            for _ in 0..<50 where statistics.discarded == 0 || statistics.open < 1 {
                try await Task.sleep(for: .milliseconds(100))
                statistics = await pool.currentStatistics
            }
            #expect(statistics.discarded == 1)
            #expect(statistics.open == 1)
            let newPID = try await pool.withConnection { await $0.backendPID }
            #expect(newPID != pid)
        }
    }
}
