import CareAPI
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

/// A request in one visit (docs/architecture.md, "The path of a write"): the token lookup, the
/// Idempotency-Key, the command and its kept answer run in one transaction on one connection;
/// and a caller without a valid token learns nothing else about their request.
@Suite("A request in one visit")
struct OneVisitTests {
    private static let score =
        #"{"instrument": "PHQ-9", "items": [2, 2, 1, 1, 1, 1, 1, 1, 1], "taken_at": "2026-11-20T09:00:00Z"}"#

    /// Connections lent by both of the store's pools so far.
    private func acquisitions(_ store: CareStore) async -> Int {
        await store.poolFigures().reduce(0) { $0 + $1.acquisitions }
    }

    @Test(
        """
        a write with an Idempotency-Key, a replay of it and a read each take one connection, once; the key keeps the \
        answer
        """
    )
    func oneConnectionPerRequest() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let uri = "/v1/patients/\(clinic.northPatient.lower)/measurements"
                let token = clinic.tokens["psychologist"]
                var before = await acquisitions(clinic.store)
                let written = try await client.call(
                    .post, uri, token: token, json: Self.score, headers: [.idempotencyKey: "one-visit"])
                #expect(written.status == .created, "\(written.text)")
                var taken = await acquisitions(clinic.store) - before
                #expect(taken == 1, "the write took \(taken) connections")

                before = await acquisitions(clinic.store)
                let replay = try await client.call(
                    .post, uri, token: token, json: Self.score, headers: [.idempotencyKey: "one-visit"])
                #expect(replay.status == .created && replay.body == written.body)
                #expect(replay.headers[.idempotentReplayed] == "true")
                taken = await acquisitions(clinic.store) - before
                #expect(taken == 1, "the replay took \(taken) connections")

                before = await acquisitions(clinic.store)
                #expect(try await client.call(.get, "/v1/tasks", token: token).status == .ok)
                taken = await acquisitions(clinic.store) - before
                #expect(taken == 1, "the read took \(taken) connections")

