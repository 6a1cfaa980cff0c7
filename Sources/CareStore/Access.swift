import CoreFormats
import CareDomain
import Crypto
import Foundation
import PQ
import Synchronization

/// Who a store command acts for. Every command takes one, as an argument: there is no ambient
/// identity that a forgotten call could skip (docs/architecture.md, "One gate").
///
/// - A request's caller (`.request`): the command runs as care_app with the member set for
///   row-level security, asks the one permission gate (`CommandContext.authorize`) before it
///   touches a patient, and writes the audit entry in its own transaction.
/// - The system (`.system`): the server's own work (the escalation job, admin commands run by an
///   operator, seeding): care_service's rights (docs/operations.md, "Database roles"), no permission
///   check, no audit entry. `actingFor` is who the records name as having done it (a seeded note's
///   author, say).
public struct Caller: Sendable {
    public let request: RequestActor?
    private let actingFor: UUID?

    /// The member recorded as the actor, author or recorder; nil for the system on its own.
    /// A request's is known once its token is looked up: read it inside the command.
    public var memberID: UUID? { request.map(\.principal.memberID) ?? actingFor }

    public static func request(_ actor: RequestActor) -> Caller { Caller(request: actor, actingFor: nil) }

    public static func system(actingFor member: UUID? = nil) -> Caller { Caller(request: nil, actingFor: member) }
}

/// A request as the store sees it: who (the principal), and what the audit log calls it.
public struct RequestActor: Sendable {
    /// The bearer token, looked up by the first command's transaction (or before, when
    /// something needed the principal first).
    public let credential: Credential
    public var requestID: String
    /// What the request does, e.g. "trial.outcome.record"; and what it names, e.g. "/v1/trials/<id>/outcome".
    public var action: String
    public var resource: String
    /// The patient the request names in its path, for the audit entry of a refusal.
    public var patientID: UUID?
    /// An Idempotency-Key to claim in the first command's transaction.
    public var idempotency: IdempotencyClaim?

    public init(
        credential: Credential, requestID: String, action: String, resource: String, patientID: UUID? = nil,
        idempotency: IdempotencyClaim? = nil
    ) {
        self.credential = credential
        self.requestID = requestID
        self.action = action
        self.resource = resource
        self.patientID = patientID
        self.idempotency = idempotency
    }

    public init(
        principal: Principal, requestID: String, action: String, resource: String, patientID: UUID? = nil,
        idempotency: IdempotencyClaim? = nil
    ) {
        self.init(
            credential: Credential(principal: principal), requestID: requestID, action: action, resource: resource,
            patientID: patientID, idempotency: idempotency)
    }

    /// Who the request acts for. Only a command's body reads it (its transaction looked the token
    /// up first, `CareStore.command`, or sends the lookup with its first statement and acts for
    /// the principal the token had last time until then), or code that authenticated the
    /// credential itself.
    public var principal: Principal {
        guard let principal = credential.settled?.principal ?? credential.guess else {
            preconditionFailure("a request's principal was read before its token was looked up")
        }
        return principal
    }
}

/// The token a request presented is unknown, revoked or expired (found out in the first
/// command's transaction, which rolled back). The API answers 401.
public struct AuthenticationFailed: Error, Sendable {
    public init() {}
}

/// A POST's Idempotency-Key and the hash of what it was sent with.
public final class IdempotencyClaim: Sendable {
    public let key: String
    public let requestHash: Data
    /// Set once the key row is committed (in the first command's transaction).
    let claimed = Mutex(false)
    /// Makes the answer to keep with the key from the command's result, in its transaction.
    public typealias Answerer = @Sendable (any Sendable) throws -> StoredResponse?
    private let answerer = Mutex<Answerer?>(nil)
    /// The answer kept with the key, once its transaction committed.
    let keptAnswer = Mutex<StoredResponse?>(nil)

    public init(key: String, requestHash: Data) {
        self.key = key
        self.requestHash = requestHash
    }

    public var isClaimed: Bool { claimed.withLock { $0 } }

