import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

/// What care_app, the role requests run as, can no longer do (migration 0012).
@Suite("Least privilege for care_app", .timeLimit(.minutes(2)))
struct LeastPrivilegeTests {
    /// Runs `statement` as care_app with `member` set, as a request's transaction does.
    static func asCareApp(_ pool: PQPool, member: UUID, token: UUID = UUID(), request: String = "req-1", _ statement: PQQuery) async throws {
        try await pool.withTransaction { connection in
            try await connection.query("""
                SELECT set_config('role', 'care_app', true), set_config('carerelay.member_id', \(member.lowercasedString), true),
                       set_config('carerelay.token_id', \(token.lowercasedString), true), set_config('carerelay.request_id', \(request), true)
                """)
            try await connection.query(statement)
        }
    }

    @Test("care_app cannot join a team, create one, un-revoke a token, read token hashes or change the rules", arguments: [
        "join a team", "create a team", "un-revoke a token", "read token hashes", "change the dose table", "change the playbook", "rename a member",
    ])
    func refused(_ attempt: String) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let other = try await clinic.store.createTeam(name: "South", by: .system())
            let token = try await clinic.store.issueToken(memberID: clinic.psychiatrist, expiresAt: nil, by: .system())
            try await clinic.store.revokeToken(token.id, by: .system())
            let statement: PQQuery = switch attempt {
            case "join a team": "INSERT INTO memberships (team_id, member_id, role) VALUES (\(other), \(clinic.psychiatrist), 'psychiatrist')"
            case "create a team": "INSERT INTO teams (name) VALUES ('Mine')"
            case "un-revoke a token": "UPDATE api_tokens SET revoked_at = NULL WHERE id = \(token.id)"
            case "read token hashes": "SELECT token_hash FROM api_tokens"
            case "change the dose table": "UPDATE dose_table SET minimum_adequate_daily_dose_mg = 1"
            case "change the playbook": "UPDATE playbook_steps SET is_active = false"
            default: "UPDATE members SET display_name = 'Someone else' WHERE id = \(clinic.psychiatrist)"
            }
            let error = await #expect(throws: PQError.self) { try await Self.asCareApp(pool, member: clinic.psychiatrist, statement) }
            #expect(error?.sqlState == "42501", "\(attempt): \(String(describing: error))")
            #expect(try await pool.query("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = \(token.id)")[0].decode(Bool.self, at: 0))
            #expect(try await pool.query("SELECT count(*) FROM memberships WHERE team_id = \(other) AND role <> 'admin'")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("an audit entry names the member, token and request the transaction was entered with, whatever the insert says")
    func auditCannotBeForged() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let token = UUID()
            try await Self.asCareApp(pool, member: clinic.psychologist, token: token, request: "real-request", """
                INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id, at)
                VALUES (\(clinic.psychologist), \(UUID()), 'patient.read', \(clinic.patient), '/forged', 'allowed', 'forged-request', '2001-01-01')
                """)
            let row = try await pool.query("SELECT member_id, token_id, request_id, at > now() - interval '1 minute' FROM audit_entries WHERE resource = '/forged'")[0]
            let (member, tokenID, requestID, fresh) = try row.decode(UUID.self, UUID?.self, String?.self, Bool.self)
            #expect(member == clinic.psychologist && tokenID == token && requestID == "real-request" && fresh)
            // Naming another member: the entry names the one the transaction was entered with.
            try await Self.asCareApp(pool, member: clinic.psychologist, """
                INSERT INTO audit_entries (member_id, action, resource, outcome) VALUES (\(clinic.psychiatrist), 'x', '/other', 'allowed')
                """)
            #expect(try await pool.query("SELECT member_id FROM audit_entries WHERE resource = '/other'")[0].decode(UUID.self, at: 0) == clinic.psychologist)
        }
    }
}
