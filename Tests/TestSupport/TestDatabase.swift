import CareStore
import Foundation
import LocalPostgres
import Logging
import PQ
import Synchronization

/// The throwaway PostgreSQL of a test run: initdb into a temporary directory once per test
/// process, on a Unix socket only, stopped and deleted when the process exits. Each test asks
/// for a database of its own, so tests are independent and can run in parallel.
public final class TestDatabase: Sendable {
    public let cluster: LocalPostgres
    private let counter = Mutex(0)
    private let rolesTask = Mutex<Task<Void, any Error>?>(nil)

    /// The one cluster of this process, started on first use.
    public static func shared() async throws -> TestDatabase {
        try await startup.value
    }

    private static let startup = Task<TestDatabase, any Error> {
        try await LocalPostgres.offload { try TestDatabase() }
    }

    private init() throws {
        let base =
            FileManager.default.temporaryDirectory.path
            + "/carerelay-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        var logger = Logger(label: "carerelay.test.postgres")
        logger.logLevel = .warning
        cluster = try LocalPostgres(
            directory: base + "/pg",
            settings: [
                // A disposable cluster: durability buys nothing here. Tests run in parallel, each
                // with its own pools, and some start care-server processes with theirs: 264
                // connections were seen at once in a full run (session 10), so 500.
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                "max_connections": "500", "shared_buffers": "128MB",
            ],
            logger: logger
        )
        try cluster.start()
        clusterToStop.withLock { $0 = (cluster, base) }
        atexit {
            if let (cluster, base) = clusterToStop.withLock({ $0 }) {
                cluster.destroy()
                try? FileManager.default.removeItem(atPath: base)
            }
        }
    }

    /// The superuser's connection to the `postgres` maintenance database.
    public var adminConfiguration: PQConfiguration {
        PQConfiguration(cluster.conninfo(database: "postgres"))
    }

    public func configuration(database: String) -> PQConfiguration {
        PQConfiguration(cluster.conninfo(database: database))
    }

    /// A new empty database for one test (optionally copied from a template database), owned
    /// by `owner` when given.
    public func makeDatabase(prefix: String = "test", template: String = "template0", owner: String? = nil) async throws
        -> PQConfiguration
    {
        configuration(database: try await makeDatabaseNamed(prefix: prefix, template: template, owner: owner))
    }

    /// `makeDatabase`, returning the new database's name. The cluster's roles are made first
    /// (once): the migrations would otherwise make them, and two care-servers migrating two
    /// fresh databases at once raced to (one saw "role care_service does not exist").
    public func makeDatabaseNamed(prefix: String = "test", template: String = "template0", owner: String? = nil)
        async throws -> String
    {
        try await roles()
        let number = counter.withLock {
            $0 += 1; return $0
        }
        let name = "\(prefix)_\(number)_\(UInt16.random(in: 0...UInt16.max))"
        let admin = try await PQConnection.connect(adminConfiguration)
        defer { Task { await admin.close() } }
        try await admin.execute(
            "CREATE DATABASE \(quoteIdentifier(name)) TEMPLATE \(quoteIdentifier(template))"
                + (owner.map { " OWNER \(quoteIdentifier($0))" } ?? ""))
        return name
    }

    /// The roles of docs/operations.md ("Database roles"), made once per cluster.
    public func roles() async throws {
        try await rolesMade.value
    }

    private var rolesMade: Task<Void, any Error> {
        rolesTask.withLock { task in
            if let task { return task }
            let made = Task { [adminConfiguration] in
                let admin = try await PQConnection.connect(adminConfiguration)
                do {
                    try await DatabaseRoles.bootstrap(admin, database: "postgres")
                    try await admin.execute("ALTER DATABASE postgres OWNER TO postgres")
                    await admin.close()
                } catch {
                    await admin.close()
                    throw error
                }
            }
            task = made
            return made
        }
    }

    /// How `user` logs in to `database`.
    public func configuration(database: String, user: String) -> PQConfiguration {
        PQConfiguration.unixSocket(
            directory: cluster.socketDirectory, port: cluster.port, database: database, user: user)
    }

    /// Runs SQL as the superuser on the database `pool` reaches (for a test's set-up and checks
    /// that need more than the server's rights: changing reference data, say).
    public func superuser(_ pool: PQPool, _ query: PQQuery) async throws -> PQRows {
        try await asSuperuser(on: pool) { try await $0.query(query, prepared: false) }
    }

    /// `superuser`, for several statements at once (no parameters, no rows).
    public func superuserExecute(_ pool: PQPool, _ sql: String) async throws {
        try await asSuperuser(on: pool) { try await $0.execute(sql) }
    }

    private func asSuperuser<T>(on pool: PQPool, _ body: (PQConnection) async throws -> T) async throws -> T {
        let name = try await pool.query("SELECT current_database()")[0].decode(String.self, at: 0)
        let connection = try await PQConnection.connect(configuration(database: name))
        defer { Task { await connection.close() } }
        return try await body(connection)
    }

    /// Runs SQL as the superuser on the maintenance database (e.g. pg_terminate_backend).
    public func admin(_ query: PQQuery) async throws -> PQRows {
        let admin = try await PQConnection.connect(adminConfiguration)
        defer { Task { await admin.close() } }
        return try await admin.query(query, prepared: false)
    }

