import CoreFormats
import CareDomain
import CoreMetrics
import Foundation
import Logging
import PQ

/// Why a store command refused: the caller gets a clear reason and nothing was written.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalid(String)
    /// The caller may see the patient but their roles do not allow this.
    case forbidden(String)
    /// A value that cannot be true, naming the field and what would be accepted (422).
    case invalidValue(InvalidValue)
    /// A status move the status machine does not allow, naming the moves that are (409).
    case moveNotAllowed(TransitionError)
    /// An open record already does what was asked (409); `existing` is its path.
    case alreadyOpen(String, existing: String)
    /// A versioned record (the care plan) was saved by someone else since the caller read it:
    /// it is at `current`, not `expected` (412 with If-Match).
    case staleVersion(what: String, current: Int, expected: Int)
    /// The caller has too much of this under way already (429): `why` says what to do.
    case tooMany(String)

    /// The refusals the database itself makes, as the store's: row-level security (42501) is
    /// forbidden; a check, not-null or foreign-key violation (23514, 23502, 23503) is a value
    /// that cannot be stored, naming the column or rule; a unique violation (23505) a conflict.
    public init?(refusedBy error: PQError) {
        let field = error.column ?? error.constraint ?? "the request"
        switch error.sqlState {
        case .insufficientPrivilege?: self = .forbidden("the database refused this for your role on the patient's team")
        case .checkViolation?:
            self = .invalidValue(
                InvalidValue(
                    field: field, message: "a value breaks a rule of the record (\(error.constraint ?? "a check"))"))
        case .notNullViolation?: self = .invalidValue(InvalidValue(field: field, message: "'\(field)' is required"))
        case .foreignKeyViolation?:
            self = .invalidValue(
                InvalidValue(
                    field: field,
                    message: "a value names something that does not exist (\(error.constraint ?? "a reference"))"))
        case .uniqueViolation?: self = .conflict("that already exists (\(error.constraint ?? "a unique rule"))")
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .conflict(let why): why
        case .invalid(let why): why
        case .forbidden(let why): why
        case .invalidValue(let value): value.message
        case .moveNotAllowed(let error): error.description
        case .alreadyOpen(let why, _): why
        case .staleVersion(let what, let current, let expected):
            "\(what) is at version \(current), not \(expected): someone saved it in the meantime"
        case .tooMany(let why): why
        }
    }
}

/// The care domain on PostgreSQL. Every command is one transaction: the state change, the
/// events it appends and the handoffs the playbook makes of them commit together or not at all.
public struct CareStore: Sendable {
    /// The server's own work (care_service): authentication, the escalation job, webhooks,
    /// administration, reads checked by the gate across a caseload.
    public let pool: PQPool
    /// Requests' transactions, which become care_app (docs/operations.md, "Database roles"):
    /// in production a login that can become nothing else; `pool` when not given.
    public let requestPool: PQPool
    /// Where the weekly report reads when asked to (a streaming standby: docs/operations.md,
    /// "Reports from a replica"); nil: the primary.
    public let reportPool: PQPool?
    let logger: Logger
    /// Where audit entries and handoffs are counted (the server's Prometheus registry).
    let metrics: any MetricsFactory
    /// The dose table, playbook and settings, kept between commands when the server watches
    /// them for changes (`watchReferenceData`); nil: read in every command that needs them.
    let referenceCache: ReferenceCache?
    /// The principal each recently seen token was found to speak for: a request's token lookup
    /// then goes with its command's first statement instead of in a round trip of its own.
    let principalGuesses = PrincipalGuesses()

    public init(
        pool: PQPool, requestPool: PQPool? = nil, reportPool: PQPool? = nil,
        logger: Logger = Logger(label: "carerelay.store"),
        metrics: any MetricsFactory = NOOPMetricsHandler.instance, cacheReferenceData: Bool = false
    ) {
        self.pool = pool
        self.requestPool = requestPool ?? pool
        self.reportPool = reportPool
        self.logger = logger
        self.metrics = metrics
        self.referenceCache = cacheReferenceData ? ReferenceCache() : nil
    }

