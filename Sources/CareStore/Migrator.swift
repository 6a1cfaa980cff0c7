import Crypto
import Foundation
import Logging
import PQ

/// One schema migration: sql/migrations/NNNN_name.sql.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String
    /// SHA-256 of the file's exact text, hex.
    public var checksum: String

    public init(fileName: String, sql: String) throws {
        let stem = fileName.hasSuffix(".sql") ? String(fileName.dropLast(4)) : fileName
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), version > 0, !parts[1].isEmpty else {
            throw MigrationError("migration file \(fileName) is not named NNNN_name.sql")
        }
        self.version = version
        self.name = String(parts[1])
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public var fileName: String { String(format: "%04d_%@.sql", version, name) }

    /// The migrations built into this binary from sql/migrations.
    public static func embedded() throws -> [Migration] {
        try embeddedMigrationFiles.map { try Migration(fileName: $0.name, sql: $0.sql) }
    }
}

public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Applies migrations in order, each in its own transaction, recorded with its checksum in
/// `care_schema_migrations`. A session advisory lock makes several servers starting at once
/// take turns: the first applies, the others find nothing left to do.
public struct Migrator: Sendable {
    public struct Status: Sendable {
        public var applied: [Int]
        public var pending: [Migration]
        public var isCurrent: Bool { pending.isEmpty }
    }

    /// The advisory lock key: "care" in ASCII.
    static let lockKey: Int64 = 0x6361_7265
    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration], logger: Logger = Logger(label: "carerelay.migrator")) throws {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw MigrationError(
                "two migrations have version \(next.version): \(previous.fileName) and \(next.fileName)")
        }
        self.migrations = sorted
        self.logger = logger
    }

    /// Applies what is pending; returns the versions applied by this call.
    @discardableResult
    public func migrate(_ pool: PQPool) async throws -> [Int] {
        try await pool.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))")
            do {
                let applied = try await migrateLocked(connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                throw error
            }
        }
    }

    private func migrateLocked(_ connection: PQConnection) async throws -> [Int] {
        // Looked for first: CREATE TABLE IF NOT EXISTS on its own sends a NOTICE ("already
        // exists, skipping") that every start would log.
        let created = try await connection.query("SELECT to_regclass('care_schema_migrations') IS NOT NULL")[0]
            .decode(Bool.self, at: 0)
        if !created {
            try await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS care_schema_migrations (
                    version     integer PRIMARY KEY,
                    name        text NOT NULL,
                    checksum    text NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now(),
                    duration_ms integer NOT NULL
                )
                """)
        }
        let pending = try await verify(connection)
        var done: [Int] = []
        for migration in pending {
            let started = ContinuousClock.now
            logger.info("applying migration", metadata: ["migration": "\(migration.fileName)"])
            do {
                try await connection.withTransaction { connection in
                    try await connection.execute(migration.sql)
                    let elapsed = ContinuousClock.now - started
                    let milliseconds = Int(
                        elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                    try await connection.query(
                        """
                        INSERT INTO care_schema_migrations (version, name, checksum, duration_ms)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(milliseconds))
                        """)
                }
            } catch let error as PQError {
                throw MigrationError("migration \(migration.fileName) failed and was rolled back: \(error)")
            }
            done.append(migration.version)
        }
        return done
    }

    /// What is applied and what is pending, without changing anything.
    public func status(_ pool: PQPool) async throws -> Status {
        try await pool.withConnection { connection in
            let exists = try await connection.query("SELECT to_regclass('care_schema_migrations') IS NOT NULL")
            guard try exists[0].decode(Bool.self, at: 0) else {
                return Status(applied: [], pending: migrations)
            }
            let pending = try await verify(connection)
            let applied = try await connection.query("SELECT version FROM care_schema_migrations ORDER BY version")
                .column(Int.self)
            return Status(applied: applied, pending: pending)
        }
    }

    /// Checks applied migrations against ours and returns the pending ones.
    private func verify(_ connection: PQConnection) async throws -> [Migration] {
        let rows = try await connection.query(
            "SELECT version, name, checksum FROM care_schema_migrations ORDER BY version")
        var applied: [Int: String] = [:]
        for row in rows {
            let (version, name, checksum) = try row.decode(Int.self, String.self, String.self)
            guard let ours = migrations.first(where: { $0.version == version }) else {
                throw MigrationError(
                    """
                    the database has migration \(String(format: "%04d", version))_\(name), which this build of \
                    CareRelay does not know: is the server older than the database?
                    """
                )
            }
            guard ours.checksum == checksum else {
                throw MigrationError(
                    """
                    migration \(ours.fileName) was changed after it was applied (database checksum \
                    \(checksum.prefix(12)), file \(ours.checksum.prefix(12))): add a new migration instead of editing \
                    an applied one
                    """
                )
            }
            applied[version] = checksum
        }
        return migrations.filter { applied[$0.version] == nil }
    }
}
