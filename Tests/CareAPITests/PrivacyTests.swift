import CareAPI
import CareDomain
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

@Suite("Privacy: psychotherapy notes, row-level security and the audit trail", .timeLimit(.minutes(3)))
struct PrivacyTests {
    @Test("a psychotherapy note reaches its author and nobody else, on every read path")
    func psychotherapyNoteLeak() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            let secret = "SECRET-THERAPY-\(UUID().lower)"
            try await clinic.app().test(.router) { client in
                let author = clinic.tokens["psychologist"]
                let note = try await client.call(
                    .post, "/v1/patients/\(patient)/notes", token: author,
                    json: #"{"kind": "psychotherapy", "body": "\#(secret)"}"#)
                #expect(note.status == .created)
                let noteID = try #require(note.json["id"] as? String)
                let amendment = try await client.call(
                    .post, "/v1/notes/\(noteID)/amendments", token: author, json: #"{"body": "\#(secret) amended"}"#)
                #expect(amendment.status == .created)
                let amendmentID = try #require(amendment.json["id"] as? String)
                // Work that touches every list, so every read path has something in it.
                _ = try await client.call(
                    .post, "/v1/patients/\(patient)/measurements", token: author,
                    json: #"{"instrument": "PHQ-9", "items": [1,1,1,1,1,1,1,1,1]}"#)
                _ = try await client.call(
                    .post, "/v1/patients/\(patient)/notes", token: clinic.tokens["socialWorker"],
                    json: #"{"kind": "social", "body": "Benefits call"}"#)

                let readPaths = [
                    "/v1/patients/\(patient)", "/v1/patients/\(patient)/notes",
                    "/v1/patients/\(patient)/events?limit=200",
                    "/v1/patients/\(patient)/tasks", "/v1/patients/\(patient)/trials",
                    "/v1/patients/\(patient)/referrals",
                    "/v1/patients/\(patient)/measurements", "/v1/patients/\(patient)/care-plan",
                    "/v1/patients?limit=200",
                    "/v1/tasks", "/v1/handoffs?include_acknowledged=true", "/v1/patients/\(patient)/audit",
                ]
                for reader in [
                    "psychiatrist", "socialWorker", "admin", "compliance", "service", "readOnlyService",
                    "southPsychiatrist",
                ] {
                    for path in readPaths {
                        let reply = try await client.call(.get, path, token: clinic.tokens[reader])
                        #expect(!reply.text.contains(secret), "\(path) showed the note's text to \(reader)")
                        if !path.hasSuffix("/audit") {
                            #expect(
                                !reply.text.contains(noteID) && !reply.text.contains(amendmentID),
                                "\(path) showed the note's id to \(reader)")
                        }
                    }
                    // Nobody else can amend it either: it does not exist for them.
                    let amend = try await client.call(
                        .post, "/v1/notes/\(noteID)/amendments", token: clinic.tokens[reader],
                        json: #"{"body": "mine now"}"#)
                    #expect(amend.status == .notFound, "\(reader) amending: \(amend.status)")
                }
                let feed = try await clinic.store.events(after: .start, limit: 1000)
                #expect(
                    !feed.events.contains {
                        $0.payload.values.contains(noteID) || $0.payload.values.contains(amendmentID)
                    })

                let own = try await client.call(.get, "/v1/patients/\(patient)/notes", token: author)
                #expect(own.items.filter { ($0["body"] as? String)?.hasPrefix(secret) == true }.count == 2)
                let summary = try await client.call(.get, "/v1/patients/\(patient)", token: author)
                #expect(summary.text.contains(secret))
            }
        }
    }

    @Test("row-level security refuses another team's rows even when a query forgets its filter")
    func rowLevelSecurity() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let south = try #require(clinic.members["southPsychiatrist"])
            _ = try await Fixture.make(
                clinic, team: clinic.north, psychiatrist: try #require(clinic.members["psychiatrist"]))
            // Straight SQL as care_app with the South psychiatrist acting: no WHERE clause at all.
            let visible = try await pool.withTransaction { connection in
                try await connection.query(
                    """
                    SELECT set_config('role', 'care_app', true), set_config('carerelay.member_id', \(south.lower), true)
                    """
                )
                var counts: [String: Int] = [:]
                for table in [
                    "patients", "tasks", "notes", "trials", "referrals", "handoffs", "care_plans", "measurements",
                    "audit_entries",
                ] {
                    let rows = try await connection.query("SELECT count(*) FROM \(unescaped: table) WHERE true")
                    counts[table] = try rows[0].decode(Int.self, at: 0)
                }
                let foreign = try await connection.query("SELECT count(*) FROM events WHERE team_id = \(clinic.north)")
                counts["north events"] = try foreign[0].decode(Int.self, at: 0)
                return counts
            }
            #expect(visible["patients"] == 1, "only Sam South")
            for table in [
                "tasks", "notes", "trials", "referrals", "handoffs", "measurements", "audit_entries", "north events",
            ] {
                #expect(visible[table] == 0, "\(table): \(visible[table] ?? -1)")
            }
            #expect(visible["care_plans"] == 1)

            // And through the store, as that caller: only their own team's patients.
            let southToken = try #require(clinic.tokens["southPsychiatrist"])
            let principal = try #require(try await clinic.store.authenticate(token: southToken))
            let actor = RequestActor(
                principal: principal, requestID: "rls-test", action: "patient.list", resource: "/test")
            let page = try await clinic.store.patients(limit: 200, by: .request(actor))
            #expect(page.items.map(\.id) == [clinic.southPatient])
            // A write aimed at the other team is refused by the database itself.
            let error = await #expect(throws: PQError.self) {
                try await pool.withTransaction { connection in
                    try await connection.query(
                        """
                        SELECT set_config('role', 'care_app', true), set_config('carerelay.member_id', \(south.lower), \
                        true)
                        """
                    )
                    try await connection.query(
                        """
                        INSERT INTO notes (patient_id, author_id, kind, body) VALUES (\(clinic.northPatient), \
                        \(south), 'progress', 'sneaky')
                        """
                    )
                }
            }
            #expect(error?.sqlState == "42501")
        }
    }

    @Test("reads, writes and refusals are audited in the request's transaction; only compliance reads the trail")
    func auditTrail() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            try await clinic.app().test(.router) { client in
                let read = try await client.call(
                    .get, "/v1/patients/\(patient)", token: clinic.tokens["psychiatrist"],
                    headers: [HTTPField.Name("X-Request-Id")!: "req-read-1"])
                #expect(read.status == .ok)
                let write = try await client.call(
                    .post, "/v1/patients/\(patient)/measurements", token: clinic.tokens["socialWorker"],
                    json: #"{"instrument": "GAD-7", "total": 9}"#)
                #expect(write.status == .created)
                let denied = try await client.call(
                    .get, "/v1/patients/\(patient)", token: clinic.tokens["southPsychiatrist"])
                #expect(denied.status == .notFound)
                let forbidden = try await client.call(
                    .post, "/v1/patients/\(patient)/trials", token: clinic.tokens["socialWorker"],
                    json:
                        #"""
                        {"kind": "medication", "drug": "sertraline", "daily_dose_mg": 50, "started_on": "2026-10-01"}
                        """#
                )
                #expect(forbidden.status == .forbidden)

                let trail = try await client.call(
                    .get, "/v1/patients/\(patient)/audit", token: clinic.tokens["compliance"])
                #expect(trail.status == .ok)
                let entries = trail.items.map {
                    ($0["member_id"] as? String ?? "", $0["action"] as? String ?? "", $0["outcome"] as? String ?? "")
                }
                let psychiatrist = clinic.members["psychiatrist"]!.lower,
                    socialWorker = clinic.members["socialWorker"]!.lower
                let southPsychiatrist = clinic.members["southPsychiatrist"]!.lower
                #expect(entries.contains { $0 == (psychiatrist, "patient.read", "allowed") })
                #expect(entries.contains { $0 == (socialWorker, "measurement.record", "allowed") })
                #expect(entries.contains { $0 == (southPsychiatrist, "patient.read", "denied") })
                #expect(entries.contains { $0 == (socialWorker, "trial.start", "denied") })
                #expect(
                    trail.items.contains {
                        $0["request_id"] as? String == "req-read-1"
                            && $0["resource"] as? String == "/v1/patients/\(patient)"
                    })
                for reader in ["psychiatrist", "admin", "service"] {
                    let refused = try await client.call(
                        .get, "/v1/patients/\(patient)/audit", token: clinic.tokens[reader])
                    #expect(refused.status == .forbidden || refused.status == .notFound, "\(reader)")
                }
            }
            // A write that failed left no audit entry claiming it succeeded, and nothing else.
            let trials = try await pool.query("SELECT count(*) FROM trials WHERE patient_id = \(clinic.northPatient)")
            #expect(try trials[0].decode(Int.self, at: 0) == 0)
        }
    }
}
