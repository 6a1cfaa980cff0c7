import ArgumentParser
import CareAPI
import CareStore
import Foundation
import Hummingbird
import LocalPostgres
import Logging
import PQ
import ServiceLifecycle

/// `care-server`: the HTTP API, migrations and administration.
public struct CareServerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "care-server",
        abstract: "CareRelay's server: the HTTP API, database migrations and administration.",
        discussion: """
            With no DATABASE_URL, care-server runs a private PostgreSQL of its own (initdb'd on \
            first use, Unix socket only) in its data directory.
            """,
        subcommands: [Serve.self, Migrate.self, Admin.self],
        defaultSubcommand: Serve.self
    )

    public init() {}
}

/// Where the database is: DATABASE_URL, or the embedded private cluster.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "libpq URL or connection string of an existing PostgreSQL (default: $DATABASE_URL; without either, a private embedded cluster).",
        valueName: "url"))
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "Directory of the embedded PostgreSQL cluster (default: $CARE_DATA_DIR, else ~/.local/share/carerelay/postgres, or /var/lib/carerelay/postgres as root).",
        valueName: "path"))
    var dataDirectory: String?

    @Option(help: "Most database connections the server opens.")
    var poolSize: Int = 16

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default: $LOG_LEVEL or info).")
    var logLevel: String?

    func makeLogger(_ label: String) -> Logger {
        let levelName = logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info"
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: levelName.lowercased()) ?? .info
        return logger
    }

    /// Opens the database: the given URL, or the embedded cluster, started if needed, with
    /// a database of its own.
    func open(logger: Logger) async throws -> OpenDatabase {
        let environment = ProcessInfo.processInfo.environment
        if let url = databaseURL ?? environment["DATABASE_URL"], !url.isEmpty {
            return OpenDatabase(configuration: PQConfiguration(url), embedded: nil, startedHere: false)
        }
        let directory = dataDirectory ?? environment["CARE_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? LocalPostgres.defaultDirectory()
        let cluster = try LocalPostgres(directory: directory, logger: logger)
        let started = try await cluster.startOffPool()
        let opened = OpenDatabase(
            configuration: PQConfiguration(cluster.conninfo(database: Self.embeddedDatabase)),
            embedded: cluster, startedHere: started
        )
        do {
            let admin = try await PQConnection.connect(PQConfiguration(cluster.conninfo(database: "postgres")), logger: logger)
            let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = \(Self.embeddedDatabase)")
            if exists.isEmpty {
                do {
                    try await admin.execute("CREATE DATABASE \(quoteIdentifier(Self.embeddedDatabase))")
                } catch let error as PQError where error.sqlState == "42P04" {
                    // Another care-server created it a moment ago.
                }
            }
            await admin.close()
        } catch {
            opened.close(logger: logger)
            throw error
        }
        return opened
    }
}

extension DatabaseOptions {
    static let embeddedDatabase = "carerelay"
}

struct OpenDatabase {
    var configuration: PQConfiguration
    var embedded: LocalPostgres?
    var startedHere: Bool

    /// Stops the embedded cluster if this process started it.
    func close(logger: Logger) {
        guard let embedded, startedHere else { return }
        do {
            try embedded.stop()
        } catch {
            logger.error("could not stop the private PostgreSQL", metadata: ["error": "\(error)"])
        }
    }
}

extension CareServerCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the HTTP API (applies pending migrations first).",
            discussion: """
                Examples:
                  care-server serve                       # private PostgreSQL, port 8080
                  DATABASE_URL=postgresql://care@db/care care-server serve --host 0.0.0.0
                """
        )

        @Option(help: "Address to listen on.")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on (0 picks a free one).")
        var port = 8080

        @Flag(help: "Do not apply pending migrations at start (they must already be applied).")
        var noMigrate = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = database.makeLogger("carerelay.server")
            let opened = try await database.open(logger: logger)
            defer { opened.close(logger: logger) }

            let pool = PQPool(
                configuration: opened.configuration,
                options: .init(minimumConnections: 2, maximumConnections: database.poolSize),
                logger: database.makeLogger("carerelay.pq")
            )
            let migrator = try Migrator(migrations: Migration.embedded(), logger: logger)
            if !noMigrate {
                do {
                    let applied = try await migrator.migrate(pool)
                    logger.info("schema current", metadata: ["migrations.applied": "\(applied.count)"])
                } catch {
                    await pool.close()
                    throw ServerError("cannot migrate the database: \(error)")
                }
            }
            let metrics = CareMetrics()
            let store = CareStore(pool: pool, logger: logger, metrics: metrics.factory, cacheReferenceData: true)
            let escalation = EscalationService(store: store, interval: .seconds(60), logger: logger)
            let referenceWatcher = ReferenceDataWatcher(store: store, logger: logger)
            let app = buildApplication(
                CareAPIDependencies(pool: pool, migrator: migrator, store: store, metrics: metrics),
                host: host, port: port, services: [pool, referenceWatcher, escalation], logger: logger,
                onServerRunning: { port in
                    logger.notice("care-server listening", metadata: ["address": "http://\(host):\(port)"])
                }
            )
            try await app.runService()
            await pool.close()
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending database migrations, or show their status.",
            discussion: """
                Examples:
                  care-server migrate
                  care-server migrate --status
                """
        )

        @Flag(help: "Only show which migrations are applied and which are pending.")
        var status = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = database.makeLogger("carerelay.migrate")
            let opened = try await database.open(logger: logger)
            defer { opened.close(logger: logger) }
            let pool = PQPool(configuration: opened.configuration, options: .init(minimumConnections: 0, maximumConnections: 1), logger: logger)
            defer { Task { await pool.close() } }
            let migrator = try Migrator(migrations: Migration.embedded(), logger: logger)
            do {
                if status {
                    let current = try await migrator.status(pool)
                    for migration in migrator.migrations {
                        let state = current.applied.contains(migration.version) ? "applied" : "pending"
                        print("\(state)  \(migration.fileName)")
                    }
                } else {
                    let applied = try await migrator.migrate(pool)
                    print(applied.isEmpty ? "Schema is current; nothing to apply." : "Applied \(applied.count) migration(s).")
                }
            } catch {
                throw ServerError("\(error)")
            }
            await pool.close()
        }
    }
}

/// A failure reported as one line (ArgumentParser prints "Error: " and the description).
struct ServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