    /// Keeps the reference-data cache true: every change to the dose table, playbook or rule
    /// settings (a trigger NOTIFYs care_reference_changed) and every reconnection of the listener
    /// empties it. Runs until cancelled; care-server runs it as a service.
    public func watchReferenceData() async throws {
        guard let referenceCache else { return }
        let events = try await pool.listen("care_reference_changed")
        referenceCache.invalidate()
        for await event in events {
            referenceCache.invalidate()
            if case .notification(let note) = event {
                logger.info("reference data changed; reading it again", metadata: ["table": "\(note.payload)"])
            }
        }
    }

    func count(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int) {
        guard amount > 0 else { return }
        Counter(label: label, dimensions: dimensions, factory: metrics).increment(by: amount)
    }

    /// Runs one command for `caller` in its own transaction, retried on serialization failures
    /// and deadlocks.
    ///
    /// For a request the transaction looks the request's token up first, if nothing did before
    /// (`CommandContext.enter`: one visit to one connection for the whole request), runs as
    /// care_app with the acting member set for row-level security, claims the request's
    /// Idempotency-Key, and writes the audit entries of the patients it touched before it commits.
    /// A refusal is audited too, in a transaction of its own (the command's was rolled back).
    ///
    /// `asService` keeps the server's rights (care_service) for the whole transaction (no care_app, no row-level
    /// security): for reads that check the caller themselves and filter by team explicitly,
    /// such as the weekly report across a whole caseload.
    /// `claimsKey` false: a read that a write of the same request follows (the weekly report
    /// before its snapshot) leaves the Idempotency-Key to that write.
    func command<T: Sendable>(
        _ caller: Caller, asService: Bool = false, isolation: PQConnection.IsolationLevel? = nil,
        claimsKey: Bool = true,
        _ body: @Sendable (CommandContext) async throws -> T
    ) async throws -> T {
        let actor = caller.request
        let trail = AuditTrail()
        do {
            // The whole transaction runs on its connection's executor (see withIsolatedTransaction).
            let pool = actor != nil && !asService ? requestPool : pool
            func transaction() async throws -> (T, (Bool, StoredResponse?)) {
                try await pool.withIsolatedTransaction(isolation: isolation, retries: 5) { connection in
                    trail.handoffs = 0
                    let context = CommandContext(
                        connection: connection, caller: caller, trail: trail, referenceCache: referenceCache,
                        principalGuesses: principalGuesses)
                    if let actor { try await context.enter(actor, asService: asService) }
                    let claimedKey = claimsKey ? try await context.claimIdempotencyKey() : false
                    let result = try await body(context)
                    let answer = claimedKey ? try await context.keepAnswer(result) : nil
                    await context.writeAudit(outcome: "allowed")
                    return (result, (claimedKey, answer))
                }
            }
            let (result, claimed): (T, (Bool, StoredResponse?))
            do {
                (result, claimed) = try await transaction()
            } catch {
                guard try await guessWasWrong(actor, failedWith: error) else { throw error }
                // Built for the token's old roles and rolled back: again, for the ones found.
                trail.patients.removeAll()
                (result, claimed) = try await transaction()
            }
            // Only a committed key counts as claimed (a retried or failed transaction wrote none).
            if claimed.0 {
                actor?.idempotency?.claimed.withLock { $0 = true }
                actor?.idempotency?.keptAnswer.withLock { $0 = claimed.1 }
            }
            if let actor, !(trail.skipWhenNoPatient && trail.patients.isEmpty && actor.patientID == nil) {
                count("carerelay_audit_entries_total", [("outcome", "allowed")], by: max(trail.patients.count, 1))
            }
            count("carerelay_handoffs_created_total", by: trail.handoffs)
            return result
        } catch let error as PQError where StoreError(refusedBy: error) != nil {
            // The database refused what a check above let through: still a refusal, never a 500.
            let refusal = StoreError(refusedBy: error)!
            await auditRefused(refusal, actor: actor, trail: trail)
            throw refusal
        } catch let error as StoreError {
            await auditRefused(error, actor: actor, trail: trail)
            throw error
        }
    }

