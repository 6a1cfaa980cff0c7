import Logging
import ServiceLifecycle

/// A pool of PQ connections, and a ServiceLifecycle `Service`: `run()` keeps `minimumConnections`
/// open, health-checks idle ones, and closes everything on graceful shutdown.
///
/// A connection that died (backend terminated, server restarted) is found before it is handed
/// out and discarded: nobody ever receives a dead connection from the pool knowingly.
/// The pool also works without `run()`; connections are then opened on demand.
public actor PQPool: Service {
    public struct Options: Sendable {
        public var minimumConnections: Int
        public var maximumConnections: Int
        /// How long `withConnection` waits for a free connection before `.poolTimeout`.
        public var acquireTimeout: Duration
        /// Idle connections unused for this long are pinged with `SELECT 1`.
        public var healthCheckInterval: Duration
        /// Idle connections above the minimum are closed after this long.
        public var idleTimeout: Duration

        public init(
            minimumConnections: Int = 1, maximumConnections: Int = 8, acquireTimeout: Duration = .seconds(10),
            healthCheckInterval: Duration = .seconds(30), idleTimeout: Duration = .seconds(300)
        ) {
            self.minimumConnections = minimumConnections
            self.maximumConnections = max(1, maximumConnections)
            self.acquireTimeout = acquireTimeout
            self.healthCheckInterval = healthCheckInterval
            self.idleTimeout = idleTimeout
        }
    }

    /// Counters for metrics and /ready.
    public struct Statistics: Sendable {
        public var open: Int
        public var idle: Int
        public var inUse: Int
        public var waiting: Int
        public var acquisitions: Int
        public var waits: Int
        public var timeouts: Int
        public var discarded: Int
    }

    public nonisolated let configuration: PQConfiguration
    /// Where LISTEN connects (nil: `configuration`). Behind a transaction pooler, a direct
    /// connection to PostgreSQL: a pooler cannot carry a session's LISTEN.
    public nonisolated let listenConfiguration: PQConfiguration?
    public nonisolated let options: Options
    nonisolated let logger: Logger

    /// Free connections and when each came back, most recently used last.
    private var idle: [(connection: PQConnection, since: ContinuousClock.Instant)] = []
    /// Connections open or being opened.
    private var total = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<PQConnection, any Error>)] = []
    private var nextWaiterID = 0
    private var closed = false
    private var statistics = Statistics(
        open: 0, idle: 0, inUse: 0, waiting: 0, acquisitions: 0, waits: 0, timeouts: 0, discarded: 0)
    private var listenerInstance: PQListener?

    public init(
        configuration: PQConfiguration, options: Options = Options(), listenConfiguration: PQConfiguration? = nil,
        logger: Logger = Logger(label: "carerelay.pq.pool")
    ) {
        self.configuration = configuration
        self.listenConfiguration = listenConfiguration
        self.options = options
        self.logger = logger
    }

    deinit {
        listenerInstance?.stop()
    }

    // MARK: Using connections

    /// Lends a connection to `body` and takes it back afterwards, whatever happens.
    public nonisolated func withConnection<T>(_ body: (PQConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction on a pooled connection. With `retries` > 0, a serialization
    /// failure (40001) or deadlock (40P01) runs the whole transaction again, with backoff.
    public nonisolated func withTransaction<T>(
        isolation: PQConnection.IsolationLevel? = nil,
        retries: Int = 0,
        _ body: (PQConnection) async throws -> T
    ) async throws -> T {
        try await retrying(retries) {
            try await withConnection { connection in
                try await connection.withTransaction(isolation: isolation, body)
            }
        }
    }

    /// `withTransaction` with `body` isolated to the connection: with
    /// NonisolatedNonsendingByDefault, everything `body` awaits that does not say otherwise is
    /// isolated to it too, so its statements reach libpq without an actor hop each.
    public nonisolated func withIsolatedTransaction<T: Sendable>(
        isolation: PQConnection.IsolationLevel? = nil,
        retries: Int = 0,
        _ body: @Sendable (isolated PQConnection) async throws -> T
    ) async throws -> T {
        try await retrying(retries) {
            try await withIsolatedConnection { connection in
                try await connection.withTransaction(isolation: isolation) { _ in try await body(connection) }
            }
        }
    }

    /// Lends a connection to `body`, which runs isolated to the connection together with the
    /// checks around it (alive before, fit for reuse after): one hop onto the connection and one
    /// back per use, where `withConnection` makes three of each.
    public nonisolated func withIsolatedConnection<T: Sendable>(
        _ body: @Sendable (isolated PQConnection) async throws -> T
    ) async throws -> T {
        while true {
            try Task.checkCancellation()
            let connection = try await acquire(checkingLiveness: false)
            let lease = await withTaskCancellationHandler {
                await connection.lease(body)
            } onCancel: {
                connection.cancelRunningStatement()
            }
            switch lease {
            case .dead:
                await discardDead(connection)
            case .finished(let result, let reusable):
                await giveBack(connection, reusable: reusable)
                return try result.get()
            }
        }
    }

    /// Runs `attempt` again on a serialization failure (40001) or deadlock (40P01), with backoff.
    private nonisolated func retrying<T>(_ retries: Int, _ attempt: () async throws -> T) async throws -> T {
        var tries = 0
        while true {
            do {
                return try await attempt()
            } catch let error as PQError where error.isRetryableTransactionFailure && tries < retries {
                tries += 1
                let ceiling = min(200, 5 << min(tries, 5))
                logger.debug(
                    "retrying transaction", metadata: ["pq.sqlstate": "\(error.sqlState ?? "")", "attempt": "\(tries)"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...ceiling)))
            }
        }
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public nonisolated func query(_ query: PQQuery) async throws -> PQRows {
        try await withIsolatedConnection { try await $0.runQuery(query, prepared: true) }
    }

    // MARK: Acquire and release

    /// A connection for one use. `checkingLiveness` false: the caller checks it on the
    /// connection itself (see `withIsolatedConnection`).
    func acquire(checkingLiveness: Bool = true) async throws -> PQConnection {
        while true {
            if closed { throw PQError(.closed, "the connection pool is closed") }
            logger.trace(
                "acquire", metadata: ["idle": "\(idle.count)", "total": "\(total)", "waiters": "\(waiters.count)"])
            statistics.acquisitions += 1
            if let connection = idle.popLast()?.connection {
                if !checkingLiveness { return connection }
                if await connection.isAlive() { return connection }
                discard(connection, reason: "found dead when idle")
                continue
            }
            if total < options.maximumConnections {
                return try await openConnection()
            }
            let connection = try await waitForConnection()
            if !checkingLiveness { return connection }
            if await connection.isAlive() { return connection }
            discard(connection, reason: "found dead when handed over")
        }
    }

    private func openConnection() async throws -> PQConnection {
        total += 1
        do {
            return try await PQConnection.connect(configuration, logger: logger)
        } catch {
            total -= 1
            throw error
        }
    }

    private func waitForConnection() async throws -> PQConnection {
        statistics.waits += 1
        nextWaiterID += 1
        let id = nextWaiterID
        let timeout = options.acquireTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.failWaiter(
                id,
                PQError(
                    .poolTimeout,
                    """
                    no database connection became free within \(timeout) (pool of \
                    \(self?.options.maximumConnections ?? 0))
                    """
                ))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters.append((id, continuation))
            }
        } onCancel: {
            Task { await self.failWaiter(id, CancellationError()) }
        }
    }

    private func failWaiter(_ id: Int, _ error: any Error) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        if error is PQError { statistics.timeouts += 1 }
        waiters.remove(at: index).continuation.resume(throwing: error)
    }

    func release(_ connection: PQConnection) async {
        logger.trace("release", metadata: ["pq.connection": "\(connection.id)"])
        giveBack(connection, reusable: await connection.prepareForReuse())
    }

    /// A connection found dead by the connection itself, before its user had it.
    private func discardDead(_ connection: PQConnection) {
        discard(connection, reason: "found dead when handed out")
        replaceForWaiters()
    }

    private func giveBack(_ connection: PQConnection, reusable: Bool) {
        logger.trace(
            "release checked",
            metadata: ["pq.connection": "\(connection.id)", "reusable": "\(reusable)", "waiters": "\(waiters.count)"])
        guard reusable, !closed else {
            discard(connection, reason: closed ? "pool closed" : "connection broken")
            replaceForWaiters()
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: connection)
        } else {
            idle.append((connection, .now))
        }
    }

    private func discard(_ connection: PQConnection, reason: String) {
        total -= 1
        statistics.discarded += 1
        logger.info(
            "discarding database connection", metadata: ["reason": "\(reason)", "pq.connection": "\(connection.id)"])
        Task { await connection.close() }
    }

    /// After a discard, waiters would wait for a connection that will never come back: open one.
    private func replaceForWaiters() {
        guard !waiters.isEmpty, !closed, total < options.maximumConnections else { return }
        total += 1
        Task {
            do {
                let connection = try await PQConnection.connect(configuration, logger: logger)
                await handOver(connection)
            } catch {
                self.failFirstWaiter(error)
            }
        }
    }

    private func handOver(_ connection: PQConnection) async {
        if closed || waiters.isEmpty {
            if closed { discard(connection, reason: "pool closed") } else { idle.append((connection, .now)) }
            return
        }
        waiters.removeFirst().continuation.resume(returning: connection)
    }

    private func failFirstWaiter(_ error: any Error) {
        total -= 1
        if !waiters.isEmpty { waiters.removeFirst().continuation.resume(throwing: error) }
    }

    public var currentStatistics: Statistics {
        var copy = statistics
        copy.open = total
        copy.idle = idle.count
        copy.inUse = total - idle.count
        copy.waiting = waiters.count
        return copy
    }

    // MARK: Service

    public func run() async throws {
        logger.info(
            "database pool started",
            metadata: ["pq.max": "\(options.maximumConnections)", "pq.server": "\(configuration)"])
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.maintain()
                try await Task.sleep(for: .seconds(1))
            }
        }
        await close()
    }

    /// Opens up to the minimum, pings idle connections that have not been used for a while,
    /// and closes surplus connections idle for too long.
    func maintain() async {
        guard !closed else { return }
        while total < options.minimumConnections {
            do {
                let connection = try await openConnection()
                await release(connection)
            } catch {
                logger.warning("cannot open database connection", metadata: ["error": "\(error)"])
                break
            }
        }
        // Only connections idle for a while are taken out to be checked; the rest stay available
        // (and are checked without a round trip when handed out).
        // (Partitioned without suspending, so nothing else can take or return one meanwhile.)
        let now = ContinuousClock.now
        let due = idle.filter { now - $0.since > options.healthCheckInterval }
        idle.removeAll { now - $0.since > options.healthCheckInterval }
        for (connection, since) in due {
            if now - since > options.idleTimeout, total > options.minimumConnections {
                discard(connection, reason: "idle timeout")
            } else if (try? await connection.query("SELECT 1")) == nil {
                discard(connection, reason: "failed health check")
            } else {
                idle.insert((connection, .now), at: 0)
            }
        }
    }

    /// Closes every idle connection, fails every waiter, and closes in-use connections as they
    /// come back.
    public func close() async {
        guard !closed else { return }
        closed = true
        for waiter in waiters {
            waiter.continuation.resume(throwing: PQError(.closed, "the connection pool is closed"))
        }
        waiters.removeAll()
        let connections = idle.map(\.connection)
        idle.removeAll()
        for connection in connections {
            total -= 1
            await connection.close()
        }
        listenerInstance?.stop()
        logger.info("database pool closed")
    }

    // MARK: LISTEN / NOTIFY

    /// Notifications on `channel`, from a dedicated connection that listens again after a reconnect.
    public func listen(_ channel: String) async throws -> PQNotifications {
        if closed { throw PQError(.closed, "the connection pool is closed") }
        if listenerInstance == nil {
            let direct = listenConfiguration ?? configuration
            guard !direct.transactionPooler else {
                throw PQError(
                    .connection, "LISTEN needs a direct connection to PostgreSQL, not one through a transaction pooler")
            }
            listenerInstance = PQListener(configuration: direct, logger: logger)
        }
        return try await listenerInstance!.listen(channel)
    }
}
