import CareAPI
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

/// The commit boundary over HTTP, hit exactly: the store reaches PostgreSQL through a proxy that
/// cuts the connection right after a chosen answer (see TestSupport/WireCutter.swift).
@Suite("A write whose connection is cut at COMMIT")
struct CutAtCommitHTTPTests {
    private static let body =
        #"{"instrument": "PHQ-9", "items": [2, 2, 1, 1, 1, 1, 1, 1, 1], "taken_at": "2026-11-20T09:00:00Z"}"#

    private func count(_ clinic: APIClinic) async throws -> (scores: Int, handoffs: Int) {
        let row = try await clinic.store.pool.query(
            """
            SELECT (SELECT count(*)::int FROM measurements WHERE patient_id = \(clinic.northPatient)),
                   (SELECT count(*)::int FROM handoffs WHERE patient_id = \(clinic.northPatient))
            """)[0]
        return (try row.decode(Int.self, at: 0), try row.decode(Int.self, at: 1))
    }

    @Test(
        """
        COMMIT answered and the connection cut before the sync: 201 with the write, and a retry with the key replays it
        """
    )
    func cutAfterCommit() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let clinic = try await APIClinic.make(pool)
            let cutter = try WireCutter(database)
            defer { cutter.stop() }
            let (app, through) = try await clinic.app(through: cutter)
            try await app.test(.router) { client in
                let uri = "/v1/patients/\(clinic.northPatient.lower)/measurements"
                let token = clinic.tokens["psychologist"]
                cutter.arm(cutAfter: "COMMIT")
                let first = try await client.call(
                    .post, uri, token: token, json: Self.body, headers: [.idempotencyKey: "cut-1"])
                #expect(cutter.cuts == 1, "the proxy never cut a connection")
                #expect(first.status == .created, "\(first.status) \(first.text)")
                let replay = try await client.call(
                    .post, uri, token: token, json: Self.body, headers: [.idempotencyKey: "cut-1"])
                #expect(
                    replay.status == .created && replay.body == first.body
                        && replay.headers[.idempotentReplayed] == "true", "\(replay.status) \(replay.text)")
                let stored = try await count(clinic)
                #expect(stored.scores == 1 && stored.handoffs == 2, "\(stored)")
            }
            await through.close()
        }
    }

    @Test(
        """
        cut after a statement of the write, before COMMIT's answer: 503 with Retry-After, never 500; a retry with the \
        key ends with exactly one write
        """
    )
    func cutBeforeCommit() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let clinic = try await APIClinic.make(pool)
            let cutter = try WireCutter(database)
            defer { cutter.stop() }
            let (app, through) = try await clinic.app(through: cutter)
            try await app.test(.router) { client in
                let uri = "/v1/patients/\(clinic.northPatient.lower)/measurements"
                let token = clinic.tokens["psychologist"]
                // After each INSERT of the write in turn: whether the cut leaves the transaction
                // unsent, rolled back or committed unseen, the client learns which only by retrying.
                var cutsMade = 0
                for skipped in 0..<20 {
                    let key = "cut-insert-\(skipped)"
                    let body = Self.body.replacingOccurrences(of: "09:00", with: String(format: "09:%02d", skipped))
                    let before = try await count(clinic)
                    cutter.arm(cutAfter: "INSERT 0 1", skipping: skipped)
                    let first = try await client.call(
                        .post, uri, token: token, json: body, headers: [.idempotencyKey: key])
                    guard cutter.cuts > cutsMade else {
                        // This write has fewer INSERTs than were skipped: it simply succeeded.
                        cutter.disarm()
                        #expect(first.status == .created)
                        break
                    }
                    cutsMade = cutter.cuts
                    #expect(
                        first.status == .serviceUnavailable && first.headers[.retryAfter] != nil,
                        "after INSERT \(skipped + 1): \(first.status) \(first.text)")
                    // Retried as a client does: until the answer is definitive. Until the cut
                    // connection's backend notices it is gone, its transaction still holds the key,
                    // and the answer is 409 "in progress": retry in a moment.
                    var retry = try await client.call(
                        .post, uri, token: token, json: body, headers: [.idempotencyKey: key])
                    let deadline = ContinuousClock.now + .seconds(20)
                    while retry.status == .conflict, retry.problemType == "idempotency-key-in-use",
                        ContinuousClock.now < deadline
                    {
                        try await Task.sleep(for: .milliseconds(50))
                        retry = try await client.call(
                            .post, uri, token: token, json: body, headers: [.idempotencyKey: key])
                    }
                    #expect(retry.status == .created, "after INSERT \(skipped + 1): \(retry.status) \(retry.text)")
                    let after = try await count(clinic)
                    #expect(
                        after.scores == before.scores + 1 && after.handoffs == before.handoffs + 2,
                        "after INSERT \(skipped + 1): \(before) then \(after)")
                }
                #expect(cutsMade >= 3, "the write was cut after only \(cutsMade) INSERTs")
            }
            await through.close()
        }
    }
}