                let kept = try await pool.query(
                    "SELECT response_status FROM idempotency_keys WHERE key = 'one-visit'")
                #expect(try kept.firstRow?.decode(Int?.self, at: 0) == 201, "the answer is kept with its key")
                let scores = try await pool.query(
                    "SELECT count(*)::int FROM measurements WHERE patient_id = \(clinic.northPatient)")
                #expect(try scores[0].decode(Int.self, at: 0) == 1)
            }
        }
    }

    @Test(
        """
        an unknown token is 401 whatever else is wrong with the request; nothing is written, audited or kept, and the \
        failure counts
        """
    )
    func unknownTokenLearnsNothing() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let stranger = "crt_" + String(repeating: "Z", count: 43)
                let uri = "/v1/patients/\(clinic.northPatient.lower)/measurements"
                let attempts: [(HTTPRequest.Method, String, String?)] = [
                    (.post, uri, Self.score),  // a good request
                    (.post, uri, #"{"instrument": "PHQ-9", "items": [9]}"#),  // a body the rules refuse
                    (.post, uri, "{not json"),  // a body that is not JSON
                    (.get, "/v1/patients/not-an-id", nil),  // a path the route refuses
                    (.get, "/v1/tasks?status=nonsense", nil),  // a query the route refuses
                    (.get, "/v1/patients/\(clinic.southPatient.lower)", nil),  // another team's patient
                ]
                for (method, path, body) in attempts {
                    let reply = try await client.call(
                        method, path, token: stranger, json: body, headers: [.idempotencyKey: "stranger"])
                    #expect(
                        reply.status == .unauthorized && reply.problemType == "unauthorized",
                        "\(method) \(path): \(reply.status) \(reply.text)")
                }
                let written = try await pool.query(
                    """
                    SELECT (SELECT count(*) FROM measurements)::int, (SELECT count(*) FROM audit_entries)::int,
                           (SELECT count(*) FROM idempotency_keys)::int
                    """)
                let (scores, audits, keys) = try written[0].decode(Int.self, Int.self, Int.self)
                #expect(
                    scores == 0 && audits == 0 && keys == 0, "scores \(scores), audit entries \(audits), keys \(keys)")
                // Six failures so far; the limit is ten per token.
                for _ in 0..<4 { _ = try await client.call(.get, "/v1/me", token: stranger) }
                let limited = try await client.call(.post, uri, token: stranger, json: Self.score)
                #expect(limited.status == .tooManyRequests, "\(limited.status)")
            }
        }
    }

    @Test(
        """
        a token seen before is looked up with the command's first statement: a queue read and a score in two round \
        trips each, where a token's first request takes three
        """
    )
    func lookupWithFirstStatement() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let clinic = try await APIClinic.make(pool)
            let cutter = try WireCutter(database)
            defer { cutter.stop() }
            let (app, through) = try await clinic.app(through: cutter, cacheReferenceData: true)
            try await app.test(.router) { client in
                func roundTrips(_ method: HTTPRequest.Method, _ uri: String, _ name: String, json: String? = nil)
                    async throws -> Int
                {
                    let before = cutter.readyForQuery
                    let reply = try await client.call(method, uri, token: clinic.tokens[name], json: json)
                    #expect(reply.status.code < 300, "\(method) \(uri): \(reply.status) \(reply.text)")
                    return cutter.readyForQuery - before
                }
                let scores = "/v1/patients/\(clinic.northPatient.lower)/measurements"
                // The first requests prepare their statements on the connections (a round trip each).
                for _ in 0..<3 {
                    _ = try await roundTrips(.get, "/v1/tasks", "psychologist")
                    _ = try await roundTrips(.post, scores, "psychologist", json: Self.score)
                }
                // The token known: BEGIN, the lookup and the query; then the audit entry with COMMIT.
                #expect(try await roundTrips(.get, "/v1/tasks", "psychologist") == 2)
                // The lookup, the patient and the reserved event; then the writes with COMMIT.
                #expect(try await roundTrips(.post, scores, "psychologist", json: Self.score) == 2)
                // Another member of the same team (the same statements, already prepared): their
                // token's first request looks it up on its own, then no more.
                #expect(try await roundTrips(.get, "/v1/tasks", "socialWorker") == 3)
                #expect(try await roundTrips(.get, "/v1/tasks", "socialWorker") == 2)
            }
            await through.close()
        }
    }

    @Test("a token revoked after it was seen: 401 on its next request, nothing answered, written or audited")
    func revokedAfterSeen() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychologist"]
                let patient = "/v1/patients/\(clinic.northPatient.lower)"
                #expect(try await client.call(.get, patient, token: token).status == .ok)
                let tokenID = try await pool.query(
                    "SELECT id FROM api_tokens WHERE member_id = \(clinic.members["psychologist"]!)"
                )[0].decode(UUID.self, at: 0)
                try await clinic.store.revokeToken(tokenID, by: .system())
                func written() async throws -> (audits: Int, scores: Int) {
                    let row = try await pool.query(
                        """
                        SELECT (SELECT count(*) FROM audit_entries WHERE token_id = \(tokenID))::int,
                               (SELECT count(*) FROM measurements)::int
                        """)[0]
                    return (try row.decode(Int.self, at: 0), try row.decode(Int.self, at: 1))
                }
                let before = try await written()
                let read = try await client.call(.get, patient, token: token)
                #expect(read.status == .unauthorized && !read.text.contains("Ada"), "\(read.status) \(read.text)")
                let write = try await client.call(.post, patient + "/measurements", token: token, json: Self.score)
                #expect(write.status == .unauthorized, "\(write.status) \(write.text)")
                let after = try await written()
                #expect(after.audits == before.audits && after.scores == before.scores, "\(before) -> \(after)")
            }
        }
    }

    @Test(
        """
        a member's teams changed after their token was seen: the next request is answered for the teams they have \
        now, whether its command refused before its first statement or after
        """
    )
    func rolesChangedAfterSeen() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["southPsychiatrist"]
                let member = clinic.members["southPsychiatrist"]!
                let patient = "/v1/patients/\(clinic.northPatient.lower)"
                let team = "/v1/teams/\(clinic.north.lower)/members"
                #expect(try await client.call(.get, patient, token: token).status == .notFound)
                #expect(try await client.call(.get, team, token: token).status == .notFound)
                try await pool.query(
                    """
                    INSERT INTO memberships (team_id, member_id, role)
                    VALUES (\(clinic.north), \(member), 'psychiatrist')
                    """)
                let read = try await client.call(.get, patient, token: token)
                #expect(read.status == .ok && read.text.contains("Ada North"), "\(read.status) \(read.text)")
                #expect(try await client.call(.get, team, token: token).status == .ok)
                try await pool.query(
                    "DELETE FROM memberships WHERE team_id = \(clinic.north) AND member_id = \(member)")
                #expect(try await client.call(.get, team, token: token).status == .notFound)
                #expect(try await client.call(.get, patient, token: token).status == .notFound)
                // Added again, asked first by the route that refuses before any statement.
                try await pool.query(
                    """
                    INSERT INTO memberships (team_id, member_id, role)
                    VALUES (\(clinic.north), \(member), 'psychiatrist')
                    """)
                #expect(try await client.call(.get, team, token: token).status == .ok)
                let allowed = try await pool.query(
                    """
                    SELECT count(*)::int FROM audit_entries WHERE member_id = \(member) AND outcome = 'allowed'
                      AND patient_id = \(clinic.northPatient)
                    """)[0].decode(Int.self, at: 0)
                #expect(allowed == 1, "one allowed read of the patient, audited once")
            }
        }
    }
}
