import CLibPQ
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One PostgreSQL connection. libpq runs in non-blocking mode: a statement is sent and the task
/// suspends until the socket has its answer (`PQPoller`, one thread waiting on every connection's
/// socket), so no libpq call blocks a thread, Swift's cooperative pool included. Only the
/// connect blocks, and it runs on a dispatch thread.
public actor PQConnection {
    public enum TransactionState: Sendable { case idle, active, inTransaction, failedTransaction, unknown }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    public nonisolated let id: Int
    public nonisolated let logger: Logger
    private var owner: PGConnOwner?
    private var connection: OpaquePointer? { owner?.raw }
    private let notices: NoticeLogger
    private nonisolated let cancelHandle = CancelHandle()
    /// SQL text -> name of the statement prepared for it on this connection.
    private var preparedStatements: [String: String] = [:]
    private static let preparedStatementLimit = 1_000
    /// Statements waiting to go to the server with the next one (see `sendWithNext`), and the
    /// checks of those that have one, by their place in `queued`.
    private var queued: [PQQuery] = []
    private var queuedChecks: [Int: Check] = [:]
    /// What a check of a queued statement threw (`sendWithNext(_:check:)`): every later
    /// statement of the transaction fails with it, COMMIT included, until it is rolled back.
    private var failedCheck: (any Error)?

    /// Looks at a queued statement's rows when they arrive; throws to fail what carried it.
    public typealias Check = @Sendable (PQRows) throws -> Void
    /// Set when the connection answered in a way that leaves it unfit for reuse (the pool discards it).
    private var broken = false
    /// False behind a transaction pooler: every statement goes unnamed (PQConfiguration.transactionPooler).
    private var namesStatements = true

    private init(id: Int, logger: Logger) {
        self.id = id
        var logger = logger
        logger[metadataKey: "pq.connection"] = "\(id)"
        self.logger = logger
        self.notices = NoticeLogger(logger: logger)
    }

    private static let nextID = IDCounter()

    /// Opens a connection; libpq's blocking connect runs on a dispatch thread, never on Swift's
    /// cooperative pool.
    public static func connect(_ configuration: PQConfiguration, logger: Logger = Logger(label: "carerelay.pq"))
        async throws -> PQConnection
    {
        let connection = PQConnection(id: nextID.next(), logger: logger)
        let notices = connection.notices
        let owner = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                // The owner keeps the NoticeLogger alive as long as libpq may call it.
                continuation.resume(
                    with: Result {
                        PGConnOwner(raw: try connectBlocking(configuration, notices: notices), notices: notices)
                    })
            }
        }
        try await connection.open(owner, configuration)
        return connection
    }

    private func open(_ owner: PGConnOwner, _ configuration: PQConfiguration) async throws {
        let conn = owner.raw
        self.owner = owner
        guard PQsetnonblocking(conn, 1) == 0 else {
            throw PQError(.connection, "cannot put the connection in non-blocking mode: \(Self.errorMessage(conn))")
        }
        cancelHandle.set(PQgetCancel(conn))
        namesStatements = !configuration.transactionPooler
        // Decoding relies on ISO dates; a connection string may have overridden our options.
        // Behind a pooler these SETs are how the settings get there: PgBouncer tracks both per
        // client and sets them again on every server connection it lends this one.
        if let style = PQparameterStatus(conn, "DateStyle"), !String(cString: style).hasPrefix("ISO") {
            try await simpleExecute("SET DateStyle = 'ISO, MDY'")
        }
        if configuration.transactionPooler, let zone = PQparameterStatus(conn, "TimeZone"),
            String(cString: zone) != "UTC"
        {
            try await simpleExecute("SET TimeZone = 'UTC'")
        }
        logger.debug("connected", metadata: ["backend.pid": "\(PQbackendPID(conn))"])
    }

    static func errorMessage(_ conn: OpaquePointer?) -> String {
        guard let conn, let message = PQerrorMessage(conn) else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func handle() throws -> OpaquePointer {
        guard let connection else { throw PQError(.closed, "the connection is closed") }
        return connection
    }

    // MARK: Queries

    /// Runs one parameterised statement. Statements are prepared once per connection and reused.
    @discardableResult
    public nonisolated func query(_ query: PQQuery, prepared: Bool = true) async throws -> PQRows {
        try await cancellable { try await $0.runQuery(query, prepared: prepared) }
    }

    /// Task cancellation reaches the server as a cancel request (PQcancel): the statement
    /// stops with SQLSTATE 57014 instead of running on after nobody waits for it.
    private nonisolated func cancellable<T: Sendable>(_ body: @Sendable (isolated PQConnection) async throws -> T)
        async throws -> T
    {
        try Task.checkCancellation()
        return try await withTaskCancellationHandler {
            try await body(self)
        } onCancel: {
            cancelHandle.cancel()
        }
    }

    /// Sends `query` to the server together with the next statement, pipeline or COMMIT run on
    /// this connection: one round trip for both instead of two. For statements whose result
    /// nobody reads (BEGIN, `set_config`, an audit insert before COMMIT). If it fails, that next
    /// call throws its error and the statements after it do not run, as if it had been sent alone.
    public func sendWithNext(_ query: PQQuery) {
        queued.append(query)
    }

    /// Sends `query` with the next statement, as `sendWithNext(_:)` does, and hands its rows to
    /// `check` when that pipeline answers, before anything of it is returned. A check that throws
    /// fails the call that carried the statement with its error (ahead of any error of the
    /// statements after it, which may have failed because of what the check found), and every
    /// later statement of the transaction with the same error, COMMIT included: a caller that
    /// caught it cannot carry on as if it had not happened. A checked statement never goes with
    /// COMMIT (`withTransaction` sends it first), so nothing commits before its check passed.
    ///
    /// This lets a statement whose answer is known in advance, most of the time, run in the same
    /// round trip as what depends on it: the request's token lookup with the command's first
    /// statement, which was built for the principal the token had last time
    /// (docs/architecture.md, "The path of a write").
    public func sendWithNext(_ query: PQQuery, check: @escaping Check) {
        queuedChecks[queued.count] = check
        queued.append(query)
    }

    /// Whether a statement with a check waits to be sent.
    var hasQueuedCheck: Bool { !queuedChecks.isEmpty }

    /// The queued statements, handed over to be sent now, with their checks.
    private func takeQueued() -> (queries: [PQQuery], checks: [Int: Check]) {
        defer {
            queued.removeAll()
            queuedChecks.removeAll()
        }
        return (queued, queuedChecks)
    }

    /// Forgets what was queued and any failed check: the transaction is over.
    private func clearQueued() {
        queued.removeAll()
        queuedChecks.removeAll()
        failedCheck = nil
    }

    func runQuery(_ query: PQQuery, prepared: Bool) async throws -> PQRows {
        if let failedCheck { throw failedCheck }
        if !queued.isEmpty {
            let (queries, checks) = takeQueued()
            guard
                let rows = try await runPipeline(queries + [query], checks: checks, lastUnprepared: !prepared).last
            else {
                throw PQError(.protocolViolation, "a pipeline returned no result")
            }
            return rows
        }
        let binds = try query.encodedBinds()
        let conn = try handle()
        if !prepared || !namesStatements {
            return try await exec(conn) { conn in
                withCStrings(binds) { values in
                    PQsendQueryParams(conn, query.sql, Int32(binds.count), nil, values, nil, nil, 0)
                }
            }
        }
        do {
            return try await execPrepared(conn, query.sql, binds)
        } catch let error as PQError where Self.isStalePreparedStatement(error) && transactionState == .idle {
            // The schema changed under a cached statement (or DISCARD dropped it): prepare again once.
            await forgetPreparedStatement(query.sql)
            return try await execPrepared(conn, query.sql, binds)
        }
    }

    /// Runs the statement and decodes each row with `transform`.
    public nonisolated func query<T>(_ query: PQQuery, _ transform: (PQRow) throws -> T) async throws -> [T] {
        try await self.query(query).map(transform)
    }

    private static func isStalePreparedStatement(_ error: PQError) -> Bool {
        error.sqlState == SQLState.invalidSQLStatementName
            || (error.sqlState == SQLState.featureNotSupported && error.message.contains("cached plan"))
    }

    private func forgetPreparedStatement(_ sql: String) async {
        guard let name = preparedStatements.removeValue(forKey: sql) else { return }
        _ = try? await simpleExecute("DEALLOCATE \(name)")
    }

    private func execPrepared(_ conn: OpaquePointer, _ sql: String, _ binds: [String?]) async throws -> PQRows {
        if preparedStatements[sql] == nil, preparedStatements.count >= Self.preparedStatementLimit {
            try await simpleExecute("DEALLOCATE ALL")
            preparedStatements.removeAll()
        }
        let name = try await preparedName(conn, sql, parameters: binds.count)
        return try await exec(conn) { conn in
            withCStrings(binds) { values in PQsendQueryPrepared(conn, name, Int32(binds.count), values, nil, nil, 0) }
        }
    }

    /// The name of the statement prepared for `sql` on this connection, preparing it the first time.
    private func preparedName(_ conn: OpaquePointer, _ sql: String, parameters: Int) async throws -> String {
        if let existing = preparedStatements[sql] { return existing }
        let name = "pq_\(preparedStatements.count + 1)_\(UInt32.random(in: 0...UInt32.max))"
        _ = try await exec(conn) { PQsendPrepare($0, name, sql, Int32(parameters), nil) }
        preparedStatements[sql] = name
        return name
    }

    // MARK: Waiting for answers

    /// Sends what libpq still holds and waits, suspended, until a result can be read without
    /// blocking. When the connection fails on the way, returns: libpq's next call reports it.
    private func awaitResult(_ conn: OpaquePointer) async {
        let socket = PQsocket(conn)
        guard socket >= 0 else { return }
        // In non-blocking mode a send may leave bytes behind; while the server's answers fill
        // the other direction, read them too (libpq's rule for PQflush), or both sides stall.
        while PQflush(conn) == 1 {
            await PQPoller.shared.wait(socket, writable: true)
            guard PQconsumeInput(conn) == 1 else { return }
        }
        while PQisBusy(conn) == 1 {
            // A large answer arrives faster than libpq reads it (one packet a read while its buffer
            // is small): what is already there is read at once, without a trip through the poller.
            if !Self.readable(socket) { await PQPoller.shared.wait(socket) }
            guard PQconsumeInput(conn) == 1 else { return }
        }
    }

    /// Whether `socket` has something to read now (poll(2) with no wait).
    private static func readable(_ socket: Int32) -> Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// The next result, as PQgetResult returns it, without blocking a thread on the way.
    private func nextResult(_ conn: OpaquePointer) async -> OpaquePointer? {
        await awaitResult(conn)
        return PQgetResult(conn)
    }

    /// What PQexec does, without blocking: `send` queues a command (PQsendQuery and its kin),
    /// and its results are read to the end; the last is returned, an error before it kept.
    private func exec(_ conn: OpaquePointer, _ send: (OpaquePointer) -> Int32) async throws -> PQRows {
        guard send(conn) == 1 else { throw PQError(.connection, Self.errorMessage(conn)) }
        var kept: OpaquePointer?
        while let result = await nextResult(conn) {
            if let previous = kept {
                let failed = [PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE].contains(
                    PQresultStatus(previous))
                if failed {
                    PQclear(result)
                    continue
                }
                PQclear(previous)
            }
            kept = result
        }
        return try checked(kept)
    }

    /// Runs SQL text with no parameters, possibly several statements (migrations, SET, LISTEN).
    /// Statements queued with `sendWithNext` go first, in a round trip of their own.
    public nonisolated func execute(_ sql: String) async throws {
        try await cancellable { connection in
            if let failedCheck = connection.failedCheck { throw failedCheck }
            let (queued, checks) = connection.takeQueued()
            if !queued.isEmpty { _ = try await connection.runPipeline(queued, checks: checks) }
            try await connection.simpleExecute(sql)
        }
    }

    private func simpleExecute(_ sql: String) async throws {
        let conn = try handle()
        _ = try await exec(conn) { PQsendQuery($0, sql) }
    }

    /// Turns a PGresult into rows or a PQError, and frees it.
    private func checked(_ result: OpaquePointer?) throws -> PQRows {
        guard let result else {
            throw PQError(connectionLost ? .connection : .protocolViolation, Self.errorMessage(connection))
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PQRows(taking: result)
        default:
            break
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw error(from: result)
        case PGRES_PIPELINE_ABORTED:
            throw PQError(.server, "statement skipped: an earlier statement in the pipeline failed")
        default:
            throw PQError(
                .protocolViolation, "unexpected result status \(String(cString: PQresStatus(PQresultStatus(result))))")
        }
    }

    private func error(from result: OpaquePointer) -> PQError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let sqlState = field(CPQ_DIAG_SQLSTATE)
        let message =
            field(CPQ_DIAG_MESSAGE_PRIMARY)
            ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        // Every error the server sends carries a SQLSTATE; one without is libpq's own, about the
        // connection (lost before or while the answer came), even before PQstatus says so.
        return PQError(
            sqlState == nil ? .connection : .server,
            message.isEmpty ? Self.errorMessage(connection) : message,
            sqlState: sqlState.map(SQLState.init(rawValue:)), severity: field(CPQ_DIAG_SEVERITY_NONLOCALIZED),
            detail: field(CPQ_DIAG_MESSAGE_DETAIL), hint: field(CPQ_DIAG_MESSAGE_HINT),
            constraint: field(CPQ_DIAG_CONSTRAINT_NAME), table: field(CPQ_DIAG_TABLE_NAME),
            column: field(CPQ_DIAG_COLUMN_NAME), schema: field(CPQ_DIAG_SCHEMA_NAME),
            dataType: field(CPQ_DIAG_DATATYPE_NAME)
        )
    }

    private var connectionLost: Bool {
        guard let connection else { return true }
        return PQstatus(connection) != CONNECTION_OK
    }

    // MARK: Pipelines

    /// Sends every statement in one round trip (libpq pipeline mode) and returns their results in
    /// order. The statements run as one implicit transaction unless the pipeline itself holds
    /// BEGIN/COMMIT: when one fails, the error is thrown and the rest are skipped.
    /// Meant for batches of modest size: results are read only after everything is sent.
    /// Statements queued with `sendWithNext` go in front; their results are not returned.
    public nonisolated func pipeline(_ queries: [PQQuery]) async throws -> [PQRows] {
        try await cancellable { connection in
            let (queued, checks) = connection.takeQueued()
            return Array(try await connection.runPipeline(queued + queries, checks: checks).dropFirst(queued.count))
        }
    }

    /// `lastUnprepared`: the last statement is planned for its values each time (a `query` with
    /// `prepared: false` that carries queued statements). `checks`: by a statement's place, what
    /// looks at its rows before anything is returned (`sendWithNext(_:check:)`).
    private func runPipeline(_ queries: [PQQuery], checks: [Int: Check] = [:], lastUnprepared: Bool = false)
        async throws -> [PQRows]
    {
        if let failedCheck { throw failedCheck }
        let conn = try handle()
        let encoded = try queries.map { try $0.encodedBinds() }
        // Statements are prepared once per connection (before the pipeline) and then sent by
        // name, so a pipeline costs no parsing or planning after the first time.
        let toPrepare = !namesStatements ? queries.prefix(0) : lastUnprepared ? queries.dropLast() : queries[...]
        let unprepared = Set(toPrepare.map(\.sql)).filter { preparedStatements[$0] == nil }
        if !unprepared.isEmpty, preparedStatements.count + unprepared.count > Self.preparedStatementLimit {
            try await simpleExecute("DEALLOCATE ALL")
            preparedStatements.removeAll()
        }
        var names: [String] = []
        for (query, binds) in zip(toPrepare, encoded) {
            names.append(try await preparedName(conn, query.sql, parameters: binds.count))
        }
        guard PQenterPipelineMode(conn) == 1 else {
            throw PQError(.protocolViolation, "cannot enter pipeline mode: \(Self.errorMessage(conn))")
        }
        defer { PQexitPipelineMode(conn) }
        for (index, binds) in encoded.enumerated() {
            let sent = withCStrings(binds) { values in
                index < names.count
                    ? PQsendQueryPrepared(conn, names[index], Int32(binds.count), values, nil, nil, 0)
                    : PQsendQueryParams(conn, queries[index].sql, Int32(binds.count), nil, values, nil, nil, 0)
            }
            guard sent == 1 else { throw PQError(.connection, Self.errorMessage(conn)) }
        }
        guard PQpipelineSync(conn) == 1 else { throw PQError(.connection, Self.errorMessage(conn)) }

        var results: [PQRows] = []
        var toCheck: [(Check, PQRows)] = []
        var firstError: PQError?
        for index in queries.indices {
            // Each statement's results end with a NULL from PQgetResult.
            var rows: PQRows?
            while let result = await nextResult(conn) {
                do {
                    rows = try checked(result)
                } catch let error as PQError {
                    if firstError == nil { firstError = error }
                }
            }
            if let rows {
                results.append(rows)
                if let check = checks[index] { toCheck.append((check, rows)) }
            }
            if connectionLost { break }
        }
        // The sync point. When it does not come (a backend told to terminate sends its FATAL
        // error there, or the connection drops), the connection is unfit for more, and:
        // - every statement answered and the last was COMMIT: the transaction committed, the
        //   answer stands (a failure after COMMIT's OK is a success);
        // - otherwise nothing is known to have committed (an implicit transaction commits only
        //   at the sync): a connection failure, never a protocol violation.
        let answeredCommit = results.count == queries.count && results.last?.commandTag == "COMMIT"
        var synced = false
        if !connectionLost, let sync = await nextResult(conn) {
            synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
            PQclear(sync)
        }
        for (check, rows) in toCheck {
            do {
                try check(rows)
            } catch {
                failedCheck = error
                throw error
            }
        }
        if let firstError { throw firstError }
        if !synced {
            broken = true
            if !answeredCommit {
                throw PQError(
                    .connection,
                    connectionLost ? Self.errorMessage(conn) : "the connection broke before the pipeline's sync")
            }
        }
        return results
    }

    /// What one use of a pooled connection came to (see `PQPool.withIsolatedConnection`).
    enum Lease<T: Sendable>: Sendable {
        /// Found dead before `body` ran: the pool discards it and hands out another.
        case dead
        case finished(Result<T, any Error>, reusable: Bool)
    }

    /// Checks the connection, runs `body` and makes the connection fit for the next user, all
    /// on this connection's executor.
    func lease<T: Sendable>(_ body: @Sendable (isolated PQConnection) async throws -> T) async -> Lease<T> {
        guard isAlive() else { return .dead }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(self))
        } catch {
            result = .failure(error)
        }
        return .finished(result, reusable: await prepareForReuse())
    }

    /// Asks the server to stop the statement running on this connection, if any (PQcancel).
    nonisolated func cancelRunningStatement() {
        cancelHandle.cancel()
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws. BEGIN goes
    /// to the server with the transaction's first statement (`sendWithNext`), and whatever
    /// `body` queued last goes with COMMIT.
    public nonisolated func withTransaction<T>(
        isolation: IsolationLevel? = nil,
        _ body: (PQConnection) async throws -> T
    ) async throws -> T {
        await sendWithNext(PQQuery(isolation.map { "BEGIN ISOLATION LEVEL \($0.rawValue)" } ?? "BEGIN"))
        let value: T
        do {
            value = try await body(self)
        } catch {
            await rollbackQuietly()
            throw error
        }
        do {
            // A statement with a check goes first, on its own: nothing commits before it passed.
            if await hasQueuedCheck { _ = try await pipeline([]) }
            // As a pipeline even when nothing is queued: COMMIT's answer then stands when the
            // connection is lost before the sync that follows it (see `runPipeline`).
            _ = try await pipeline([PQQuery("COMMIT")])
        } catch {
            await rollbackQuietly()
            throw error
        }
        return value
    }

    private func rollbackQuietly() async {
        clearQueued()
        guard let connection, PQstatus(connection) == CONNECTION_OK,
            PQtransactionStatus(connection) != PQTRANS_IDLE
        else { return }
        _ = try? await exec(connection) { PQsendQuery($0, "ROLLBACK") }
    }

    public var transactionState: TransactionState {
        guard let connection else { return .unknown }
        switch PQtransactionStatus(connection) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failedTransaction
        default: return .unknown
        }
    }

    // MARK: Health

    /// The server process serving this connection.
    public var backendPID: Int32 {
        connection.map { PQbackendPID($0) } ?? 0
    }

    public var isOpen: Bool { !connectionLost }

    /// Cheap liveness check with no round trip: if the socket is readable while we expect
    /// nothing, read it; a closed socket (backend terminated, server restarted) shows up here.
    public func isAlive() -> Bool {
        guard let connection, PQstatus(connection) == CONNECTION_OK, !notices.sawFatal else {
            return false
        }
        let socket = PQsocket(connection)
        guard socket >= 0 else { return false }
        // A shutting-down server sends FATAL then closes: read until nothing is left.
        for _ in 0..<4 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(connection) == 0 { return false }
            // A pool connection is not listening; drop stray notifications.
            while let notify = PQnotifies(connection) { PQfreemem(notify) }
        }
        return PQstatus(connection) == CONNECTION_OK && !notices.sawFatal
    }

    /// Makes the connection fit for the next user: rolls back a transaction left open.
    /// Returns false when the connection should be thrown away.
    func prepareForReuse() async -> Bool {
        clearQueued()
        guard !broken, let connection, PQstatus(connection) == CONNECTION_OK else { return false }
        switch PQtransactionStatus(connection) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            logger.warning("connection returned inside a transaction; rolling back")
            guard (try? await exec(connection) { PQsendQuery($0, "ROLLBACK") }) != nil else { return false }
            return PQtransactionStatus(connection) == PQTRANS_IDLE
        default:
            return false
        }
    }

    public func close() {
        cancelHandle.set(nil)
        owner = nil
        preparedStatements.removeAll()
        clearQueued()
    }
}

