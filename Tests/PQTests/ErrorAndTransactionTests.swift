import Foundation
import Logging
import PQ
import Synchronization
import Testing
import TestSupport

@Suite("Server errors and transactions")
struct ErrorAndTransactionTests {
    static let schema = """
        CREATE TABLE team (id int PRIMARY KEY, name text NOT NULL CONSTRAINT team_name_unique UNIQUE);
        CREATE TABLE member (id int PRIMARY KEY, team_id int NOT NULL CONSTRAINT member_team_fk REFERENCES team(id),
          age int CONSTRAINT member_age_positive CHECK (age > 0));
        CREATE TABLE counter (id int PRIMARY KEY, value int NOT NULL);
        INSERT INTO counter VALUES (1, 0);
        """

    @Test("a unique violation carries SQLSTATE 23505, the constraint and the detail")
    func uniqueViolation() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            try await pool.query("INSERT INTO team VALUES (1, 'North')")
            let error = await #expect(throws: PQError.self) {
                try await pool.query("INSERT INTO team VALUES (2, \("North"))")
            }
            #expect(error?.kind == .server)
            #expect(error?.sqlState == SQLState.uniqueViolation)
            #expect(error?.constraint == "team_name_unique")
            #expect(error?.table == "team")
            #expect(error?.detail?.contains("North") == true)
            #expect(error?.isConnectionFailure == false)
        }
    }

    @Test("a foreign-key violation carries SQLSTATE 23503 and the constraint")
    func foreignKeyViolation() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            let error = await #expect(throws: PQError.self) {
                try await pool.query("INSERT INTO member VALUES (1, \(99), 30)")
            }
            #expect(error?.sqlState == SQLState.foreignKeyViolation)
            #expect(error?.constraint == "member_team_fk")
        }
    }

    @Test("a check violation carries SQLSTATE 23514 and the constraint")
    func checkViolation() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            try await pool.query("INSERT INTO team VALUES (1, 'North')")
            let error = await #expect(throws: PQError.self) {
                try await pool.query("INSERT INTO member VALUES (1, 1, \(-3))")
            }
            #expect(error?.sqlState == SQLState.checkViolation)
            #expect(error?.constraint == "member_age_positive")
        }
    }

    @Test("a syntax error is a server error and leaves the connection usable")
    func syntaxError() async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: 1)) { pool, _ in
            let error = await #expect(throws: PQError.self) { try await pool.query("SELEC 1") }
            #expect(error?.sqlState == "42601")
            let rows = try await pool.query("SELECT 2")
            #expect(try rows[0].decode(Int.self, at: 0) == 2)
        }
    }

    struct Abort: Error {}

    @Test("a transaction whose body throws is rolled back")
    func rollbackOnThrow() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            await #expect(throws: Abort.self) {
                try await pool.withTransaction { connection in
                    try await connection.query("INSERT INTO team VALUES (1, 'North')")
                    throw Abort()
                }
            }
            let rows = try await pool.query("SELECT count(*) FROM team")
            #expect(try rows[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a transaction whose statement fails is rolled back and the connection is reusable")
    func rollbackOnServerError() async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: 1)) { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            await #expect(throws: PQError.self) {
                try await pool.withTransaction { connection in
                    try await connection.query("INSERT INTO team VALUES (1, 'North')")
                    try await connection.query("INSERT INTO team VALUES (1, 'Again')")
                }
            }
            let rows = try await pool.query("SELECT count(*) FROM team")
            #expect(try rows[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a committed transaction is visible to other connections")
    func commit() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            let name = try await pool.withTransaction { connection in
                try await connection.query("INSERT INTO team VALUES (1, 'North')")
                return "North"
            }
            let other = try await PQConnection.connect(pool.configuration)
            let rows = try await other.query("SELECT name FROM team WHERE id = 1")
            #expect(try rows[0].decode(String.self, at: 0) == name)
            await other.close()
        }
    }

    @Test("a serialization failure (40001) is retried and the retry commits")
    func retryOnSerializationFailure() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            let attempts = Mutex(0)
            _ = try await pool.withTransaction(isolation: .serializable, retries: 3) { connection in
                let attempt = attempts.withLock {
                    $0 += 1; return $0
                }
                try await connection.query("UPDATE counter SET value = value + 1 WHERE id = 1")
                if attempt == 1 {
                    try await connection.execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")
                }
            }
            #expect(attempts.withLock { $0 } == 2)
            let rows = try await pool.query("SELECT value FROM counter WHERE id = 1")
            #expect(try rows[0].decode(Int.self, at: 0) == 1)
        }
    }

    @Test("without retries a 40001 reaches the caller")
    func noRetryByDefault() async throws {
        try await TestDatabase.withPool { pool, _ in
            let error = await #expect(throws: PQError.self) {
                try await pool.withTransaction { connection in
                    try await connection.execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")
                }
            }
            #expect(error?.isRetryableTransactionFailure == true)
        }
    }

    @Test("concurrent serializable increments all land once with retries")
    func concurrentSerializableIncrements() async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: 8)) { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        try await pool.withTransaction(isolation: .serializable, retries: 50) { connection in
                            let rows = try await connection.query("SELECT value FROM counter WHERE id = 1")
                            let value = try rows[0].decode(Int.self, at: 0)
                            try await connection.query("UPDATE counter SET value = \(value + 1) WHERE id = 1")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await pool.query("SELECT value FROM counter WHERE id = 1")
            #expect(try rows[0].decode(Int.self, at: 0) == 16)
        }
    }

    @Test("a cached prepared statement survives a change of the table it reads")
    func preparedStatementAfterSchemaChange() async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: 1)) { pool, _ in
            try await pool.query("CREATE TABLE t (a int)")
            try await pool.query("INSERT INTO t VALUES (1)")
            _ = try await pool.query("SELECT * FROM t")
            try await pool.query("ALTER TABLE t ADD COLUMN b text DEFAULT 'x'")
            let rows = try await pool.query("SELECT * FROM t")
            #expect(rows.columns.count == 2)
        }
    }

    @Test("affected row counts and command tags are reported")
    func affectedRows() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await pool.withConnection { try await $0.execute(Self.schema) }
            let insert = try await pool.query("INSERT INTO team SELECT g, 'team ' || g FROM generate_series(1, 5) g")
            #expect(insert.affectedRows == 5)
            #expect(insert.commandTag == "INSERT 0 5")
            let update = try await pool.query("UPDATE team SET name = name || '!' WHERE id <= \(2)")
            #expect(update.affectedRows == 2)
        }
    }
}

