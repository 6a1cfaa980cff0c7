import Foundation
import LocalPostgres
import PQ
import Testing
import TestSupport

/// PQ behind a real PgBouncer in transaction mode (docs/operations.md, "Behind a connection
/// pooler"): one server connection serves every client in turn, so anything a client left in
/// its session would be met by the others.
@Suite("PQ behind a transaction pooler", .timeLimit(.minutes(2)))
struct PoolerTests {
    @Test(
        """
        through PgBouncer no statement is prepared by name, statements, pipelines and transactions work, and the \
        session's settings hold
        """
    )
    func noNamedStatements() async throws {
        let database = try await TestDatabase.shared()
        let name = try await database.makeDatabaseNamed(prefix: "pooler")
        let bouncer = try await PgBouncer.start(in: database.cluster, poolSize: 1)
        defer { bouncer.stop() }
        let pool = PQPool(
            configuration: bouncer.configuration(database: name, user: "postgres"),
            options: .init(minimumConnections: 0, maximumConnections: 4), logger: testLogger())
        try await pool.withConnection {
            try await $0.execute("CREATE TABLE counts (writer int, n int, at timestamptz NOT NULL DEFAULT now())")
        }

        // Four clients on the one server connection, each with statements, pipelines and
        // transactions of several round trips.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for n in 0..<25 {
                        let sum = try await pool.query("SELECT \(writer)::int + \(n)::int")[0].decode(Int.self, at: 0)
                        #expect(sum == writer + n)
                        try await pool.withTransaction { connection in
                            try await connection.query("INSERT INTO counts (writer, n) VALUES (\(writer), \(n))")
                            let mine = try await connection.query(
                                "SELECT count(*) FROM counts WHERE writer = \(writer)")[0].decode(Int.self, at: 0)
                            #expect(mine == n + 1)
                        }
                        try await pool.withConnection { connection in
                            let results = try await connection.pipeline([
                                "BEGIN", "SELECT count(*) FROM counts WHERE writer = \(writer)", "COMMIT",
                            ])
                            #expect(try results[1][0].decode(Int.self, at: 0) == n + 1)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.query("SELECT count(*) FROM counts")[0].decode(Int.self, at: 0) == 100)

        // The one server connection that served them all holds no named statement, and has the
        // settings decoding relies on (SET after connecting: PgBouncer restores them per client).
        let prepared = try await pool.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(Int.self, at: 0)
        #expect(prepared == 0)
        let settings = try await pool.query("SELECT current_setting('TimeZone'), current_setting('DateStyle')")
        #expect(try settings[0].decode(String.self, at: 0) == "UTC")
        #expect(try settings[0].decode(String.self, at: 1).hasPrefix("ISO"))
        let at = try await pool.query("SELECT '2026-12-01 10:00:00+02'::timestamptz")[0].decode(Date.self, at: 0)
        #expect(at == Date(timeIntervalSince1970: 1_796_112_000))

        // What the check above would see otherwise: a direct session names its statements.
        let direct = PQPool(
            configuration: database.configuration(database: name), options: .init(maximumConnections: 1),
            logger: testLogger())
        try await direct.withConnection { connection in
            try await connection.query("SELECT 1")
            let named = try await connection.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(
                Int.self, at: 0)
            #expect(named >= 1)
        }
        await direct.close()
        await pool.close()
        #expect(bouncer.log.contains("login attempt: db=\(name) user=postgres"), "\(bouncer.log)")
    }

    @Test("LISTEN is refused through the pooler and works on the direct connection the pool is given")
    func listenGoesDirect() async throws {
        let database = try await TestDatabase.shared()
        let name = try await database.makeDatabaseNamed(prefix: "pooler")
        let bouncer = try await PgBouncer.start(in: database.cluster)
        defer { bouncer.stop() }
        let pooledOnly = PQPool(
            configuration: bouncer.configuration(database: name, user: "postgres"), logger: testLogger())
        let refused = await #expect(throws: PQError.self) { _ = try await pooledOnly.listen("pooler_test") }
        #expect(refused?.message.contains("direct connection") == true)
        await pooledOnly.close()

        let pool = PQPool(
            configuration: bouncer.configuration(database: name, user: "postgres"),
            listenConfiguration: database.configuration(database: name), logger: testLogger())
        let notifications = try await pool.listen("pooler_test")
        // Sent through the pooler, in a transaction: heard on the direct connection.
        try await pool.withTransaction { try await $0.query("SELECT pg_notify('pooler_test', 'hello')") }
        var heard: String?
        for await notification in notifications {
            if case .notification(let received) = notification {
                heard = received.payload
                break
            }
        }
        #expect(heard == "hello")
        await pool.close()
    }
}
