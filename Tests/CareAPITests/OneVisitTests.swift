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
}