    /// After a command's transaction failed: whether it was built for a principal the request's
    /// token no longer speaks for (`CommandContext.enter`'s guess), so that the command must run
    /// again for the one found. A guess the transaction never checked (it failed, or refused the
    /// request, before its first statement went out) is checked now, on a visit of its own: no
    /// refusal stands on roles that were only guessed.
    private func guessWasWrong(_ actor: RequestActor?, failedWith error: any Error) async throws -> Bool {
        if error is PrincipalChanged { return true }
        guard let actor, actor.credential.settled == nil, let guess = actor.credential.guess, !Task.isCancelled else {
            return false
        }
        let found = try await authenticate(actor.credential)
        principalGuesses.keep(found, for: actor.credential.tokenHash)
        guard let found else { throw AuthenticationFailed() }
        return found != guess
    }

    /// Audits a refusal in a transaction of its own (the command's was rolled back).
    func auditRefused(_ error: StoreError, actor: RequestActor?, trail: AuditTrail) async {
        // An unknown token is answered 401 by the API and audited nowhere; a token not looked up
        // yet (the request's rules refused it before any command) is looked up by the entry's
        // own transaction.
        guard let actor, actor.credential.settled.map({ $0.principal != nil }) ?? true else { return }
        let outcome: String
        switch error {
        case .notFound, .forbidden: outcome = "denied"
        case .conflict, .invalid, .invalidValue, .moveNotAllowed, .alreadyOpen, .staleVersion, .tooMany:
            outcome = "failed"
        }
        // A refusal is always audited: by the patient when one is known, otherwise with no
        // patient (another team's task looked up by its id, a team the caller is not on).
        // A request that failed its own rules is audited when it named a patient.
        if outcome == "denied" || !trail.patients.isEmpty || actor.patientID != nil,
            await auditRefusal(actor: actor, patients: trail.patients, outcome: outcome, detail: error.description)
        {
            count("carerelay_audit_entries_total", [("outcome", outcome)], by: max(trail.patients.count, 1))
        }
    }

    private func auditRefusal(actor: RequestActor, patients: [UUID], outcome: String, detail: String) async -> Bool {
        do {
            try await requestPool.withTransaction { connection in
                let context = CommandContext(connection: connection, caller: .request(actor), trail: AuditTrail())
                try await context.enter(actor)
                await Audit.write(connection, actor: actor, patients: patients, outcome: outcome, detail: detail)
            }
            return true
        } catch is AuthenticationFailed {
            return false
        } catch {
            logger.error(
                "could not write the audit entry of a refused request",
                metadata: ["error": "\(error)", "request_id": "\(actor.requestID)"])
            return false
        }
    }
}

/// What a command works with inside its transaction.
final class CommandContext {
    let connection: PQConnection
    /// Who the command runs for.
    let caller: Caller
    /// The request it runs for; nil for the system.
    var acting: RequestActor? { caller.request }
    let trail: AuditTrail
    let referenceCache: ReferenceCache?
    /// Where `enter` finds what a request's token was found to speak for last time.
    let principalGuesses: PrincipalGuesses?
    /// The dose table, playbook and settings, read once per transaction (or kept by the cache).
    private var reference: ReferenceData?
    /// Event ids taken from the log's sequence ahead of their inserts (`reservingEvents`), and
    /// the transaction's time, which every event of the transaction gets as `occurred_at`: an
    /// `append` that finds one is sent with the next statement instead of waiting for its
    /// RETURNING (docs/architecture.md, "The path of a write").
    private var reservedEventIDs: ArraySlice<Int64> = []
    private var transactionTime: Date?
    /// Open one-per-patient handoffs read ahead under the patient's lock (`openHandoffs`), by
    /// patient: the steps asked about, and the open handoff of each step that has one.
    private var openHandoffsRead: [UUID: (steps: Set<String>, open: [String: OpenHandoff])] = [:]