    /// How the command that claims the key makes its answer, so that the answer commits with
    /// the change and the key (a write that committed always has its answer to replay).
    public func keepAnswer(_ answer: @escaping Answerer) { answerer.withLock { $0 = answer } }

    /// The answer kept in the claiming command's transaction, if it made one.
    public var kept: StoredResponse? { keptAnswer.withLock { $0 } }

    func answer(for result: any Sendable) throws -> StoredResponse? {
        guard let answerer = answerer.withLock({ $0 }) else { return nil }
        return try answerer(result)
    }
}

/// What an earlier request with the same Idempotency-Key got.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String?
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, contentType: String?, headers: [String: String], body: Data) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

public enum IdempotencyError: Error, Sendable, Equatable {
    /// The first request with this key is still being processed.
    case inFlight
    /// The key was used with another request.
    case mismatch
    /// The first request with this key finished; here is its response.
    case replay(StoredResponse)
    /// The first request's change committed but its response was never kept (its server
    /// stopped in between): the change is there, once; the caller should look it up.
    case responseLost
}

/// The patients a command touched and whether it wrote, for the audit entries.
final class AuditTrail: @unchecked Sendable {
    var patients: [UUID] = []
    /// Handoffs made by the committed attempt (reset when a transaction is retried).
    var handoffs = 0
    /// A read that named no patient disclosed nothing: no entry (an empty feed poll).
    var skipWhenNoPatient = false
    func touch(_ patientID: UUID) { if !patients.contains(patientID) { patients.append(patientID) } }
    func touch(_ ids: [UUID]) { for id in ids { touch(id) } }
}

extension CommandContext {
    /// Becomes care_app for the rest of the transaction, with the acting member set for RLS and
    /// the token and request id the audit trigger writes (migration 0012).
    ///
    /// A token not looked up yet is looked up here, as the transaction's first statement (sent
    /// with BEGIN, one round trip), and the member comes from what it found: authentication,
    /// the Idempotency-Key, the command and its audit entries share one visit to one connection.
    /// An unknown token ends the transaction with `AuthenticationFailed`. Otherwise this is sent
    /// with the transaction's next statement. `asService`: the lookup only, keeping the server's
    /// rights.
    func enter(_ actor: RequestActor, asService: Bool = false) async throws {
        let credential = actor.credential
        if credential.settled == nil {
            if !asService { await connection.sendWithNext("SELECT set_config('role', 'care_app', true)") }
            let lookup: PQQuery = """
                SELECT a.*, set_config('carerelay.member_id', a.member_id::text, true),
                       set_config('carerelay.token_id', a.token_id::text, true),
                       set_config('carerelay.request_id', \(actor.requestID), true)
                FROM \(fragment: credential.lookup)
                """
            if let guesses = principalGuesses, let guess = guesses.principal(for: credential.tokenHash) {
                // The token was found a moment ago: the lookup goes with the command's first
                // statement, built for the principal found then, and is checked before anything
                // of that round trip is used (docs/architecture.md, "The path of a write").
                credential.assume(guess)
                await connection.sendWithNext(lookup) { rows in
                    let found = try Principal(row: rows.firstRow)
                    guard found == guess else {
                        credential.settle(found)
                        guesses.keep(found, for: credential.tokenHash)
                        throw found == nil ? AuthenticationFailed() as any Error : PrincipalChanged()
                    }
                    credential.settle(found)
                }
                return
            }
            let principal = try Principal(row: try await connection.query(lookup).firstRow)
            credential.settle(principal)
            principalGuesses?.keep(principal, for: credential.tokenHash)
            guard principal != nil else { throw AuthenticationFailed() }
            return
        }
        guard !asService else { return }
        await connection.sendWithNext(
            """
            SELECT set_config('role', 'care_app', true), set_config('carerelay.member_id',
                \(actor.principal.memberID.lowercasedString), true),
                   set_config('carerelay.token_id', \(actor.principal.tokenID.lowercasedString), true),
                   set_config('carerelay.request_id', \(actor.requestID), true)
            """)
    }

