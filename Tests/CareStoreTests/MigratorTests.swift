import CareStore
import Foundation
import PQ
import Testing
import TestSupport

@Suite("Migrations")
struct MigratorTests {
    let first = try! Migration(
        fileName: "0001_teams.sql", sql: "CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL);")
    let second = try! Migration(
        fileName: "0002_members.sql",
        sql: "CREATE TABLE members (id int PRIMARY KEY, team_id int REFERENCES teams(id));")

    func tables(_ pool: PQPool) async throws -> [String] {
        try await pool.query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").column(
            String.self)
    }

    @Test("pending migrations are applied in order and recorded with their checksums")
    func appliesInOrder() async throws {
        try await TestDatabase.withPool { pool, _ in
            // Given out of order, applied in order (0002 needs 0001's table).
            let migrator = try Migrator(migrations: [second, first])
            #expect(try await migrator.migrate(pool) == [1, 2])
            #expect(try await tables(pool) == ["care_schema_migrations", "members", "teams"])
            let rows = try await pool.query(
                "SELECT version, name, checksum FROM care_schema_migrations ORDER BY version")
            let recorded = try rows.map { try $0.decode(Int.self, String.self, String.self) }
            #expect(recorded.map(\.0) == [1, 2])
            #expect(recorded.map(\.1) == ["teams", "members"])
            #expect(recorded.map(\.2) == [first.checksum, second.checksum])
            #expect(first.checksum.count == 64)
        }
    }

    @Test("a second run applies nothing, and a new migration is applied on its own")
    func incremental() async throws {
        try await TestDatabase.withPool { pool, _ in
            #expect(try await Migrator(migrations: [first]).migrate(pool) == [1])
            #expect(try await Migrator(migrations: [first]).migrate(pool) == [])
            let migrator = try Migrator(migrations: [first, second])
            #expect(try await migrator.status(pool).pending.map(\.version) == [2])
            #expect(try await migrator.migrate(pool) == [2])
            #expect(try await migrator.status(pool).isCurrent)
        }
    }

    @Test("an applied migration whose file changed is a clear error, and nothing is applied")
    func changedMigration() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await Migrator(migrations: [first]).migrate(pool)
            let edited = try Migration(fileName: "0001_teams.sql", sql: first.sql + "\n-- edited")
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: [edited, second]).migrate(pool)
            }
            #expect(error?.description.contains("0001_teams.sql was changed after it was applied") == true)
            #expect(try await tables(pool) == ["care_schema_migrations", "teams"])
        }
    }

    @Test("a database migrated by a newer build is refused")
    func unknownAppliedMigration() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await Migrator(migrations: [first, second]).migrate(pool)
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: [first]).migrate(pool)
            }
            #expect(error?.description.contains("does not know") == true)
        }
    }

    @Test("a failing migration is rolled back whole and not recorded")
    func failingMigration() async throws {
        try await TestDatabase.withPool { pool, _ in
            let broken = try Migration(
                fileName: "0002_broken.sql",
                sql: """
                    CREATE TABLE notes (id int PRIMARY KEY);
                    INSERT INTO no_such_table VALUES (1);
                    """)
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: [first, broken]).migrate(pool)
            }
            #expect(error?.description.contains("0002_broken.sql failed") == true)
            #expect(try await tables(pool) == ["care_schema_migrations", "teams"])
            let versions = try await pool.query("SELECT version FROM care_schema_migrations").column(Int.self)
            #expect(versions == [1])
        }
    }

    @Test("several servers migrating at once apply each migration exactly once")
    func concurrentMigrators() async throws {
        let database = try await TestDatabase.shared()
        let configuration = try await database.makeDatabase()
        let slow = try Migration(fileName: "0003_slow.sql", sql: "SELECT pg_sleep(0.3); CREATE TABLE slow (id int);")
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<5 {
                group.addTask {
                    let pool = PQPool(
                        configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 1))
                    defer { Task { await pool.close() } }
                    return try await Migrator(migrations: [first, second, slow]).migrate(pool)
                }
            }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        #expect(results.filter { !$0.isEmpty } == [[1, 2, 3]])
        let pool = PQPool(configuration: configuration)
        let versions = try await pool.query("SELECT version FROM care_schema_migrations ORDER BY 1").column(Int.self)
        #expect(versions == [1, 2, 3])
        await pool.close()
    }

    @Test("file names must be NNNN_name.sql and versions unique")
    func naming() throws {
        #expect(throws: MigrationError.self) { try Migration(fileName: "1_init.sql", sql: "") }
        #expect(throws: MigrationError.self) { try Migration(fileName: "0001.sql", sql: "") }
        #expect(throws: MigrationError.self) { try Migration(fileName: "abcd_init.sql", sql: "") }
        let twin = try Migration(fileName: "0001_other.sql", sql: "SELECT 1")
        #expect(throws: MigrationError.self) { try Migrator(migrations: [first, twin]) }
        #expect(first.version == 1 && first.name == "teams" && first.fileName == "0001_teams.sql")
    }

    @Test("the migrations shipped in sql/migrations are embedded, ordered, and apply cleanly")
    func embedded() async throws {
        let migrations = try Migration.embedded()
        #expect(!migrations.isEmpty)
        #expect(migrations.map(\.version) == Array(1...migrations.count))
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Self.repositoryRoot + "/sql/migrations")
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(migrations.map(\.fileName) == onDisk)
        for migration in migrations {
            let text = try String(
                contentsOfFile: Self.repositoryRoot + "/sql/migrations/" + migration.fileName, encoding: .utf8)
            #expect(migration.sql == text)
        }
        try await TestDatabase.withPool { pool, _ in
            let migrator = try Migrator(migrations: migrations)
            try await migrator.migrate(pool)
            #expect(try await migrator.status(pool).isCurrent)
        }
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}
