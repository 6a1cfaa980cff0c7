import CoreFormats
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
        // Only base64url: no other letters, no padding, no other prefix or length.
        let body = String(token.dropFirst(4))
        for bad in [
            "crt_" + String(body.dropLast()) + "é", "crt_" + String(body.dropLast()) + "=",
            "crt_" + String(body.dropLast()) + "+",
            "crx_" + body, "crt_" + body + "A", "crt_" + String(body.dropLast()), "", "crt_",
        ] {
            #expect(!TokenFormat.looksValid(bad), "\(bad)")
        }
        #expect(
            Data(
                base64Encoded: String(token.dropFirst(4)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(
                    of: "_", with: "/") + "=")?.count == 32)
        #expect(TokenFormat.generate() != token)
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let issued = try await clinic.store.issueToken(memberID: clinic.psychiatrist, expiresAt: nil, by: .system())
            let stored = try await pool.query(
                "SELECT token_hash, display_prefix FROM api_tokens WHERE id = \(issued.id)")[0]
            let (hash, prefix) = try stored.decode(Data.self, String.self)
            #expect(hash == TokenFormat.hash(issued.token))
            #expect(prefix == String(issued.token.prefix(12)))
            let anywhere = try await pool.query(
                """
                SELECT count(*) FROM api_tokens t WHERE t::text LIKE '%' || \(String(issued.token.dropFirst(12))) || '%'
                """
            )
            #expect(try anywhere[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test("a valid token authenticates its member; revoked, expired, altered and malformed ones do not")
    func authentication() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let now = Date()
            let issued = try await clinic.store.issueToken(
                memberID: clinic.psychologist, expiresAt: now.addingTimeInterval(3600), by: .system())
            let principal = try await clinic.store.authenticate(token: issued.token, now: now)
            #expect(
                principal?.memberID == clinic.psychologist && principal?.isServiceAccount == false
                    && principal?.scopes.isEmpty == true)
            #expect(try await clinic.store.authenticate(token: issued.token, now: now.addingTimeInterval(7200)) == nil)
            var altered = Array(issued.token)
            altered[10] = altered[10] == "A" ? "B" : "A"
            #expect(try await clinic.store.authenticate(token: String(altered), now: now) == nil)
            #expect(try await clinic.store.authenticate(token: "Bearer nonsense", now: now) == nil)
            try await clinic.store.revokeToken(issued.id, by: .system())
            #expect(try await clinic.store.authenticate(token: issued.token, now: now) == nil)
            await #expect(throws: StoreError.conflict("token \(issued.id.lowercasedString) is already revoked")) {
                try await clinic.store.revokeToken(issued.id, by: .system())
            }
            await #expect(throws: StoreError.invalid("a token must expire in the future")) {
                try await clinic.store.issueToken(
                    memberID: clinic.psychologist, expiresAt: now.addingTimeInterval(-1), by: .system())
            }
        }
    }

    @Test("last_used_at is written on first use and then at most once a minute, not on every request")
    func lastUsed() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let issued = try await clinic.store.issueToken(memberID: clinic.psychiatrist, expiresAt: nil, by: .system())
            func lastUsed() async throws -> Date? {
                try await pool.query("SELECT last_used_at FROM api_tokens WHERE id = \(issued.id)")[0].decode(
                    Date?.self, at: 0)
            }
            #expect(try await lastUsed() == nil)
            let first = Date(timeIntervalSince1970: (Date().timeIntervalSince1970).rounded(.down))
            #expect(try await clinic.store.authenticate(token: issued.token, now: first) != nil)
            #expect(try await lastUsed() == first)
            // Within the minute: authenticated, and the row is left alone.
            #expect(try await clinic.store.authenticate(token: issued.token, now: first.addingTimeInterval(59)) != nil)
            #expect(try await lastUsed() == first)
            let later = first.addingTimeInterval(61)
            #expect(try await clinic.store.authenticate(token: issued.token, now: later) != nil)
            #expect(try await lastUsed() == later)
            // A refused token is not touched.
            try await clinic.store.revokeToken(issued.id, by: .system())
            #expect(try await clinic.store.authenticate(token: issued.token, now: later.addingTimeInterval(120)) == nil)
            #expect(try await lastUsed() == later)
        }
    }

    @Test("service accounts carry scopes; members' tokens do not")
    func scopes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await Clinic.make(pool)
            let service = try await clinic.store.createMember(
                displayName: "EHR", teamID: clinic.team, roles: [.integration], isServiceAccount: true, by: .system())
            await #expect(throws: StoreError.self) {
                try await clinic.store.issueToken(memberID: service, scopes: [], expiresAt: nil, by: .system())
            }
            await #expect(throws: StoreError.self) {
                try await clinic.store.issueToken(
                    memberID: clinic.psychiatrist, scopes: [.eventsRead], expiresAt: nil, by: .system())
            }
            let issued = try await clinic.store.issueToken(
                memberID: service, scopes: [.eventsRead, .patientsRead], expiresAt: nil, by: .system())
            let principal = try #require(try await clinic.store.authenticate(token: issued.token))
            #expect(principal.isServiceAccount && principal.scopes == [.eventsRead, .patientsRead])
        }
    }
}