    /// The one permission gate: refuses unless the caller may do `permission` on `teamID`'s
    /// patients (and, with `record`, to that record), as the domain's permission table decides;
    /// notes the patient for the audit entry. Not on the team: 404 (its existence is not
    /// revealed); on it without the right: 403 with the table's sentence. The system passes.
    func authorize(_ permission: Permission, teamID: UUID, patientID: UUID?, record: RecordRule? = nil) throws {
        if let patientID { trail.touch(patientID) }
        guard let actor = acting else { return }
        let roles = actor.principal.roles[teamID] ?? []
        guard !roles.isEmpty else {
            // Row-level security hides other teams' patients; this is the second check.
            throw StoreError.notFound(
                patientID.map { "patient \($0.lowercasedString)" } ?? "team \(teamID.lowercasedString)")
        }
        let decision = Permission.decide(
            permission, roles: roles, scopes: Set(actor.principal.scopes.map(\.rawValue)),
            memberID: actor.principal.memberID, record: record)
        if case .refused(let reason) = decision { throw StoreError.forbidden(reason) }
    }

    /// The same gate for what belongs to no one team (creating a team): allowed when any of the
    /// caller's teams allows it.
    func authorizeAnyTeam(_ permission: Permission) throws {
        try CareStore.authorize(permission, onAnyTeam: caller)
    }

    /// The teams on which the caller holds `permission` (none for the system: it reads no feed).
    func teams(allowing permission: Permission) -> [UUID] {
        CareStore.teams(of: caller, allowing: permission)
    }

    /// Queues the answer to keep with the key the transaction claimed: it goes to the server with
    /// COMMIT, so the change, its key and its answer commit together.
    func keepAnswer(_ result: any Sendable) async throws -> StoredResponse? {
        guard let actor = acting, let claim = actor.idempotency, let answer = try claim.answer(for: result) else {
            return nil
        }
        await connection.sendWithNext(
            """
            UPDATE idempotency_keys SET response_status = \(answer.status), response_type = \(answer.contentType),
                response_headers = \(PQJSON(answer.headers))::jsonb, response_body = \(answer.body)
            WHERE member_id = \(actor.principal.memberID) AND key = \(claim.key)
            """)
        return answer
    }

    /// Claims the request's Idempotency-Key in this transaction: the key commits with the change.
    /// The key's lock and its lookup go in one round trip; the insert goes with the command's
    /// first statement.
    func claimIdempotencyKey() async throws -> Bool {
        guard let actor = acting, let claim = actor.idempotency, !claim.isClaimed else { return false }
        let member = actor.principal.memberID
        let lockKey = Int64(
            bitPattern: UInt64(
                SHA256.hash(data: Data("\(member):\(claim.key)".utf8)).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }))
        let results = try await connection.pipeline([
            "SELECT pg_try_advisory_xact_lock(\(lockKey))", IdempotencyKeys.find(member: member, key: claim.key),
        ])
        guard try results[0][0].decode(Bool.self, at: 0) else { throw IdempotencyError.inFlight }
        if let existing = try IdempotencyKeys.stored(results[1]) {
            throw try IdempotencyKeys.outcome(of: existing, for: claim)
        }
        await connection.sendWithNext(
            """
            INSERT INTO idempotency_keys (member_id, key, request_hash) VALUES (\(member), \(claim.key),
                \(claim.requestHash))
            """)
        return true
    }

    /// The audit entries of a successful command: one per patient it touched.
    func writeAudit(outcome: String) async {
        guard let actor = acting else { return }
        if trail.skipWhenNoPatient, trail.patients.isEmpty, actor.patientID == nil { return }
        await Audit.write(connection, actor: actor, patients: trail.patients, outcome: outcome, detail: nil)
    }
}

extension CareStore {
    /// The gate for what belongs to no one team, before any database work: whether any of the
    /// caller's teams allows `permission` (e.g. webhooks: settled before a URL is looked up).
    public static func authorize(_ permission: Permission, onAnyTeam caller: Caller) throws {
        guard caller.request != nil else { return }
        guard !teams(of: caller, allowing: permission).isEmpty else { throw StoreError.forbidden(permission.refusal) }
    }