/// PQconnectdbParams with our defaults: blocks until connected or failed. Notices go to
/// `notices`, which the caller keeps alive as long as the connection.
func connectBlocking(_ configuration: PQConfiguration, notices: NoticeLogger) throws -> OpaquePointer {
    if configuration.role != nil, configuration.transactionPooler {
        throw PQError(
            .connection,
            """
            cannot keep a role for the session behind a transaction pooler (\(configuration)): log in as the role itself
            """
        )
    }
    let parameters = configuration.connectParameters
    let keywords = parameters.map { strdup($0.0) }
    let values = parameters.map { strdup($0.1) }
    defer {
        keywords.forEach { free($0) }
        values.forEach { free($0) }
    }
    let conn = (keywords.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { keywordPointers in
        (values.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { valuePointers in
            PQconnectdbParams(keywordPointers.baseAddress, valuePointers.baseAddress, 1)
        }
    }
    guard let conn else { throw PQError(.connection, "libpq could not allocate a connection") }
    guard PQstatus(conn) == CONNECTION_OK else {
        let message = PQConnection.errorMessage(conn)
        PQfinish(conn)
        throw PQError(.connection, "cannot connect to PostgreSQL at \(configuration): \(message)")
    }
    PQsetNoticeReceiver(
        conn,
        { argument, result in
            guard let argument, let result else { return }
            Unmanaged<NoticeLogger>.fromOpaque(argument).takeUnretainedValue().log(result)
        }, Unmanaged.passUnretained(notices).toOpaque())
    if let role = configuration.role {
        // After connecting rather than as a startup option, so that RESET ROLE goes back to
        // the login itself, not to this role.
        let result = PQexec(conn, "SET ROLE \(quoteIdentifier(role))")
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw PQError(
                .server, "cannot become role \(role) at \(configuration): \(message)", sqlState: .insufficientPrivilege)
        }
    }
    return conn
}

/// Owns one PGconn and frees it when the last reference goes, on whatever thread that is
/// (PQfinish does not block on the server). With CancelPointer, the only `@unchecked Sendable`s of PQ: the
/// pointer is used by the thread that connects it and then only by its PQConnection.
final class PGConnOwner: @unchecked Sendable {
    let raw: OpaquePointer
    private let notices: NoticeLogger

    init(raw: OpaquePointer, notices: NoticeLogger) {
        self.raw = raw
        self.notices = notices
    }

    deinit {
        PQfinish(raw)
    }
}

/// libpq's cancel object for a connection; PQcancel is safe to call from any thread.
final class CancelHandle: Sendable {
    private let handle = Mutex<CancelPointer?>(nil)

    /// PGcancel is an opaque, self-contained copy of what a cancel request needs.
    struct CancelPointer: @unchecked Sendable { let raw: OpaquePointer }

    func set(_ raw: OpaquePointer?) {
        let old = handle.withLock { handle in
            defer { handle = raw.map(CancelPointer.init) }
            return handle
        }
        if let old { PQfreeCancel(old.raw) }
    }

    /// Sends the cancel request from a dispatch thread: PQcancel opens a connection of its own
    /// and waits for the server, and a task's cancellation handler runs wherever the task was
    /// cancelled, often on Swift's cooperative pool.
    func cancel() {
        DispatchQueue.global(qos: .userInitiated).async {
            self.handle.withLock { handle in
                guard let handle else { return }
                var buffer = [CChar](repeating: 0, count: 256)
                _ = PQcancel(handle.raw, &buffer, Int32(buffer.count))
            }
        }
    }

    deinit {
        if let raw = handle.withLock({ $0 }) { PQfreeCancel(raw.raw) }
    }
}

/// Calls `body` with the values as a C array of C strings (NULL for nil).
func withCStrings<R>(_ values: [String?], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let copies = values.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return try body(copies.map { UnsafePointer($0) })
}

/// Sends libpq's NOTICE / WARNING messages to swift-log instead of stderr.
final class NoticeLogger: Sendable {
    let logger: Logger
    /// A FATAL error arrived outside a query (e.g. the server is shutting down): the connection
    /// is finished even if libpq has not noticed the closed socket yet.
    private let fatal = Mutex(false)
    init(logger: Logger) { self.logger = logger }

    var sawFatal: Bool { fatal.withLock { $0 } }

    func log(_ result: OpaquePointer) {
        let severity =
            PQresultErrorField(result, CPQ_DIAG_SEVERITY_NONLOCALIZED).map { String(cString: $0) } ?? "NOTICE"
        let message = PQresultErrorField(result, CPQ_DIAG_MESSAGE_PRIMARY).map { String(cString: $0) } ?? ""
        var metadata: Logger.Metadata = ["pq.severity": "\(severity)"]
        if let code = PQresultErrorField(result, CPQ_DIAG_SQLSTATE) {
            metadata["pq.sqlstate"] = "\(String(cString: code))"
        }
        if severity == "FATAL" || severity == "PANIC" { fatal.withLock { $0 = true } }
        let level: Logger.Level =
            switch severity {
            case "WARNING", "FATAL", "PANIC": .warning
            case "DEBUG": .debug
            case "LOG", "INFO": .info
            default: .notice
            }
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}

/// A process-wide counter for connection ids in logs.
final class IDCounter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock {
            $0 += 1; return $0
        }
    }
}