    struct OpenHandoff {
        var id: UUID
        /// Its causes not withdrawn.
        var causes: Int
    }

    init(
        connection: PQConnection, caller: Caller, trail: AuditTrail = AuditTrail(),
        referenceCache: ReferenceCache? = nil, principalGuesses: PrincipalGuesses? = nil
    ) {
        self.connection = connection
        self.caller = caller
        self.trail = trail
        self.referenceCache = referenceCache
        self.principalGuesses = principalGuesses
    }

    /// Appends an event and makes the handoffs the playbook asks for, in this transaction.
    ///
    /// With an event id reserved (`reservingEvents`) the insert is queued: it goes to the server
    /// with the transaction's next statement (at the latest its COMMIT), and an error in it fails
    /// that statement. Without one, the insert is sent now and its RETURNING read. The playbook's
    /// inserts are queued either way.
    @discardableResult
    func append(
        _ type: EventType, teamID: UUID?, patientID: UUID?, actorID: UUID?, payload: [String: String] = [:],
        playbookEvent: (Date) -> PlaybookEvent? = { _ in nil }
    ) async throws -> AppendedEvent {
        let id: Int64
        let occurredAt: Date
        if let reserved = reservedEventIDs.popFirst(), let transactionTime {
            await connection.sendWithNext(
                """
                INSERT INTO events (id, type, team_id, patient_id, actor_id, payload) OVERRIDING SYSTEM VALUE
                VALUES (\(reserved), \(type), \(teamID), \(patientID), \(actorID), \(PQJSON(payload))::jsonb)
                """)
            (id, occurredAt) = (reserved, transactionTime)
        } else {
            let row = try await connection.query(
                """
                INSERT INTO events (type, team_id, patient_id, actor_id, payload)
                VALUES (\(type), \(teamID), \(patientID), \(actorID), \(PQJSON(payload))::jsonb)
                RETURNING id, occurred_at
                """)
            (id, occurredAt) = try row[0].decode(Int64.self, Date.self)
        }
        var handoffs: (made: [UUID], joined: [UUID]) = ([], [])
        if let patientID, let event = playbookEvent(occurredAt) {
            handoffs = try await applyPlaybook(eventID: id, event: event, teamID: teamID, patientID: patientID)
        }
        return AppendedEvent(
            id: id, occurredAt: occurredAt, handoffIDs: handoffs.made, joinedHandoffIDs: handoffs.joined)
    }

    /// Takes `count` ids from the event log's sequence, with the transaction's time, for the
    /// events a command is about to append: sent in the command's first pipeline and read back
    /// by `keepReservedEvents`, so that its appends need no round trip of their own. Each is
    /// taken in the order its event is appended, before any other event of the transaction, so
    /// the log's ids keep the order of the inserts; an id left unused is a gap, as a rolled-back
    /// transaction leaves (nothing reads meaning into the ids' spacing).
    static func reservingEvents(_ count: Int) -> PQQuery {
        "SELECT nextval('events_id_seq'), now() FROM generate_series(1, \(count))"
    }

    func keepReservedEvents(_ rows: PQRows) throws {
        var ids: [Int64] = []
        for row in rows {
            let (id, time) = try row.decode(Int64.self, Date.self)
            ids.append(id)
            transactionTime = time
        }
        reservedEventIDs = ids[...]
    }

    /// The open one-per-patient handoffs of `steps` for the patient that `patient` (an
    /// expression: the id, or a lookup of it) names, read back by `keepOpenHandoffs`. Only valid
    /// under the patient's row lock, taken by an earlier statement of the transaction (see
    /// `applyPlaybook`).
    static func openHandoffs(patient: PQQuery, steps: [String]) -> PQQuery {
        """
        SELECT h.id, h.step_key, (SELECT count(*) FROM handoff_causes c WHERE c.handoff_id = h.id AND
            c.withdrawn_at IS NULL)::int
        FROM handoffs h JOIN tasks t ON t.id = h.task_id
        WHERE h.patient_id = \(fragment: patient) AND h.step_key = ANY(\(steps)) AND h.superseded_at IS NULL
          AND t.status NOT IN ('completed', 'cancelled', 'failed')
        ORDER BY h.created_at
        """
    }