    static func teams(of caller: Caller, allowing permission: Permission) -> [UUID] {
        guard let principal = caller.request?.principal else { return [] }
        let scopes = Set(principal.scopes.map(\.rawValue))
        return principal.roles.filter { permission.allows(roles: $0.value, scopes: scopes) }.map(\.key).sorted {
            $0.uuidString < $1.uuidString
        }
    }
}

enum Audit {
    /// One entry per patient (one statement); with no patient, one entry naming none. The
    /// insert goes to the server with the next statement, COMMIT (`sendWithNext`): an error in
    /// it fails the COMMIT.
    static func write(
        _ connection: PQConnection, actor: RequestActor, patients: [UUID], outcome: String, detail: String?
    ) async {
        let patients = patients.isEmpty ? actor.patientID.map { [$0] } ?? [] : patients
        if patients.isEmpty {
            await connection.sendWithNext(
                """
                INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id,
                    detail)
                VALUES (\(actor.principal.memberID), \(actor.principal.tokenID), \(actor.action), NULL,
                    \(actor.resource),
                        \(outcome), \(actor.requestID), \(detail))
                """)
            return
        }
        await connection.sendWithNext(
            """
            INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id, detail)
            SELECT \(actor.principal.memberID), \(actor.principal.tokenID), \(actor.action), p, \(actor.resource),
                   \(outcome), \(actor.requestID), \(detail)
            FROM unnest(\(patients)::uuid[]) AS p
            """)
    }
}

struct StoredKey {
    var requestHash: Data
    var createdAt: Date
    var response: StoredResponse?
}

enum IdempotencyKeys {
    static func find(member: UUID, key: String) -> PQQuery {
        """
        SELECT request_hash, created_at, response_status, response_type, response_headers, response_body
        FROM idempotency_keys WHERE member_id = \(member) AND key = \(key)
        """
    }

    static func stored(_ rows: PQRows) throws -> StoredKey? {
        guard let row = rows.firstRow else { return nil }
        let (hash, created, status, type, headers, body) = try row.decode(
            Data.self, Date.self, Int?.self, String?.self, PQJSON<[String: String]>?.self, Data?.self)
        let response = status.map {
            StoredResponse(status: $0, contentType: type, headers: headers?.value ?? [:], body: body ?? Data())
        }
        return StoredKey(requestHash: hash, createdAt: created, response: response)
    }

    /// How long a committed key may wait for its response before it is taken as lost.
    static let responseGrace: TimeInterval = 60

    static func outcome(of stored: StoredKey, for claim: IdempotencyClaim, now: Date = Date()) throws
        -> IdempotencyError
    {
        guard stored.requestHash == claim.requestHash else { return .mismatch }
        if let response = stored.response { return .replay(response) }
        return now.timeIntervalSince(stored.createdAt) > responseGrace ? .responseLost : .inFlight
    }
}

extension CareStore {
    /// After a POST: keeps its response with the key (which the command's transaction wrote).
    public func recordIdempotentResponse(_ claim: IdempotencyClaim, memberID: UUID, response: StoredResponse)
        async throws
    {
        guard claim.isClaimed else { return }
        try await pool.query(
            """
            UPDATE idempotency_keys SET response_status = \(response.status), response_type = \(response.contentType),
                response_headers = \(PQJSON(response.headers))::jsonb, response_body = \(response.body)
            WHERE member_id = \(memberID) AND key = \(claim.key)
            """)
    }

    /// Forgets keys older than `age` (at least 24 hours are kept).
    @discardableResult
    public func expireIdempotencyKeys(olderThan age: TimeInterval = 48 * 3600) async throws -> Int {
        let cutoff = Date().addingTimeInterval(-max(age, 24 * 3600))
        return try await pool.query("DELETE FROM idempotency_keys WHERE created_at < \(cutoff) RETURNING 1").count
    }
}