/// Collects log messages, to see where libpq's notices went.
final class CapturingLogHandler: LogHandler, Sendable {
    let messages = Mutex<[(Logger.Level, String)]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
    func log(event: LogEvent) {
        messages.withLock { $0.append((event.level, event.message.description)) }
    }
}

@Suite("libpq notices")
struct NoticeTests {
    @Test("NOTICE and WARNING messages go to swift-log")
    func noticesAreLogged() async throws {
        let handler = CapturingLogHandler()
        let logger = Logger(label: "notices") { _ in handler }
        let database = try await TestDatabase.shared()
        let connection = try await PQConnection.connect(database.adminConfiguration, logger: logger)
        try await connection.execute(
            "DO $$ BEGIN RAISE NOTICE 'plan reviewed'; RAISE WARNING 'dose above range'; END $$")
        await connection.close()
        let messages = handler.messages.withLock { $0 }
        #expect(messages.contains { $0.0 == .notice && $0.1 == "plan reviewed" })
        #expect(messages.contains { $0.0 == .warning && $0.1 == "dose above range" })
    }
}

@Suite("Cancellation")
struct CancellationTests {
    @Test("cancelling the task cancels the running statement on the server, and the connection stays usable")
    func cancelRunningQuery() async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: 1)) {
            pool, database in
            let sleeper = Task { try await pool.query("SELECT pg_sleep(10)") }
            // Cancel only once the statement is running on the server.
            let datname =
                pool.configuration.conninfo.components(separatedBy: "dbname='").last?.components(separatedBy: "'").first
                ?? ""
            var running = 0
            for _ in 0..<200 where running == 0 {
                try await Task.sleep(for: .milliseconds(25))
                running = try await database.admin(
                    """
                    SELECT count(*) FROM pg_stat_activity WHERE datname = \(datname) AND query = 'SELECT pg_sleep(10)'
                        AND state = 'active'
                    """)[0].decode(Int.self, at: 0)
            }
            #expect(running == 1)
            let started = ContinuousClock.now
            sleeper.cancel()
            let result = await sleeper.result
            let error = try #require(result.failureError as? PQError)
            #expect(error.sqlState == SQLState.queryCanceled)
            #expect(ContinuousClock.now - started < .seconds(3))
            let rows = try await pool.query("SELECT 1")
            #expect(try rows[0].decode(Int.self, at: 0) == 1)
        }
    }
}

