import CoreFormats
import CareDomain
import Crypto
import Foundation
import PQ

/// What a service account's token may do. Members' own tokens carry no scopes: their roles decide.
public enum Scope: String, Sendable, Codable, CaseIterable {
    case patientsRead = "patients:read"
    case patientsWrite = "patients:write"
    case eventsRead = "events:read"
    case webhooksManage = "webhooks:manage"
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
            VALUES (\(memberID), \(TokenFormat.hash(token)), \(String(token.prefix(12))), \(name), \(Set(scopes).map(\.rawValue).sorted()), \(expiresAt))
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
        let actorID = caller.memberID
        try Self.operatorsOnly(caller)
        if let expiresAt, expiresAt <= Date() { throw StoreError.invalid("a token must expire in the future") }
        return try await command(caller, asService: true) { context in
            try await context.insertToken(
                memberID: memberID, name: name, scopes: scopes, expiresAt: expiresAt, actorID: actorID)
        }
    }

    public func revokeToken(_ tokenID: UUID, by caller: Caller) async throws {
        let actorID = caller.memberID
        try Self.operatorsOnly(caller)
        try await command(caller, asService: true) { context in
            let rows = try await context.connection.query(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = \(tokenID) AND revoked_at IS NULL RETURNING member_id"
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

    /// How stale a token's `last_used_at` may get: it is written at most once in this long, not
    /// on every request (an integration sending many requests at once with one token would
    /// otherwise queue them all on that token's row).
    public static let lastUsedResolution: Duration = .seconds(60)

    /// The principal a bearer token speaks for, or nil when it is unknown, revoked or expired.
    public func authenticate(token: String, now: Date = Date()) async throws -> Principal? {
        guard TokenFormat.looksValid(token) else { return nil }
        let staleBefore = now.addingTimeInterval(-Self.lastUsedResolution.inSeconds)
        let rows = try await pool.query(
            """
            WITH found AS (
                SELECT t.id, t.member_id, t.scopes, t.last_used_at FROM api_tokens t
                WHERE t.token_hash = \(TokenFormat.hash(token))
                  AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > \(now))
            ), touched AS (
                UPDATE api_tokens t SET last_used_at = \(now) FROM found f
                WHERE t.id = f.id AND (f.last_used_at IS NULL OR f.last_used_at < \(staleBefore))
            )
            SELECT f.id, m.id, m.display_name, m.is_service_account, f.scopes,
                ARRAY(SELECT ms.team_id::text || ' ' || ms.role FROM memberships ms WHERE ms.member_id = m.id)
            FROM found f JOIN members m ON m.id = f.member_id
            """)
        guard let row = rows.firstRow else { return nil }
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
        return Principal(
            memberID: memberID, tokenID: tokenID, displayName: name, isServiceAccount: service,
            scopes: Set(try scopes.map { try Scope(column: "api_tokens.scopes", $0) }), roles: roles)
    }
}