    /// A second cluster of a test's own, for tests that stop or restart the server and must
    /// not disturb the others. The caller destroys it.
    public static func makePrivateCluster() async throws -> LocalPostgres {
        try await LocalPostgres.offload { try makePrivateClusterBlocking() }
    }

    private static func makePrivateClusterBlocking() throws -> LocalPostgres {
        let base =
            FileManager.default.temporaryDirectory.path
            + "/carerelay-private-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        var logger = Logger(label: "carerelay.test.postgres")
        logger.logLevel = .warning
        let cluster = try LocalPostgres(directory: base + "/pg", settings: ["fsync": "off"], logger: logger)
        try cluster.start()
        return cluster
    }
}

private let clusterToStop = Mutex<(LocalPostgres, String)?>(nil)

extension TestDatabase {
    /// A pool on a fresh database of its own (a copy of `template`), closed after `body`.
    public static func withPool<T>(
        options: PQPool.Options = PQPool.Options(
            minimumConnections: 0, maximumConnections: 4, acquireTimeout: .seconds(10)),
        template: String = "template0",
        logger: Logger = testLogger(),
        _ body: (PQPool, TestDatabase) async throws -> T
    ) async throws -> T {
        let database = try await shared()
        let configuration = try await database.makeDatabase(template: template)
        let pool = PQPool(configuration: configuration, options: options, logger: logger)
        do {
            let value = try await body(pool, database)
            await pool.close()
            return value
        } catch {
            await pool.close()
            throw error
        }
    }
}

/// Quiet unless PQ_TEST_LOG_LEVEL asks for more.
public func testLogger(_ label: String = "carerelay.test.pq") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel =
        ProcessInfo.processInfo.environment["PQ_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}

/// A counter tasks can share.
public final class SharedCounter: Sendable {
    private let storage = Mutex(0)
    public init() {}
    public func increment() { storage.withLock { $0 += 1 } }
    public var value: Int { storage.withLock { $0 } }
}

/// A database with every migration applied, copied from a template migrated once per run.
/// As in production (docs/operations.md, "Database roles"): the template is migrated by
/// care_owner; a test's pool logs in as care_service (the server's own work), and beside it a
/// pool logs in as care_server for requests (`requestPool(for:)`).
public enum MigratedDatabase {
    private static let template = Task<String, any Error> {
        let database = try await TestDatabase.shared()
        try await database.roles()
        let name = try await database.makeDatabaseNamed(prefix: "care_template", owner: DatabaseRoles.owner)
        let pool = PQPool(
            configuration: database.configuration(database: name, user: DatabaseRoles.owner),
            options: .init(minimumConnections: 0, maximumConnections: 1))
        try await Migrator(migrations: Migration.embedded()).migrate(pool)
        await pool.close()
        return name
    }

    private static let requestPools = Mutex<[ObjectIdentifier: PQPool]>([:])

    /// The requests' pool (care_server) beside a pool `withPool` gave.
    public static func requestPool(for pool: PQPool) -> PQPool? {
        requestPools.withLock { $0[ObjectIdentifier(pool)] }
    }

    /// A fresh migrated database, and a pool on it as the server's own login (care_service).
    public static func withPool<T>(
        options: PQPool.Options = PQPool.Options(
            minimumConnections: 0, maximumConnections: 4, acquireTimeout: .seconds(10)),
        _ body: (PQPool, TestDatabase) async throws -> T
    ) async throws -> T {
        let database = try await TestDatabase.shared()
        let template = try await template.value
        let name = try await database.makeDatabaseNamed(template: template, owner: DatabaseRoles.owner)
        let pool = PQPool(
            configuration: database.configuration(database: name, user: DatabaseRoles.service), options: options,
            logger: testLogger())
        let requests = PQPool(
            configuration: database.configuration(database: name, user: DatabaseRoles.server), options: options,
            logger: testLogger())
        requestPools.withLock { $0[ObjectIdentifier(pool)] = requests }
        func close() async {
            requestPools.withLock { $0[ObjectIdentifier(pool)] = nil }
            await requests.close()
            await pool.close()
        }
        do {
            let value = try await body(pool, database)
            await close()
            return value
        } catch {
            await close()
            throw error
        }
    }
}

/// Writers that commit events out of id order: `writers` tasks each insert `perWriter`
/// 'test.written' events, one per transaction; odd writers are slow and commit long after
/// taking their id. For testing that a feed reader never skips or repeats.
public func writeInterleavedEvents(
    _ pool: PQPool, writers: Int, perWriter: Int, teamID: UUID? = nil, patientID: UUID? = nil,
    pause: ClosedRange<Int> = 0...0
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for writer in 0..<writers {
            group.addTask {
                for index in 0..<perWriter {
                    try await pool.withTransaction { connection in
                        try await connection.query(
                            """
                            INSERT INTO events (type, team_id, patient_id, payload)
                            VALUES ('test.written', \(teamID), \(patientID),
                                \(PQJSON(["writer": "\(writer)", "n": "\(index)"]))::jsonb)
                            """)
                        if writer % 2 == 1 { try await Task.sleep(for: .milliseconds(Int.random(in: 20...80))) }
                    }
                    if pause.upperBound > 0 { try await Task.sleep(for: .milliseconds(Int.random(in: pause))) }
                }
            }
        }
        try await group.waitForAll()
    }
}