extension Result {
    var failureError: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

@Suite("Backends terminated while transactions commit")
struct CommitUnderTerminationTests {
    @Test(
        "every commit either succeeds whole or fails as a connection failure, never as a protocol violation, never half"
    )
    func terminatedDuringCommit() async throws {
        let options = PQPool.Options(minimumConnections: 0, maximumConnections: 2, acquireTimeout: .seconds(10))
        try await TestDatabase.withPool(options: options) { pool, database in
            _ = try await pool.withConnection {
                try await $0.query(
                    "CREATE TABLE pair (n int NOT NULL, part int NOT NULL, PRIMARY KEY (n, part))", prepared: false)
            }
            let done = Atomic(false)
            let terminated = Atomic(0)
            // The terminator ends whatever backend the writer is using, over and over.
            let terminator = Task {
                var killed = 0
                while !done.load(ordering: .relaxed) {
                    let rows = try await database.admin(
                        """
                        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE datname =
                            \(try await pool.query("SELECT current_database()")[0].decode(String.self, at: 0))
                          AND pid <> pg_backend_pid() AND state <> 'idle'
                        """)
                    killed += try rows[0].decode(Int.self, at: 0)
                    terminated.store(killed, ordering: .relaxed)
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...8)))
                }
                return killed
            }
            var outcomes: [Int: Bool] = [:]
            var violations: [String] = []
            let deadline = ContinuousClock.now + .seconds(8)
            var n = 0
            // At least 400 transactions, and on until a few were hit (a fast box finishes 400
            // before the terminator has caught a backend at work).
            while ContinuousClock.now < deadline, n < 400 || terminated.load(ordering: .relaxed) < 5 {
                n += 1
                do {
                    // The second insert travels with COMMIT in one pipeline, as the audit entry does.
                    try await pool.withTransaction { connection in
                        try await connection.query("INSERT INTO pair VALUES (\(n), 1)")
                        await connection.sendWithNext("INSERT INTO pair VALUES (\(n), 2)")
                    }
                    outcomes[n] = true
                } catch let error as PQError where error.isConnectionFailure {
                    outcomes[n] = false
                } catch {
                    violations.append("\(n): \(error)")
                }
            }
            done.store(true, ordering: .relaxed)
            let killed = try await terminator.value
            #expect(violations.isEmpty, "\(violations)")
            let parts = try await pool.query("SELECT n, count(*)::int FROM pair GROUP BY n").map {
                try $0.decode(Int.self, Int.self)
            }
            #expect(
                parts.allSatisfy { $0.1 == 2 }, "a transaction was committed in half: \(parts.filter { $0.1 != 2 })")
            let stored = Set(parts.map(\.0))
            for (n, succeeded) in outcomes where succeeded {
                #expect(stored.contains(n), "transaction \(n) succeeded but is not there")
            }
            #expect(killed > 0, "the test never terminated a backend")
        }
    }
}

