import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

@Suite("Bearer tokens", .timeLimit(.minutes(2)))
struct TokenTests {
    @Test("a token is crt_ and 256 random bits, stored only as its SHA-256")
    func format() async throws {
        let token = TokenFormat.generate()
        #expect(token.hasPrefix("crt_") && token.count == 47 && TokenFormat.looksValid(token))
        #expect(Data(base64Encoded: String(token.dropFirst(4)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=")?.count == 32)
        #expect(TokenFormat.generate() != token)
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let issued = try await clinic.store.issueToken(memberID: clinic.psychiatrist, expiresAt: nil)
            let stored = try await pool.query("SELECT token_hash, display_prefix FROM api_tokens WHERE id = \(issued.id)")[0]
            let (hash, prefix) = try stored.decode(Data.self, String.self)
            #expect(hash == TokenFormat.hash(issued.token))
            #expect(prefix == String(issued.token.prefix(12)))
            let anywhere = try await pool.query("SELECT count(*) FROM api_tokens t WHERE t::text LIKE '%' || \(String(issued.token.dropFirst(12))) || '%'")
            #expect(try anywhere[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a valid token authenticates its member; revoked, expired, altered and malformed ones do not")
    func authentication() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let now = Date()
            let issued = try await clinic.store.issueToken(memberID: clinic.psychologist, expiresAt: now.addingTimeInterval(3600))
            let principal = try await clinic.store.authenticate(token: issued.token, now: now)
            #expect(principal?.memberID == clinic.psychologist && principal?.isServiceAccount == false && principal?.scopes.isEmpty == true)
            #expect(try await clinic.store.authenticate(token: issued.token, now: now.addingTimeInterval(7200)) == nil)
            var altered = Array(issued.token)
            altered[10] = altered[10] == "A" ? "B" : "A"
            #expect(try await clinic.store.authenticate(token: String(altered), now: now) == nil)
            #expect(try await clinic.store.authenticate(token: "Bearer nonsense", now: now) == nil)
            try await clinic.store.revokeToken(issued.id)
            #expect(try await clinic.store.authenticate(token: issued.token, now: now) == nil)
            await #expect(throws: StoreError.conflict("token \(issued.id) is already revoked")) { try await clinic.store.revokeToken(issued.id) }
            await #expect(throws: StoreError.invalid("a token must expire in the future")) {
                try await clinic.store.issueToken(memberID: clinic.psychologist, expiresAt: now.addingTimeInterval(-1))
            }
        }
    }

    @Test("service accounts carry scopes; members' tokens do not")
    func scopes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let service = try await clinic.store.createMember(displayName: "EHR", teamID: clinic.team, roles: [.integration], isServiceAccount: true)
            await #expect(throws: StoreError.self) { try await clinic.store.issueToken(memberID: service, scopes: [], expiresAt: nil) }
            await #expect(throws: StoreError.self) { try await clinic.store.issueToken(memberID: clinic.psychiatrist, scopes: [.eventsRead], expiresAt: nil) }
            let issued = try await clinic.store.issueToken(memberID: service, scopes: [.eventsRead, .patientsRead], expiresAt: nil)
            let principal = try #require(try await clinic.store.authenticate(token: issued.token))
            #expect(principal.isServiceAccount && principal.scopes == [.eventsRead, .patientsRead])
        }
    }
}