@Suite("Reference data cache", .timeLimit(.minutes(1)))
struct ReferenceCacheTests {
    @Test("a cached playbook is read again after the table changes (NOTIFY care_reference_changed)")
    func invalidatedOnChange() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let store = CareStore(pool: pool, logger: testLogger(), cacheReferenceData: true)
            let watcher = Task { try await store.watchReferenceData() }
            defer { watcher.cancel() }
            let team = try await store.createTeam(name: "North", by: .system())
            let enrolled = Date(timeIntervalSince1970: 1_788_220_800)
            func referral() async throws -> Int {
                let patient = try await store.createPatient(
                    teamID: team, mrn: UUID().uuidString, displayName: "P", enrolledOn: enrolled, by: .system())
                return try await store.makeReferral(
                    patientID: patient, kind: .tms, targetClinic: "Riverside", by: .system()
                ).event.handoffIDs.count
            }
            #expect(try await referral() == 4)
            #expect(try await referral() == 4)
            _ = try await database.superuser(
                pool, "UPDATE playbook_steps SET is_active = false WHERE key = 'tms.transport'")
            // The notification travels asynchronously; within a second the cache has let go.
            var count = 4
            for _ in 0..<50 where count == 4 {
                count = try await referral()
                if count == 4 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(count == 3)
        }
    }
}

@Suite("Idempotency keys")
struct IdempotencyKeyTests {
    @Test(
        """
        a key whose change committed but whose response was never kept: in flight for a minute, then 'response lost', \
        never run again
        """
    )
    func responseLost() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let store = CareStore(pool: pool, logger: testLogger())
            let team = try await store.createTeam(name: "North", by: .system())
            let member = try await store.createMember(
                displayName: "Dr. Rao", teamID: team, roles: [.psychiatrist], by: .system())
            let patient = try await store.createPatient(
                teamID: team, mrn: "MRN-LOST", displayName: "P", enrolledOn: Date(), by: .system())
            let principal = Principal(
                memberID: member, tokenID: UUID(), displayName: "Dr. Rao", isServiceAccount: false, scopes: [],
                roles: [team: [.psychiatrist]])
            // The claim is the command's first step after authentication: what it finds decides.
            func retry(_ hash: Data) async throws {
                let actor = RequestActor(
                    principal: principal, requestID: "r-lost", action: "task.create", resource: "/v1/tasks",
                    idempotency: IdempotencyClaim(key: "k-lost", requestHash: hash))
                _ = try await store.createTask(
                    patientID: patient, title: "Call back", poolRole: .psychologist, by: .request(actor))
            }
            try await pool.query(
                """
                INSERT INTO idempotency_keys (member_id, key, request_hash) VALUES (\(member), 'k-lost', \
                \(Data([1, 2, 3])))
                """
            )
            await #expect(throws: IdempotencyError.inFlight) { try await retry(Data([1, 2, 3])) }
            try await pool.query(
                "UPDATE idempotency_keys SET created_at = now() - interval '2 minutes' WHERE key = 'k-lost'")
            await #expect(throws: IdempotencyError.responseLost) { try await retry(Data([1, 2, 3])) }
            await #expect(throws: IdempotencyError.mismatch) { try await retry(Data([9])) }
            let tasks = try await pool.query("SELECT count(*)::int FROM tasks WHERE title = 'Call back'")
            #expect(try tasks[0].decode(Int.self, at: 0) == 0, "a claimed key never runs its request again")
        }
    }
}