/// The window between COMMIT's answer and the pipeline's sync, hit every time: a proxy forwards
/// the server's messages up to a chosen CommandComplete and then cuts the connection.
@Suite("A connection cut at an exact point of the answer")
struct CutConnectionTests {
    /// A pool that reaches `pool`'s database through `cutter`.
    @Test(
        """
        COMMIT answered, then the connection cut before the sync: the transaction succeeded, whole, and the connection \
        is not reused
        """
    )
    func cutAfterCommit() async throws {
        try await TestDatabase.withPool { pool, database in
            _ = try await pool.withConnection {
                try await $0.query(
                    "CREATE TABLE pair (n int NOT NULL, part int NOT NULL, PRIMARY KEY (n, part))", prepared: false)
            }
            let cutter = try WireCutter(database)
            defer { cutter.stop() }
            let through = try await cutter.pool(reaching: pool)
            // With a statement travelling with COMMIT (as the audit entry and the kept answer do)...
            cutter.arm(cutAfter: "COMMIT")
            let firstBackend = try await through.withTransaction { connection in
                let pid = try await connection.query("SELECT pg_backend_pid()")[0].decode(Int.self, at: 0)
                try await connection.query("INSERT INTO pair VALUES (1, 1)")
                await connection.sendWithNext("INSERT INTO pair VALUES (1, 2)")
                return pid
            }
            #expect(cutter.cuts == 1)
            // ...and with COMMIT alone.
            cutter.arm(cutAfter: "COMMIT")
            try await through.withTransaction { connection in
                try await connection.query("INSERT INTO pair VALUES (2, 1)")
                try await connection.query("INSERT INTO pair VALUES (2, 2)")
            }
            #expect(cutter.cuts == 2)
            let parts = try await pool.query("SELECT n, count(*)::int FROM pair GROUP BY n ORDER BY n").map {
                try $0.decode(Int.self, Int.self)
            }
            #expect(parts.map(\.0) == [1, 2] && parts.allSatisfy { $0.1 == 2 }, "\(parts)")
            // The cut connection went away; the next use gets a live one.
            let nextBackend = try await through.query("SELECT pg_backend_pid()")[0].decode(Int.self, at: 0)
            #expect(nextBackend != firstBackend)
            await through.close()
        }
    }

    @Test(
        """
        cut after a statement's answer but before COMMIT's: a connection failure, never a protocol violation, and \
        nothing committed
        """
    )
    func cutBeforeCommit() async throws {
        try await TestDatabase.withPool { pool, database in
            _ = try await pool.withConnection {
                try await $0.query(
                    "CREATE TABLE pair (n int NOT NULL, part int NOT NULL, PRIMARY KEY (n, part))", prepared: false)
            }
            let cutter = try WireCutter(database)
            defer { cutter.stop() }
            let through = try await cutter.pool(reaching: pool)
            cutter.arm(cutAfter: "INSERT 0 1")
            await #expect(throws: PQError.self) {
                do {
                    try await through.withTransaction { connection in
                        try await connection.query("INSERT INTO pair VALUES (1, 1)")
                        try await connection.query("INSERT INTO pair VALUES (1, 2)")
                    }
                } catch let error as PQError {
                    #expect(error.kind == .connection && error.isConnectionFailure, "\(error)")
                    throw error
                }
            }
            #expect(cutter.cuts == 1)
            #expect(try await pool.query("SELECT count(*)::int FROM pair")[0].decode(Int.self, at: 0) == 0)
            // An implicit transaction cut after its first statement's answer: its outcome is not
            // known to the client (the sync was sent), and it is a connection failure.
            cutter.arm(cutAfter: "INSERT 0 1")
            await #expect(throws: PQError.self) {
                do {
                    _ = try await through.withConnection { connection in
                        try await connection.pipeline([
                            "INSERT INTO pair VALUES (3, 1)", "INSERT INTO pair VALUES (3, 2)",
                        ])
                    }
                } catch let error as PQError {
                    #expect(error.kind == .connection, "\(error)")
                    throw error
                }
            }
            #expect(try await through.query("SELECT 1")[0].decode(Int.self, at: 0) == 1)
            await through.close()
        }
    }
}
