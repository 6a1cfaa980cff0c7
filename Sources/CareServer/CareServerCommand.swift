import ArgumentParser
import CareAPI
import CareStore
import CareWebhooks
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
        subcommands: [Serve.self, Migrate.self, Admin.self, Backup.self, Restore.self, Probe.self],
        defaultSubcommand: Serve.self
    )

    public init() {}
}

/// Where the database is: DATABASE_URL, or the embedded private cluster.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            """
            libpq URL or connection string of an existing PostgreSQL (default: $DATABASE_URL; without either, a \
            private embedded cluster).
            """,
            valueName: "url"))
    var databaseURL: String?

    @Option(
        name: .customLong("service-database-url"),
        help: ArgumentHelp(
            """
            libpq URL of the login for the server's own work, care_service (default: $SERVICE_DATABASE_URL, else the \
            database URL; the embedded cluster uses care_service).
            """,
            valueName: "url"))
    var serviceDatabaseURL: String?

    @Option(
        name: .customLong("migration-database-url"),
        help: ArgumentHelp(
            """
            libpq URL of the schema owner's login, for migrations (default: $MIGRATION_DATABASE_URL, else the database \
            URL; the embedded cluster uses care_owner).
            """,
            valueName: "url"))
    var migrationDatabaseURL: String?

    @Option(
        name: .customLong("direct-database-url"),
        help: ArgumentHelp(
            """
            libpq URL that reaches PostgreSQL itself, not a pooler: for LISTEN, and for migrations unless \
            --migration-database-url is given (default: $DIRECT_DATABASE_URL). Required with --transaction-pooler.
            """,
            valueName: "url"))
    var directDatabaseURL: String?

    @Option(
        name: .customLong("report-database-url"),
        help: ArgumentHelp(
            """
            libpq URL of a read-only standby (CloudNativePG's -ro service) for the weekly report's reads; snapshots, \
            recommendations and audit entries still go to the primary (default: $REPORT_DATABASE_URL).
            """,
            valueName: "url"))
    var reportDatabaseURL: String?

    @Flag(
        name: .customLong("transaction-pooler"),
        help: ArgumentHelp(
            """
            The database URLs go through a transaction-mode pooler such as PgBouncer: prepare no named statements and \
            keep nothing in the session (default: $CARE_TRANSACTION_POOLER=1).
            """
        ))
    var transactionPooler = false

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            """
            Directory of the embedded PostgreSQL cluster (default: $CARE_DATA_DIR, else \
            ~/.local/share/carerelay/postgres, or /var/lib/carerelay/postgres as root).
            """,
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
        func setting(_ option: String?, _ variable: String) -> String? {
            [option, environment[variable]].compactMap { $0 }.first { !$0.isEmpty }
        }
        let pooled = transactionPooler || ["1", "true", "yes"].contains(environment["CARE_TRANSACTION_POOLER"] ?? "")
        let directURL = setting(directDatabaseURL, "DIRECT_DATABASE_URL")
        if let url = setting(databaseURL, "DATABASE_URL") {
            // docs/operations.md, "Behind a connection pooler": requests and the server's own
            // transactions may go through the pooler; LISTEN and migrations (a session advisory
            // lock) may not.
            if pooled, directURL == nil {
                throw ServerError(
                    """
                    --transaction-pooler needs --direct-database-url (or DIRECT_DATABASE_URL), a URL that reaches \
                    PostgreSQL itself: LISTEN and migrations cannot go through the pooler
                    """
                )
            }
            let migrationURL = setting(migrationDatabaseURL, "MIGRATION_DATABASE_URL") ?? directURL ?? url
            let serviceURL = setting(serviceDatabaseURL, "SERVICE_DATABASE_URL")
            return OpenDatabase(
                configuration: PQConfiguration(url, transactionPooler: pooled),
                serviceConfiguration: serviceURL.map { PQConfiguration($0, transactionPooler: pooled) },
                migrationConfiguration: PQConfiguration(migrationURL), embedded: nil, startedHere: false,
                listenConfiguration: directURL.map { PQConfiguration($0) },
                reportConfiguration: setting(reportDatabaseURL, "REPORT_DATABASE_URL").map {
                    PQConfiguration($0, transactionPooler: pooled)
                })
        }
        if pooled {
            throw ServerError(
                """
                --transaction-pooler is for a DATABASE_URL that goes through a pooler; the embedded PostgreSQL has none
                """
            )
        }
        let directory =
            dataDirectory ?? environment["CARE_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? LocalPostgres.defaultDirectory()
        let cluster = try LocalPostgres(directory: directory, logger: logger)
        let started = try await cluster.startOffPool()
        // Requests log in as care_server, the server's own work as care_service, migrations as
        // care_owner (docs/operations.md, "Database roles"). The superuser only sets them up.
        let socket = { (user: String) in
            PQConfiguration.unixSocket(
                directory: cluster.socketDirectory, port: cluster.port, database: Self.embeddedDatabase, user: user)
        }
        let opened = OpenDatabase(
            configuration: socket(DatabaseRoles.server), serviceConfiguration: socket(DatabaseRoles.service),
            migrationConfiguration: socket(DatabaseRoles.owner), embedded: cluster, startedHere: started, split: true)
        do {
            let admin = try await PQConnection.connect(
                PQConfiguration(cluster.conninfo(database: "postgres")), logger: logger)
            // Released when `admin` closes, whatever happens.
            try await admin.query("SELECT pg_advisory_lock(\(DatabaseRoles.bootstrapLock))")
            let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = \(Self.embeddedDatabase)")
            if exists.isEmpty {
                do {
                    try await admin.execute("CREATE DATABASE \(quoteIdentifier(Self.embeddedDatabase))")
                } catch let error as PQError where error.sqlState == .duplicateDatabase {
                    // Another care-server created it a moment ago.
                }
            }
            do {
                try await DatabaseRoles.bootstrap(admin, database: Self.embeddedDatabase)
                let inside = try await PQConnection.connect(
                    PQConfiguration(cluster.conninfo(database: Self.embeddedDatabase)), logger: logger)
                defer { Task { await inside.close() } }
                try await DatabaseRoles.giveObjectsToOwner(inside)
            } catch {
                await admin.close()
                throw error
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
    /// The login of requests' connections (care_server: it can become care_app only).
    var configuration: PQConfiguration
    /// The login of the server's own work (care_service); nil: `configuration`'s.
    var serviceConfiguration: PQConfiguration?
    /// The schema owner's login, for migrations.
    var migrationConfiguration: PQConfiguration
    var embedded: LocalPostgres?
    var startedHere: Bool
    /// Where the server's LISTEN connects (nil: the service configuration): PostgreSQL itself
    /// when the others go through a pooler.
    var listenConfiguration: PQConfiguration? = nil
    /// Where the weekly report reads (a standby); nil: the primary.
    var reportConfiguration: PQConfiguration? = nil
    /// The roles are known to be split as docs/operations.md says (the embedded cluster).
    var split = false

    /// Applies pending migrations as the schema owner; returns those applied.
    @discardableResult
    func migrate(_ migrator: Migrator, logger: Logger) async throws -> [Int] {
        let pool = PQPool(
            configuration: migrationConfiguration, options: .init(minimumConnections: 0, maximumConnections: 1),
            logger: logger)
        do {
            let applied = try await migrator.migrate(pool)
            await pool.close()
            return applied
        } catch {
            await pool.close()
            throw error
        }
    }

    /// The requests' and the server's own configurations, once the logins are known
    /// (docs/operations.md, "Database roles"):
    /// - two logins (the embedded cluster, or --service-database-url): requests' login must be
    ///   able to become care_app, the service login must be care_service or become it;
    /// - one login that can become care_service: both work as care_service (requests' then
    ///   become care_app), with a notice that requests could become care_service too;
    /// - a superuser or the schema owner: runs as itself, with a warning;
    /// - anything else cannot work and is refused here, in words.
    func serverConfigurations(logger: Logger, warnUnsplit: Bool = true) async throws -> (
        requests: PQConfiguration, service: PQConfiguration
    ) {
        if split, let serviceConfiguration { return (configuration, serviceConfiguration) }
        func check(_ configuration: PQConfiguration) async throws -> DatabaseRoles.LoginCheck {
            let connection = try await PQConnection.connect(configuration, logger: logger)
            defer { Task { await connection.close() } }
            return try await DatabaseRoles.check(connection)
        }
        func unsplit(_ login: DatabaseRoles.LoginCheck) -> Bool {
            guard login.isSuperuser || login.ownsTables else { return false }
            if warnUnsplit {
                logger.warning(
                    """
                    care-server is logged in as \(login.login), \
                    \(login.isSuperuser ? "a superuser" : "the owner of the tables"): \
                    a request that got past a check could change the schema; log in as care_server and care_service \
                    (docs/operations.md, "Database roles")
                    """)
            }
            return true
        }
        let requests = try await check(configuration)
        if unsplit(requests) { return (configuration, serviceConfiguration ?? configuration) }
        guard requests.canBecomeApp else {
            throw ServerError(
                """
                the login \(requests.login) cannot become care_app: GRANT care_app TO \
                \(quoteIdentifier(requests.login)); (docs/operations.md, \"Database roles\")
                """
            )
        }
        guard let serviceConfiguration else {
            guard requests.canBecomeService else {
                throw ServerError(
                    """
                    the login \(requests.login) cannot do the server's own work: give it a login of its own with \
                    --service-database-url (care_service), or GRANT care_service TO \
                    \(quoteIdentifier(requests.login)); \
                    (docs/operations.md, "Database roles")
                    """)
            }
            guard !configuration.transactionPooler else {
                throw ServerError(
                    """
                    behind a transaction pooler the server's own work needs a login of its own: give \
                    --service-database-url with care_service's login (docs/operations.md, \"Behind a connection \
                    pooler\")
                    """
                )
            }
            if warnUnsplit {
                logger.notice(
                    """
                    one login (\(requests.login)) for requests and the server's own work: a request could become \
                    care_service; \
                    give the server's work a login of its own with --service-database-url (docs/operations.md, \
                    "Database roles")
                    """)
            }
            var both = configuration
            both.role = DatabaseRoles.service
            return (both, both)
        }
        let service = try await check(serviceConfiguration)
        if unsplit(service) { return (configuration, serviceConfiguration) }
        if service.login == DatabaseRoles.service { return (configuration, serviceConfiguration) }
        guard service.canBecomeService else {
            throw ServerError(
                """
                the service login \(service.login) cannot become care_service: GRANT care_service TO \
                \(quoteIdentifier(service.login)); (docs/operations.md, \"Database roles\")
                """
            )
        }
        guard !serviceConfiguration.transactionPooler else {
            throw ServerError(
                """
                behind a transaction pooler the service login must be care_service itself, not \(service.login), which \
                would have to SET ROLE for its session (docs/operations.md, \"Behind a connection pooler\")
                """
            )
        }
        var working = serviceConfiguration
        working.role = DatabaseRoles.service
        return (configuration, working)
    }

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

        @Option(
            name: .customLong("head-timeout"),
            help: "Seconds a client has to send a request's headers (or to start one on an open connection).")
        var headTimeout = 30

        @Option(
            name: .customLong("body-timeout"),
            help: "Seconds a client has to send a request's body once its headers are in.")
        var bodyTimeout = 60

        @Option(
            name: .customLong("drain-seconds"),
            help: ArgumentHelp(
                """
                Seconds care-server goes on serving after SIGTERM, with /ready answering 503, before it stops taking \
                connections (default: $CARE_DRAIN_SECONDS, else 10; SIGINT does not drain).
                """,
                valueName: "seconds"))
        var drainSeconds: Int?

        @Option(
            name: .customLong("export-retention-hours"),
            help: ArgumentHelp(
                """
                Hours a complete FHIR bulk export's files are kept for its requester (default: \
                $CARE_EXPORT_RETENTION_HOURS, else 24).
                """,
                valueName: "hours"))
        var exportRetentionHours: Int?

        @Option(
            name: .customLong("public-url"),
            help: ArgumentHelp(
                """
                The URL clients reach this server at behind a proxy or ingress, e.g. https://care.example.org \
                (default: $CARE_PUBLIC_URL; unset: each request's Host). FHIR answers' links start with it.
                """,
                valueName: "url"))
        var publicURL: String?

        /// --public-url or CARE_PUBLIC_URL, checked and without a trailing slash; nil when neither is set.
        func publicBase() throws -> String? {
            let text =
                publicURL ?? ProcessInfo.processInfo.environment["CARE_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 }
            guard let text else { return nil }
            guard let url = normalisedPublicURL(text) else {
                throw ValidationError(
                    """
                    --public-url (or CARE_PUBLIC_URL) must be an http or https URL with a host and no query, \
                    such as https://care.example.org, not '\(text)'
                    """)
            }
            return url
        }

        @Option(
            name: .customLong("auth-failures-per-token"),
            help: "Failed authentications a token may have in a minute before 429.")
        var authFailuresPerToken = 10

        @Option(
            name: .customLong("auth-failures-per-address"),
            help: "Failed authentications an address (not loopback) may have in a minute before 429.")
        var authFailuresPerAddress = 30

        func validate() throws {
            guard headTimeout > 0, bodyTimeout > 0 else {
                throw ValidationError("--head-timeout and --body-timeout must be above 0")
            }
            guard authFailuresPerToken > 0, authFailuresPerAddress > 0 else {
                throw ValidationError("the --auth-failures-per-* limits must be above 0")
            }
            guard (0...600).contains(try drain()) else {
                throw ValidationError("--drain-seconds (or CARE_DRAIN_SECONDS) must be from 0 to 600")
            }
            _ = try publicBase()
            guard (1...720).contains(try exportRetention()) else {
                throw ValidationError("--export-retention-hours (or CARE_EXPORT_RETENTION_HOURS) must be from 1 to 720")
            }
        }

        /// How long bulk exports are kept: --export-retention-hours, CARE_EXPORT_RETENTION_HOURS, or 24.
        func exportRetention() throws -> Int {
            if let exportRetentionHours { return exportRetentionHours }
            guard let text = ProcessInfo.processInfo.environment["CARE_EXPORT_RETENTION_HOURS"], !text.isEmpty else {
                return 24
            }
            guard let hours = Int(text) else {
                throw ValidationError("CARE_EXPORT_RETENTION_HOURS must be a whole number of hours, not '\(text)'")
            }
            return hours
        }

        /// The drain period: --drain-seconds, CARE_DRAIN_SECONDS, or 10.
        func drain() throws -> Int {
            if let drainSeconds { return drainSeconds }
            guard let text = ProcessInfo.processInfo.environment["CARE_DRAIN_SECONDS"], !text.isEmpty else { return 10 }
            guard let seconds = Int(text) else {
                throw ValidationError("CARE_DRAIN_SECONDS must be a whole number of seconds, not '\(text)'")
            }
            return seconds
        }

        @OptionGroup(title: "Webhooks") var webhooks: WebhookOptions

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = database.makeLogger("carerelay.server")
            let opened = try await database.open(logger: logger)
            defer { opened.close(logger: logger) }

            let migrator = try Migrator(migrations: Migration.embedded(), logger: logger)
            if !noMigrate {
                do {
                    let applied = try await opened.migrate(migrator, logger: logger)
                    logger.info("schema current", metadata: ["migrations.applied": "\(applied.count)"])
                } catch {
                    throw ServerError("cannot migrate the database: \(error)")
                }
            }
            let configurations = try await opened.serverConfigurations(logger: logger)
            // The server's own work: authentication on every request, the feed, webhooks, jobs.
            let pool = PQPool(
                configuration: configurations.service,
                options: .init(minimumConnections: 2, maximumConnections: database.poolSize),
                listenConfiguration: opened.listenConfiguration,
                logger: database.makeLogger("carerelay.pq")
            )
            // Requests' transactions (care_app).
            let requestPool = PQPool(
                configuration: configurations.requests,
                options: .init(minimumConnections: 2, maximumConnections: database.poolSize),
                logger: database.makeLogger("carerelay.pq.requests")
            )
            // The weekly report's reads on a standby, with the rights of the server's own work
            // (a standby has the primary's roles; the role is the one the service login takes).
            let reportPool = opened.reportConfiguration.map { url in
                var configuration = url
                configuration.role = configurations.service.role
                return PQPool(
                    configuration: configuration,
                    options: .init(minimumConnections: 0, maximumConnections: max(2, database.poolSize / 4)),
                    logger: database.makeLogger("carerelay.pq.reports"))
            }
            let metrics = CareMetrics()
            let store = CareStore(
                pool: pool, requestPool: requestPool, reportPool: reportPool, logger: logger, metrics: metrics.factory,
                cacheReferenceData: true)
            let escalation = EscalationService(store: store, interval: .seconds(60), logger: logger)
            let referenceWatcher = ReferenceDataWatcher(store: store, logger: logger)
            let settings = try webhooks.settings()
            let feedSignal = ChangeSignal()
            var services: [any Service] = [
                pool, requestPool, referenceWatcher, escalation,
                FeedListener(pool: pool, signal: feedSignal, logger: logger),
            ]
            if let reportPool { services.insert(reportPool, at: 2) }
            let exportSignal = ChangeSignal()
            var exportSettings = FHIRExportWorker.Settings()
            exportSettings.retention = .seconds(try exportRetention() * 3600)
            services.append(
                FHIRExportWorker(
                    store: store, wake: exportSignal, settings: exportSettings,
                    logger: database.makeLogger("carerelay.export")))
            if !webhooks.noWebhookDelivery {
                services.append(
                    WebhookDispatcher(
                        store: store, settings: settings, logger: database.makeLogger("carerelay.webhooks"),
                        metrics: metrics.factory))
            }
            var dependencies = CareAPIDependencies(
                store: store, migrator: migrator, metrics: metrics, feedSignal: feedSignal,
                webhookDestinations: settings.destinations)
            dependencies.exportSignal = exportSignal
            dependencies.publicURL = try publicBase()
            dependencies.authFailures = AuthFailureLimiter(
                limits: .init(perToken: authFailuresPerToken, perAddress: authFailuresPerAddress))
            let app = buildApplication(
                dependencies,
                host: host, port: port, services: services,
                timeouts: HTTPTimeouts(head: .seconds(headTimeout), body: .seconds(bodyTimeout)), logger: logger,
                onServerRunning: { port in
                    logger.notice("care-server listening", metadata: ["address": "http://\(host):\(port)"])
                }
            )
            // SIGTERM drains, then stops; SIGINT stops (DrainService, docs/operations.md).
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: app),
                        .init(
                            service: DrainService(
                                state: dependencies.drain, period: .seconds(try drain()), logger: logger),
                            successTerminationBehavior: .gracefullyShutdownGroup),
                    ],
                    logger: logger))
            try await group.run()
            await pool.close()
            await requestPool.close()
            await reportPool?.close()
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
            let pool = PQPool(
                configuration: opened.migrationConfiguration,
                options: .init(minimumConnections: 0, maximumConnections: 1), logger: logger)
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
                    print(
                        applied.isEmpty
                            ? "Schema is current; nothing to apply." : "Applied \(applied.count) migration(s).")
                }
            } catch {
                throw ServerError("\(error)")
            }
            await pool.close()
        }
    }
}

/// How this server sends webhooks.
struct WebhookOptions: ParsableArguments {
    @Option(
        name: .customLong("webhook-allow-network"),
        help:
            """
            Let webhooks go to this private, loopback or link-local network (CIDR, e.g. 127.0.0.0/8); repeat for more. \
            By default only public addresses are allowed.
            """
    )
    var allowNetworks: [String] = []

    @Option(name: .customLong("webhook-timeout"), help: "Seconds a receiver has to answer one attempt.")
    var timeout: Double = 10

    @Option(name: .customLong("webhook-max-attempts"), help: "Attempts before a delivery is dead.")
    var maxAttempts = 12

    @Option(
        name: .customLong("webhook-retry-base"),
        help: "Seconds before the first retry; the wait doubles (with jitter) up to 6 hours.")
    var retryBase: Double = 30

    @Option(
        name: .customLong("webhook-lease"),
        help: "Seconds a claimed delivery stays with this server before another may take it (more than the timeout).")
    var lease: Double = 60

    @Flag(
        name: .customLong("no-webhook-delivery"),
        help: "Do not send webhooks from this server (others on the same database do).")
    var noWebhookDelivery = false

    func settings() throws -> WebhookSettings {
        var settings = WebhookSettings()
        var networks: [IPNetwork] = []
        for text in allowNetworks {
            guard let network = IPNetwork(text) else {
                throw ServerError("--webhook-allow-network: '\(text)' is not a network such as 127.0.0.0/8 or ::1/128")
            }
            networks.append(network)
        }
        settings.destinations = DestinationPolicy(allowedNetworks: networks)
        guard timeout > 0, timeout <= 300 else { throw ServerError("--webhook-timeout must be from 0 to 300 seconds") }
        guard maxAttempts >= 1, maxAttempts <= 50 else {
            throw ServerError("--webhook-max-attempts must be from 1 to 50")
        }
        guard retryBase > 0, retryBase <= 86400 else {
            throw ServerError("--webhook-retry-base must be from 0 to 86400 seconds")
        }
        guard lease > timeout else { throw ServerError("--webhook-lease must be longer than --webhook-timeout") }
        settings.timeout = .milliseconds(Int64(timeout * 1000))
        settings.maxAttempts = maxAttempts
        settings.retryBase = .milliseconds(Int64(retryBase * 1000))
        settings.lease = .milliseconds(Int64(lease * 1000))
        return settings
    }
}

/// A failure reported as one line (ArgumentParser prints "Error: " and the description).
struct ServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
