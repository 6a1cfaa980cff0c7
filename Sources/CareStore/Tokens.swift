import CoreFormats
import CareDomain
import Crypto
import Foundation
import PQ
import Synchronization

/// What a service account's token may do. Members' own tokens carry no scopes: their roles decide.
public enum Scope: String, Sendable, Codable, CaseIterable {
    case patientsRead = "patients:read"
    case patientsWrite = "patients:write"
    case eventsRead = "events:read"
    case webhooksManage = "webhooks:manage"
    /// FHIR Bulk Data export of the team's patients (docs/fhir.md, "Bulk export").
    case export
}

/// Who a valid token speaks for.
public struct Principal: Sendable, Equatable {
    public var memberID: UUID
    public var tokenID: UUID
    public var displayName: String
    public var isServiceAccount: Bool
    public var scopes: Set<Scope>
    /// The member's roles on each of their teams, as of authentication.
    public var roles: [UUID: Set<Role>]

    public init(
        memberID: UUID, tokenID: UUID, displayName: String, isServiceAccount: Bool, scopes: Set<Scope>,
        roles: [UUID: Set<Role>]
    ) {
        self.memberID = memberID
        self.tokenID = tokenID
        self.displayName = displayName
        self.isServiceAccount = isServiceAccount
        self.scopes = scopes
        self.roles = roles
    }
}

public struct IssuedToken: Sendable, Equatable, Codable {
    public var id: UUID
    public var memberID: UUID
    /// The token itself: shown once, stored nowhere.
    public var token: String
    public var expiresAt: Date?
}

/// Bearer tokens: `crt_` and 256 random bits in base64url, stored only as their SHA-256.
public enum TokenFormat {
    public static let prefix = "crt_"

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return prefix + encoded
    }

    public static func hash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }

    /// Cheap shape check before any database work.
    public static func looksValid(_ token: String) -> Bool {
        let bytes = token.utf8
        guard bytes.count == prefix.utf8.count + 43, bytes.starts(with: prefix.utf8) else { return false }
        // base64url without padding: ASCII letters, digits, '-' and '_'.
        return bytes.dropFirst(prefix.utf8.count).allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
    }
}

extension CommandContext {
    func insertToken(memberID: UUID, name: String, scopes: [Scope], expiresAt: Date?, actorID: UUID?) async throws
        -> IssuedToken
    {
        let member = try await connection.query("SELECT is_service_account FROM members WHERE id = \(memberID)")
        guard let row = member.firstRow else { throw StoreError.notFound("member \(memberID)") }
        let isServiceAccount = try row.decode(Bool.self, at: 0)
        if !isServiceAccount, !scopes.isEmpty {
            throw StoreError.invalid("scopes are for service accounts; a member's roles decide what their token may do")
        }
        if isServiceAccount, scopes.isEmpty {
            throw StoreError.invalid("a service account's token needs at least one scope")
        }
        let token = TokenFormat.generate()
        let id = try await connection.query(
            """
            INSERT INTO api_tokens (member_id, token_hash, display_prefix, name, scopes, expires_at)
            VALUES (\(memberID), \(TokenFormat.hash(token)), \(String(token.prefix(12))), \(name),
                \(Set(scopes).map(\.rawValue).sorted()), \(expiresAt))
            RETURNING id
            """)[0].decode(UUID.self, at: 0)
        try await append(
            .tokenIssued, teamID: nil, patientID: nil, actorID: actorID,
            payload: ["token_id": id.lowercasedString, "member_id": memberID.lowercasedString])
        return IssuedToken(id: id, memberID: memberID, token: token, expiresAt: expiresAt)
    }
}

extension CareStore {
    /// Tokens on their own are the operator's (care-server admin); a request gets one only with
    /// a new member (`createMemberWithToken`, after the gate).
    static func operatorsOnly(_ caller: Caller) throws {
        if caller.request != nil {
            throw StoreError.forbidden("tokens are issued and revoked by the server's operator (care-server admin)")
        }
    }

    /// Issues a token for a member (or service account); `expiresAt` nil means it never expires.
    public func issueToken(memberID: UUID, name: String = "", scopes: [Scope] = [], expiresAt: Date?, by caller: Caller)
        async throws -> IssuedToken
    {
        try Self.operatorsOnly(caller)
        if let expiresAt, expiresAt <= Date() { throw StoreError.invalid("a token must expire in the future") }
        return try await command(caller, asService: true) { context in
            let actorID = caller.memberID
            return try await context.insertToken(
                memberID: memberID, name: name, scopes: scopes, expiresAt: expiresAt, actorID: actorID)
        }
    }