    static func openHandoffs(_ rows: PQRows) throws -> [String: OpenHandoff] {
        var open: [String: OpenHandoff] = [:]
        for row in rows {
            let (id, step, causes) = try row.decode(UUID.self, String.self, Int.self)
            if open[step] == nil { open[step] = OpenHandoff(id: id, causes: causes) }
        }
        return open
    }

    /// Keeps what `openHandoffs` read for `patientID`, so that `applyPlaybook` need not lock
    /// and read again: the caller holds the patient's row lock.
    func keepOpenHandoffs(_ rows: PQRows, patientID: UUID, steps: [String]) throws {
        openHandoffsRead[patientID] = (Set(steps), try Self.openHandoffs(rows))
    }

    /// One task in the receiving role's pool and one handoff per matching playbook step, each
    /// announced by a handoff.created event (for the feed and webhooks). A one-per-patient step
    /// whose handoff is still open for the patient gets this event as one more cause instead
    /// (handoff.cause_added). UNIQUE (event_id, step_key) on the causes makes a second handoff,
    /// or a second attachment, for the same step of the same event impossible. The inserts are
    /// queued: they go to the server with the transaction's next statement.
    private func applyPlaybook(eventID: Int64, event: PlaybookEvent, teamID: UUID?, patientID: UUID) async throws -> (
        made: [UUID], joined: [UUID]
    ) {
        let plans = try await loadPlaybook().handoffs(for: event)
        guard !plans.isEmpty else { return ([], []) }
        var open: [String: OpenHandoff] = [:]
        let shared = plans.filter(\.onePerPatient).map(\.stepKey)
        if let read = openHandoffsRead[patientID], read.steps.isSuperset(of: shared) {
            open = read.open
        } else if !shared.isEmpty {
            // The patient's row lock makes concurrent causes take turns: the second finds the
            // handoff the first made (each statement of a read-committed transaction sees what
            // committed before it began).
            await connection.sendWithNext("SELECT 1 FROM patients WHERE id = \(patientID) FOR UPDATE")
            open = try Self.openHandoffs(
                try await connection.query(Self.openHandoffs(patient: "\(patientID)", steps: shared)))
        }
        var handoffIDs: [UUID] = []
        var joined: [UUID] = []
        var inserts: [PQQuery] = []
        for plan in plans {
            if plan.onePerPatient, let existing = open[plan.stepKey] {
                let causes = existing.causes + 1
                inserts.append(
                    """
                    INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary)
                    VALUES (\(existing.id), \(eventID), \(plan.stepKey), \(patientID), \(event.subjectID),
                        \(plan.reason))
                    """)
                inserts.append(
                    """
                    UPDATE tasks SET title = \(HandoffPlan.title(plan.title, causes: causes)), updated_at = now() WHERE
                        id = \(existing.id)
                    """)
                // The newest cause is the one the receiver has not heard of: it becomes the
                // handoff's reason (docs/domain.md, "One open piece of work per decision").
                inserts.append("UPDATE handoffs SET reason = \(plan.reason) WHERE id = \(existing.id)")
                let announced: [String: String] = [
                    "handoff_id": existing.id.lowercasedString, "task_id": existing.id.lowercasedString,
                    "step": plan.stepKey,
                    "cause_event_id": String(eventID), "causes": String(causes),
                ]
                inserts.append(
                    """
                    INSERT INTO events (type, team_id, patient_id, actor_id, payload)
                    VALUES (\(EventType.handoffCauseAdded), \(teamID), \(patientID), NULL, \(PQJSON(announced))::jsonb)
                    """)
                joined.append(existing.id)
                open[plan.stepKey]?.causes = causes
                continue
            }
            // One id for one piece of work: the handoff and its task share it.
            let id = UUID.random()
            inserts.append(
                """
                INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id)
                VALUES (\(id), \(patientID), \(plan.title), \(plan.role.rawValue), \(plan.priority.rawValue),
                    \(plan.due), 'handoff', \(id))
                """)
            inserts.append(
                """
                INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at)
                VALUES (\(id), \(eventID), \(plan.stepKey), \(patientID), \(plan.role.rawValue), \(id), \(plan.reason),
                    \(plan.due))
                """)
            inserts.append(
                """
                INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary)
                VALUES (\(id), \(eventID), \(plan.stepKey), \(patientID), \(event.subjectID), \(plan.reason))
                """)
            let announced: [String: String] = [
                "handoff_id": id.lowercasedString, "task_id": id.lowercasedString, "role": plan.role.rawValue,
                "step": plan.stepKey, "cause_event_id": String(eventID),
            ]
            inserts.append(
                """
                INSERT INTO events (type, team_id, patient_id, actor_id, payload)
                VALUES (\(EventType.handoffCreated), \(teamID), \(patientID), NULL, \(PQJSON(announced))::jsonb)
                """)
            handoffIDs.append(id)
            if plan.onePerPatient { open[plan.stepKey] = OpenHandoff(id: id, causes: 1) }
        }
        // Sent with the transaction's next statement (one round trip for all of them, libpq's
        // pipeline mode, inside this transaction).
        for insert in inserts { await connection.sendWithNext(insert) }
        // A later event of this transaction finds what this one made or joined.
        if let read = openHandoffsRead[patientID] { openHandoffsRead[patientID] = (read.steps, open) }
        trail.handoffs += handoffIDs.count
        return (handoffIDs, joined)
    }

