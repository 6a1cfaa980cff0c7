import Foundation
import Synchronization
import PQ
import Testing
import TestSupport

/// `sendWithNext`: statements queued to travel with the next one, as BEGIN, set_config and the
/// audit insert do in every command's transaction.
@Suite("Statements sent with the next one")
struct SendWithNextTests {
    static let schema = "CREATE TABLE entry (n int PRIMARY KEY)"

    /// A pool of `connections` on a fresh database with the `entry` table.
    static func withEntryTable(connections: Int, _ body: (PQPool) async throws -> Void) async throws {
        try await TestDatabase.withPool(options: .init(minimumConnections: 0, maximumConnections: connections)) {
            pool, _ in
            try await pool.query(PQQuery(schema))
            try await body(pool)
        }
    }

    static func count(_ pool: PQPool) async throws -> Int {
        try await pool.query("SELECT count(*) FROM entry")[0].decode(Int.self, at: 0)
    }

    @Test("a queued statement reaches the server only with the next one, and before it")
    func sentWithNext() async throws {
        try await Self.withEntryTable(connections: 2) { pool in
            try await pool.withConnection { (connection: PQConnection) async throws in
                await connection.sendWithNext("INSERT INTO entry VALUES (\(1))")
                // Another connection does not see it yet: it has not been sent.
                #expect(try await Self.count(pool) == 0)
                let seen = try await connection.query("SELECT count(*) FROM entry")[0].decode(Int.self, at: 0)
                #expect(seen == 1)
            }
            #expect(try await Self.count(pool) == 1)
        }
    }