    public func revokeToken(_ tokenID: UUID, by caller: Caller) async throws {
        try Self.operatorsOnly(caller)
        try await command(caller, asService: true) { context in
            let actorID = caller.memberID
            let rows = try await context.connection.query(
                """
                UPDATE api_tokens SET revoked_at = now() WHERE id = \(tokenID) AND revoked_at IS NULL RETURNING \
                member_id
                """
            )
            guard !rows.isEmpty else {
                let exists = try await context.connection.query("SELECT 1 FROM api_tokens WHERE id = \(tokenID)")
                throw exists.isEmpty
                    ? StoreError.notFound("token \(tokenID)")
                    : StoreError.conflict("token \(tokenID) is already revoked")
            }
            try await context.append(
                .tokenRevoked, teamID: nil, patientID: nil, actorID: actorID,
                payload: ["token_id": tokenID.lowercasedString])
        }
    }

    /// Revokes every token of a member or service account not revoked yet (someone leaving, a
    /// lost laptop): the ids revoked, each with its `token.revoked` event, in one transaction.
    public func revokeTokens(ofMember memberID: UUID, by caller: Caller) async throws -> [UUID] {
        try Self.operatorsOnly(caller)
        return try await command(caller, asService: true) { context in
            let actorID = caller.memberID
            let results = try await context.connection.pipeline([
                "SELECT 1 FROM members WHERE id = \(memberID)",
                """
                UPDATE api_tokens SET revoked_at = now() WHERE member_id = \(memberID) AND revoked_at IS NULL
                RETURNING id
                """,
            ])
            guard !results[0].isEmpty else { throw StoreError.notFound("member \(memberID)") }
            let revoked = try results[1].map { try $0.decode(UUID.self, at: 0) }.sorted {
                $0.uuidString < $1.uuidString
            }
            for id in revoked {
                try await context.append(
                    .tokenRevoked, teamID: nil, patientID: nil, actorID: actorID,
                    payload: ["token_id": id.lowercasedString])
            }
            return revoked
        }
    }

    /// The tokens an operator looks for before revoking one: a member's, or those of a team's
    /// members (and service accounts), newest first; revoked and expired ones only when asked.
    /// Never the token itself (only its hash is stored): its first characters, its label and
    /// when it was last used tell one from another.
    public func tokens(member: UUID? = nil, team: UUID? = nil, includeInactive: Bool = false, by caller: Caller)
        async throws -> [TokenListing]
    {
        try Self.operatorsOnly(caller)
        return try await command(caller, asService: true) { context in
            try await context.connection.query(
                """
                SELECT t.id, t.member_id, m.display_name, m.is_service_account, t.name, t.display_prefix, t.scopes,
                       t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
                       CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                            WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END
                FROM api_tokens t JOIN members m ON m.id = t.member_id
                WHERE (\(member)::uuid IS NULL OR t.member_id = \(member))
                  AND (\(team)::uuid IS NULL OR EXISTS (
                       SELECT 1 FROM memberships ms WHERE ms.member_id = t.member_id AND ms.team_id = \(team)))
                  AND (\(includeInactive) OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())))
                ORDER BY t.created_at DESC, t.id
                """
            ) { row in
                TokenListing(
                    id: try row.decode(UUID.self, at: 0), memberID: try row.decode(UUID.self, at: 1),
                    memberName: try row.decode(String.self, at: 2), isServiceAccount: try row.decode(Bool.self, at: 3),
                    name: try row.decode(String.self, at: 4), prefix: try row.decode(String.self, at: 5),
                    scopes: try row.decode([String].self, at: 6), createdAt: try row.decode(Date.self, at: 7),
                    expiresAt: try row.decode(Date?.self, at: 8), lastUsedAt: try row.decode(Date?.self, at: 9),
                    revokedAt: try row.decode(Date?.self, at: 10),
                    state: try TokenListing.State(column: "token state", try row.decode(String.self, at: 11)))
            }
        }
    }

    /// How stale a token's `last_used_at` may get: it is written at most once in this long, not
    /// on every request (an integration sending many requests at once with one token would
    /// otherwise queue them all on that token's row).
    public static let lastUsedResolution: Duration = .seconds(60)

    /// The principal a bearer token speaks for, or nil when it is unknown, revoked or expired.
    public func authenticate(token: String, now: Date = Date()) async throws -> Principal? {
        guard let credential = Credential(token: token, at: now) else { return nil }
        return try await authenticate(credential)
    }

    /// Looks `credential` up on a visit of its own (once; a request whose store command comes
    /// first is authenticated in that command's transaction instead, see `CommandContext.enter`).
    public func authenticate(_ credential: Credential) async throws -> Principal? {
        if let settled = credential.settled { return settled.principal }
        let principal = try await pool.withConnection { connection in
            try await Principal(row: connection.query("SELECT * FROM \(fragment: credential.lookup)").firstRow)
        }
        credential.settle(principal)
        return principal
    }
}