    func loadPlaybook() async throws -> Playbook {
        try await referenceData().playbook
    }

    func referenceData() async throws -> ReferenceData {
        if let reference { return reference }
        if let cached = referenceCache?.value {
            reference = cached
            return cached
        }
        let generation = referenceCache?.generation
        let loaded = try await ReferenceData.load(connection)
        if let generation { referenceCache?.store(loaded, ifStill: generation) }
        reference = loaded
        return loaded
    }
}

public struct AppendedEvent: Sendable, Equatable {
    public var id: Int64
    public var occurredAt: Date
    /// Handoffs the event made.
    public var handoffIDs: [UUID]
    /// Open one-per-patient handoffs the event joined as one more cause.
    public var joinedHandoffIDs: [UUID] = []
}

/// The reference data between commands. A load that began before an invalidation is not kept
/// (the generation moved on), so a change is never papered over by a slow reader.
public final class ReferenceCache: @unchecked Sendable {
    private let lock = NSLock()
    private var data: ReferenceData?
    private var currentGeneration = 0

    var value: ReferenceData? { lock.withLock { data } }
    var generation: Int { lock.withLock { currentGeneration } }

    func store(_ loaded: ReferenceData, ifStill generation: Int) {
        lock.withLock { if currentGeneration == generation { data = loaded } }
    }

    public func invalidate() {
        lock.withLock {
            data = nil
            currentGeneration += 1
        }
    }
}

extension RawRepresentable where RawValue == String {
    /// An enum column's value, or a decoding error naming the column: never a default that
    /// would turn a bad row into a plausible one.
    init(column: String, _ value: String) throws {
        guard let decoded = Self(rawValue: value) else {
            throw PQError(.decoding, "\(column) holds '\(value)', which is not a \(Self.self)")
        }
        self = decoded
    }
}

extension String.StringInterpolation {
    /// Ids in every message are lower-case, as the API and PostgreSQL write them: "trial \(id)"
    /// reads the same in a problem, a log line and a database row. (SQL is built with PQQuery's
    /// own interpolation, where a UUID is a parameter, so this does not reach it.)
    mutating func appendInterpolation(_ id: UUID) {
        appendLiteral(id.lowercasedString)
    }
}

extension EventType: PQEncodable {
    /// Stored under its name.
    public func pqEncode() throws -> String? { rawValue }
}