    @Test("a queued statement that fails: the next call throws its error and does not run")
    func queuedFailure() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            try await pool.withConnection { (connection: PQConnection) async throws in
                await connection.sendWithNext("INSERT INTO entry VALUES (\(1)::int / \(0)::int)")
                let error = await #expect(throws: PQError.self) {
                    try await connection.query("INSERT INTO entry VALUES (\(2))")
                }
                #expect(error?.sqlState == "22012")
                // Nothing is left queued: the connection goes on normally.
                try await connection.query("INSERT INTO entry VALUES (\(3))")
            }
            let rows = try await pool.query("SELECT n FROM entry ORDER BY n")
            #expect(try rows.map { try $0.decode(Int.self, at: 0) } == [3])
        }
    }

    @Test("pipelines and execute send the queue first; a pipeline returns only its own results")
    func pipelineAndExecute() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            try await pool.withConnection { (connection: PQConnection) async throws in
                await connection.sendWithNext("INSERT INTO entry VALUES (\(1))")
                let results = try await connection.pipeline(["SELECT count(*) FROM entry", "SELECT \(7)::int"])
                #expect(results.count == 2)
                #expect(try results[0][0].decode(Int.self, at: 0) == 1)
                #expect(try results[1][0].decode(Int.self, at: 0) == 7)
                await connection.sendWithNext("INSERT INTO entry VALUES (\(2))")
                try await connection.execute("INSERT INTO entry VALUES (3)")
            }
            #expect(try await Self.count(pool) == 3)
        }
    }

    @Test("an unprepared statement stays unprepared when queued statements go with it")
    func unpreparedStaysUnprepared() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            try await pool.withConnection { (connection: PQConnection) async throws in
                await connection.sendWithNext("INSERT INTO entry VALUES (\(1))")
                let seen = try await connection.query("SELECT count(*) FROM entry WHERE n > \(0)", prepared: false)[0]
                    .decode(Int.self, at: 0)
                #expect(seen == 1)
                let prepared = try await connection.query("SELECT statement FROM pg_prepared_statements").map {
                    try $0.decode(String.self, at: 0)
                }
                #expect(prepared.contains { $0.contains("INSERT INTO entry") })
                #expect(!prepared.contains { $0.contains("n > $1") })
            }
        }
    }

    @Test(
        """
        a transaction: BEGIN and queued statements commit with it, an insert queued before a failing COMMIT is rolled \
        back
        """
    )
    func transactions() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            try await pool.withTransaction { connection in
                try await connection.query("INSERT INTO entry VALUES (\(1))")
                await connection.sendWithNext("INSERT INTO entry VALUES (\(2))")
            }
            #expect(try await Self.count(pool) == 2)

            // The queued insert fails at COMMIT (duplicate key): the transaction's earlier insert goes too.
            let error = await #expect(throws: PQError.self) {
                try await pool.withTransaction { connection in
                    try await connection.query("INSERT INTO entry VALUES (\(3))")
                    await connection.sendWithNext("INSERT INTO entry VALUES (\(1))")
                }
            }
            #expect(error?.sqlState == SQLState.uniqueViolation)
            #expect(try await Self.count(pool) == 2)

            // A transaction that throws before sending anything leaves nothing behind: BEGIN never went.
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await pool.withTransaction { connection in
                    await connection.sendWithNext("INSERT INTO entry VALUES (\(4))")
                    throw Refused()
                }
            }
            let state = try await pool.withConnection { (connection: PQConnection) async throws in
                try await connection.query("SELECT 1")
                return await connection.transactionState
            }
            #expect(state == .idle)
            #expect(try await Self.count(pool) == 2)
        }
    }

    @Test("a statement left queued when the connection goes back to the pool is dropped, not sent for the next user")
    func droppedOnRelease() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            try await pool.withConnection { (connection: PQConnection) async throws in
                await connection.sendWithNext("INSERT INTO entry VALUES (\(1))")
            }
            try await pool.withIsolatedConnection { connection in
                connection.sendWithNext("INSERT INTO entry VALUES (\(2))")
            }
            #expect(try await Self.count(pool) == 0)
        }
    }

    struct Refused: Error {}

    @Test("a checked statement: its check sees its rows before anything of its round trip is returned")
    func checkSeesRows() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            let seen = Mutex<Int?>(nil)
            let counted = try await pool.withTransaction { connection in
                await connection.sendWithNext("SELECT \(7)::int") { rows in
                    seen.withLock { $0 = try? rows[0].decode(Int.self, at: 0) }
                }
                try await connection.query("INSERT INTO entry VALUES (\(1))")
                #expect(seen.withLock { $0 } == 7, "the check ran before the query returned")
                return try await connection.query("SELECT count(*) FROM entry")[0].decode(Int.self, at: 0)
            }
            #expect(counted == 1)
            #expect(try await Self.count(pool) == 1)
        }
    }

    @Test(
        """
        a check that throws fails its call ahead of a later statement's own error, then every later statement and \
        COMMIT: nothing commits, even for a caller that caught the error
        """
    )
    func failedCheckEndsTheTransaction() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            // A caller that catches the check's error and carries on.
            var outcome: (any Error)?
            do {
                try await pool.withTransaction { connection in
                    try await connection.query("INSERT INTO entry VALUES (\(1))")
                    await connection.sendWithNext("SELECT 1") { _ in throw Refused() }
                    // This statement fails too (division by zero); the check's error is the one thrown.
                    await #expect(throws: Refused.self) {
                        try await connection.query("INSERT INTO entry VALUES (\(1)::int / \(0)::int)")
                    }
                    // Every later statement fails the same way, and so does COMMIT.
                    await #expect(throws: Refused.self) {
                        try await connection.query("INSERT INTO entry VALUES (\(2))")
                    }
                    await #expect(throws: Refused.self) { try await connection.pipeline(["SELECT 1"]) }
                }
            } catch {
                outcome = error
            }
            #expect(outcome is Refused, "the transaction ended with \(String(describing: outcome))")
            #expect(try await Self.count(pool) == 0)
            // The connection is fit for the next user.
            try await pool.withTransaction { connection in
                try await connection.query("INSERT INTO entry VALUES (\(3))")
            }
            #expect(try await Self.count(pool) == 1)
        }
    }

    @Test("a checked statement never goes with COMMIT: a check that throws there leaves nothing committed")
    func checkBeforeCommit() async throws {
        try await Self.withEntryTable(connections: 1) { pool in
            await #expect(throws: Refused.self) {
                try await pool.withTransaction { connection in
                    await connection.sendWithNext("INSERT INTO entry VALUES (\(1))")
                    await connection.sendWithNext("SELECT 1") { _ in throw Refused() }
                }
            }
            #expect(try await Self.count(pool) == 0)
            try await pool.withTransaction { connection in
                await connection.sendWithNext("INSERT INTO entry VALUES (\(2))")
                await connection.sendWithNext("SELECT 1") { _ in }
            }
            #expect(try await Self.count(pool) == 1)
        }
    }
}