/// A bearer token presented by a request, to be looked up once: in the first store command's
/// transaction (as its first statement, docs/architecture.md "The path of a write"), or on a
/// visit of its own by `CareStore.authenticate(_:)` when something needs the principal first.
public final class Credential: Sendable {
    /// The SHA-256 of the token: the token itself goes no further than this.
    let tokenHash: Data
    let now: Date
    private let state = Mutex<Settled?>(nil)
    /// The principal the token had the last time this server looked it up, while this request's
    /// own lookup is in flight with the command's first statement (`CommandContext.enter`).
    private let guessed = Mutex<Principal?>(nil)

    /// What the lookup found: nil when the token is unknown, revoked or expired.
    public struct Settled: Sendable { public var principal: Principal? }

    /// nil when `token` is not even shaped like one (no database work for that).
    public init?(token: String, at now: Date = Date()) {
        guard TokenFormat.looksValid(token) else { return nil }
        tokenHash = TokenFormat.hash(token)
        self.now = now
    }

    /// A credential already looked up (the store's tests, a principal known otherwise).
    public init(principal: Principal) {
        tokenHash = Data()
        now = Date()
        state.withLock { $0 = Settled(principal: principal) }
    }

    /// Whether the lookup ran, and what it found.
    public var settled: Settled? { state.withLock { $0 } }

    func settle(_ principal: Principal?) {
        state.withLock { $0 = Settled(principal: principal) }
        guessed.withLock { $0 = nil }
    }

    /// What the command may build its first statement for, until the lookup sent with it
    /// settles the credential (or fails the transaction). Never counts as looked up: a later
    /// transaction that finds only a guess looks the token up again.
    var guess: Principal? { guessed.withLock { $0 } }

    func assume(_ principal: Principal) { guessed.withLock { $0 = principal } }

    /// The lookup as a FROM item named `a` (migration 0014's function), with the token's row
    /// touched at most once per `CareStore.lastUsedResolution`.
    var lookup: PQQuery {
        let staleBefore = now.addingTimeInterval(-CareStore.lastUsedResolution.inSeconds)
        return "care_authenticate(\(tokenHash), \(now), \(staleBefore)) a"
    }
}

/// A token as an operator's list shows it (`CareStore.tokens`).
public struct TokenListing: Sendable, Equatable {
    public enum State: String, Sendable { case active, expired, revoked }
    public var id: UUID
    public var memberID: UUID
    public var memberName: String
    public var isServiceAccount: Bool
    /// The label it was issued with ("" when none).
    public var name: String
    /// Its first characters ("crt_Ab12cd34"), to match it with a token someone holds.
    public var prefix: String
    public var scopes: [String]
    public var createdAt: Date
    public var expiresAt: Date?
    /// Written at most once a minute (`CareStore.lastUsedResolution`).
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    public var state: State
}

/// What each token recently looked up was found to speak for, by the token's hash: the guess
/// a request's first statement is built for while its own lookup goes with it
/// (`CommandContext.enter`). Only ever a guess: every request's transaction still looks its
/// token up, and nothing is answered or committed unless the lookup found exactly this
/// principal. Bounded: when full it starts again empty.
final class PrincipalGuesses: Sendable {
    private let entries = Mutex<[Data: Principal]>([:])
    static let capacity = 10_000

    func principal(for tokenHash: Data) -> Principal? { entries.withLock { $0[tokenHash] } }

    func keep(_ principal: Principal?, for tokenHash: Data) {
        guard !tokenHash.isEmpty else { return }
        entries.withLock { entries in
            guard let principal else {
                entries[tokenHash] = nil
                return
            }
            if entries.count >= Self.capacity, entries[tokenHash] == nil { entries.removeAll(keepingCapacity: true) }
            entries[tokenHash] = principal
        }
    }
}

/// The token's lookup, sent with the command's first statement, found another principal than
/// the one that statement was built for (its roles or scopes changed): the transaction is
/// rolled back and the command runs again for the principal found (`CareStore.command`).
struct PrincipalChanged: Error {}

extension Principal {
    /// A row of care_authenticate (token id, member id, name, service account, scopes,
    /// "team role" memberships), or nil for no row.
    init?(row: PQRow?) throws {
        guard let row else { return nil }
        let (tokenID, memberID, name, service, scopes, memberships) = try row.decode(
            UUID.self, UUID.self, String.self, Bool.self, [String].self, [String].self)
        var roles: [UUID: Set<Role>] = [:]
        for entry in memberships {
            let parts = entry.split(separator: " ")
            guard parts.count == 2, let team = UUID(hyphenated: parts[0]) else {
                throw PQError(.decoding, "a membership reads '\(entry)'")
            }
            roles[team, default: []].insert(try Role(column: "memberships.role", String(parts[1])))
        }
        self.init(
            memberID: memberID, tokenID: tokenID, displayName: name, isServiceAccount: service,
            scopes: Set(try scopes.map { try Scope(column: "api_tokens.scopes", $0) }), roles: roles)
    }
}
