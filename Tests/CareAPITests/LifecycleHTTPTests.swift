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

/// Handoffs that belong to their role, corrections and refusals, through the HTTP API.
@Suite("Lifecycle and corrections over HTTP", .timeLimit(.minutes(2)))
struct LifecycleHTTPTests {
    @Test(
        """
        a handoff belongs to its receiving role: another role gets 403 with the reason, audited; the care manager may; \
        acknowledging answers with the task
        """
    )
    func handoffBelongsToItsRole() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let manager = try await clinic.store.createMember(
                displayName: "C. Manager", teamID: clinic.north, roles: [.careManager], by: .system())
            let managerToken = try await clinic.store.issueToken(memberID: manager, expiresAt: nil, by: .system()).token
            let patient = clinic.northPatient
            // A safety signal: stat handoffs for the psychiatrist and the psychologist.
            let score = try await clinic.store.recordMeasurement(
                patientID: patient, score: try Score(.phq9, items: [2, 2, 2, 2, 2, 2, 2, 2, 1]),
                takenAt: Date(), by: .system(actingFor: clinic.members["psychologist"]))
            let roles = try await pool.query("SELECT id, role FROM handoffs WHERE id = ANY(\(score.event.handoffIDs))")
                .map { try $0.decode(UUID.self, String.self) }
            let forPsychologist = try #require(roles.first { $0.1 == "psychologist" }?.0)
            let forPsychiatrist = try #require(roles.first { $0.1 == "psychiatrist" }?.0)
            try await clinic.app().test(.router) { client in
                let refused = try await client.call(
                    .post, "/v1/handoffs/\(forPsychologist.lower)/acknowledge", token: clinic.tokens["socialWorker"])
                #expect(refused.status == .forbidden)
                #expect(
                    refused.detail
                        == """
                        this handoff is for the psychologist; only a psychologist of the team or the care manager \
                        acknowledges or reassigns it
                        """
                )
                let audited = try await pool.query(
                    """
                    SELECT outcome, detail FROM audit_entries WHERE action = 'handoff.acknowledge' AND member_id =
                        \(clinic.members["socialWorker"]!)
                      AND patient_id = \(patient)
                    """
                ).map { try $0.decode(String.self, String?.self) }
                #expect(audited.count == 1 && audited.first?.0 == "denied" && audited.first?.1 == refused.detail)
                #expect(
                    try await pool.query("SELECT acknowledged_at IS NULL FROM handoffs WHERE id = \(forPsychologist)")[
                        0
                    ].decode(Bool.self, at: 0))

                let acknowledged = try await client.call(
                    .post, "/v1/handoffs/\(forPsychologist.lower)/acknowledge", token: clinic.tokens["psychologist"])
                #expect(acknowledged.status == .ok, "\(acknowledged.text)")
                #expect(
                    acknowledged.json["id"] as? String == forPsychologist.lower
                        && acknowledged.json["handoff_id"] as? String == forPsychologist.lower)
                #expect(
                    acknowledged.json["status"] as? String == "requested"
                        && acknowledged.json["pool_role"] as? String == "psychologist")
                // The care manager, as coordinator, acknowledges the psychiatrist's.
                let coordinated = try await client.call(
                    .post, "/v1/handoffs/\(forPsychiatrist.lower)/acknowledge", token: managerToken)
                #expect(coordinated.status == .ok, "\(coordinated.text)")
                // The same id works as the task's: claim and complete it.
                let claimed = try await client.call(
                    .post, "/v1/tasks/\(forPsychologist.lower)/complete", token: clinic.tokens["psychologist"],
                    json: #"{"note": "Safety plan made"}"#)
                #expect(claimed.status == .ok && claimed.json["status"] as? String == "completed", "\(claimed.text)")
                #expect(claimed.json["owner_id"] as? String == clinic.members["psychologist"]!.lower)
                // The note is the task's evidence, read back with the task.
                #expect(claimed.json["evidence"] as? String == "Safety plan made", "\(claimed.text)")
                let read = try await client.call(
                    .get, "/v1/tasks/\(forPsychologist.lower)", token: clinic.tokens["psychologist"])
                #expect(read.json["evidence"] as? String == "Safety plan made", "\(read.text)")

                // Reassignment needs a reason, and then the new role's member acknowledges.
                let referral = try await clinic.store.makeReferral(
                    patientID: patient, kind: .ect, targetClinic: "City ECT",
                    by: .system(actingFor: clinic.members["psychiatrist"]))
                let letters = referral.event.handoffIDs[0]
                let noReason = try await client.call(
                    .post, "/v1/handoffs/\(letters.lower)/reassign", token: clinic.tokens["socialWorker"],
                    json: #"{"role": "psychologist", "reason": " "}"#)
                #expect(noReason.status == .unprocessableContent)
                let moved = try await client.call(
                    .post, "/v1/handoffs/\(letters.lower)/reassign", token: clinic.tokens["socialWorker"],
                    json: #"{"role": "psychologist", "reason": "she writes the work letters"}"#)
                #expect(moved.status == .ok && moved.json["pool_role"] as? String == "psychologist", "\(moved.text)")
                let mine = try await client.call(.get, "/v1/handoffs", token: clinic.tokens["psychologist"])
                let item = try #require(mine.items.first { $0["id"] as? String == letters.lower })
                #expect(item["status"] as? String == "open" && item["role"] as? String == "psychologist")
            }
        }
    }

    @Test("refusals name the field and what would be accepted, never a Swift type name")
    func refusalsSayWhatWouldBeAccepted() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            let psychiatrist = clinic.tokens["psychiatrist"]
            try await clinic.app().test(.router) { client in
                func post(_ path: String, _ json: String) async throws -> Reply {
                    try await client.call(.post, path, token: psychiatrist, json: json)
                }
                let future = try await post(
                    "/v1/patients/\(patient)/trials",
                    #"{"kind": "medication", "drug": "sertraline", "daily_dose_mg": 50, "started_on": "2999-01-01"}"#)
                #expect(
                    future.status == .unprocessableContent && future.json["field"] as? String == "started_on",
                    "\(future.text)")
                let dose = try await post(
                    "/v1/patients/\(patient)/trials",
                    #"{"kind": "medication", "drug": "sertraline", "daily_dose_mg": 5000, "started_on": "2026-09-02"}"#)
                #expect(
                    dose.status == .unprocessableContent && dose.json["field"] as? String == "daily_dose_mg"
                        && dose.json["accepted"] as? [String] == ["up to 200"])
                let confirmed = try await post(
                    "/v1/patients/\(patient)/trials",
                    #"""
                    {"kind": "medication", "drug": "sertraline", "daily_dose_mg": 250, "started_on": "2026-09-02", \#
                    "confirm_high_dose": true, "high_dose_reason": "levels checked"}
                    """#
                )
                #expect(confirmed.status == .created, "\(confirmed.text)")
                let drug = try await post(
                    "/v1/patients/\(patient)/trials",
                    #"{"kind": "medication", "drug": "venlafaxin", "daily_dose_mg": 150, "started_on": "2026-09-02"}"#)
                #expect(
                    drug.status == .unprocessableContent && drug.json["field"] as? String == "drug"
                        && drug.json["accepted"] as? [String] == ["venlafaxine", "desvenlafaxine"], "\(drug.text)")
                #expect(drug.detail.contains("did you mean venlafaxine, desvenlafaxine?"))
                let priority = try await post(
                    "/v1/patients/\(patient)/tasks",
                    #"{"title": "Call", "pool_role": "psychologist", "priority": "high"}"#)
                #expect(
                    priority.status == .badRequest
                        && priority.detail == "'priority': must be one of routine, urgent, asap or stat, not high",
                    "\(priority.text)")
                let role = try await post("/v1/patients/\(patient)/tasks", #"{"title": "Call", "pool_role": "nurse"}"#)
                #expect(role.detail.contains("psychiatrist, psychologist"), "\(role.text)")
                let owner = try await post("/v1/patients/\(patient)/tasks", #"{"title": "Call", "owner_id": "nobody"}"#)
                #expect(owner.status == .badRequest && owner.detail.contains("must be an id such as"), "\(owner.text)")
                for reply in [priority, role, owner] {
                    for name in ["TaskPriority", "Role", "UUID", "Swift", "CodingKeys"] {
                        #expect(!reply.detail.contains(name), "\(reply.detail)")
                    }
                }

                let referral = try await post(
                    "/v1/patients/\(patient)/referrals", #"{"kind": "tms", "target_clinic": "Lakeside TMS"}"#)
                let referralID = try #require(referral.json["id"] as? String)
                let again = try await post(
                    "/v1/patients/\(patient)/referrals", #"{"kind": "tms", "target_clinic": "Hilltop TMS"}"#)
                #expect(
                    again.status == .conflict && again.json["existing"] as? String == "/v1/referrals/\(referralID)",
                    "\(again.text)")
                let move = try await post("/v1/referrals/\(referralID)/status", #"{"status": "completed"}"#)
                #expect(
                    move.status == .conflict
                        && move.json["accepted"] as? [String] == ["accepted", "declined", "cancelled"], "\(move.text)")
                #expect(
                    move.detail
                        == """
                        a referral that is requested cannot move to completed; from requested it can move to \
                        accepted, declined, cancelled
                        """
                )
                let cancelled = try await post(
                    "/v1/referrals/\(referralID)/status", #"{"status": "cancelled", "reason": "patient moved away"}"#)
                #expect(
                    cancelled.status == .ok && (cancelled.json["superseded_handoff_ids"] as? [String])?.count == 4,
                    "\(cancelled.text)")

                let task = try await post(
                    "/v1/patients/\(patient)/tasks", #"{"title": "Call", "pool_role": "psychiatrist"}"#)
                let taskID = try #require(task.json["id"] as? String)
                let noReason = try await post("/v1/tasks/\(taskID)/cancel", "{}")
                #expect(
                    noReason.status == .unprocessableContent && noReason.json["field"] as? String == "reason",
                    "\(noReason.text)")
                _ = try await post("/v1/tasks/\(taskID)/complete", "{}")
                let reopen = try await post("/v1/tasks/\(taskID)/start", "{}")
                #expect(
                    reopen.status == .conflict && reopen.json["accepted"] as? [String] == []
                        && reopen.detail.contains("completed is final"), "\(reopen.text)")
            }
        }
    }

    @Test(
        """
        entered in error over HTTP: gone from lists unless asked for, shown marked; a note only by its author; \
        psychotherapy stays private
        """
    )
    func enteredInError() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            try await clinic.app().test(.router) { client in
                let score = try await client.call(
                    .post, "/v1/patients/\(patient)/measurements", token: clinic.tokens["psychologist"],
                    json: #"{"instrument": "PHQ-9", "total": 17}"#)
                let scoreID = try #require(score.json["id"] as? String)
                let listed = try await client.call(
                    .get, "/v1/patients/\(patient)/measurements", token: clinic.tokens["psychologist"])
                #expect(listed.items.first?["severity"] as? String == "moderately severe")
                // The social worker neither recorded it nor is a psychiatrist.
                let refused = try await client.call(
                    .post, "/v1/measurements/\(scoreID)/entered-in-error", token: clinic.tokens["socialWorker"],
                    json: #"{"reason": "duplicate"}"#)
                #expect(
                    refused.status == .forbidden
                        && refused.detail
                            == "only whoever recorded this score, or a psychiatrist, marks it entered in error"
                )
                let marked = try await client.call(
                    .post, "/v1/measurements/\(scoreID)/entered-in-error", token: clinic.tokens["psychiatrist"],
                    json: #"{"reason": "duplicate"}"#)
                #expect(
                    marked.status == .ok
                        && (marked.json["entered_in_error"] as? [String: Any])?["reason"] as? String == "duplicate",
                    "\(marked.text)")
                #expect(
                    try await client.call(
                        .get, "/v1/patients/\(patient)/measurements", token: clinic.tokens["psychologist"]
                    ).items.isEmpty)
                let shown = try await client.call(
                    .get, "/v1/patients/\(patient)/measurements?include_entered_in_error=true",
                    token: clinic.tokens["psychologist"])
                #expect(
                    (shown.items.first?["entered_in_error"] as? [String: Any])?["by"] as? String
                        == clinic.members["psychiatrist"]!.lower)
                let history = try await client.call(
                    .get, "/v1/patients/\(patient)/events", token: clinic.tokens["psychologist"])
                #expect(history.items.contains { $0["type"] as? String == "measurement.entered_in_error" })

                // A psychotherapy note: its author marks it; nobody else learns it exists.
                let note = try await client.call(
                    .post, "/v1/patients/\(patient)/notes", token: clinic.tokens["psychologist"],
                    json: #"{"kind": "psychotherapy", "body": "Session 4"}"#)
                let noteID = try #require(note.json["id"] as? String)
                let hidden = try await client.call(
                    .post, "/v1/notes/\(noteID)/entered-in-error", token: clinic.tokens["psychiatrist"],
                    json: #"{"reason": "x"}"#)
                #expect(hidden.status == .notFound)
                let own = try await client.call(
                    .post, "/v1/notes/\(noteID)/entered-in-error", token: clinic.tokens["psychologist"],
                    json: #"{"reason": "wrong patient"}"#)
                #expect(own.status == .ok, "\(own.text)")
                let othersHistory = try await client.call(
                    .get, "/v1/patients/\(patient)/events", token: clinic.tokens["psychiatrist"])
                #expect(!othersHistory.items.contains { $0["type"] as? String == "note.entered_in_error" })
                let notes = try await client.call(
                    .get, "/v1/patients/\(patient)/notes?include_entered_in_error=true",
                    token: clinic.tokens["psychologist"])
                #expect(
                    notes.items.first?["author_name"] as? String == "psychologist"
                        && notes.items.first?["entered_in_error"] != nil)
            }
        }
    }
}

@Suite("Refusals are audited and never a 500", .timeLimit(.minutes(2)))
struct RefusalTests {
    @Test("a refusal by an object's id (another team's task, handoff, note) is audited as denied with no patient named")
    func refusalsByIDAreAudited() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let south = clinic.members["southPsychiatrist"]!
            let task = try await clinic.store.createTask(
                patientID: clinic.southPatient, title: "South's task", poolRole: .psychiatrist,
                by: .system(actingFor: south))
            try await clinic.app().test(.router) { client in
                let reply = try await client.call(
                    .post, "/v1/tasks/\(task.lower)/claim", token: clinic.tokens["psychiatrist"])
                #expect(reply.status == .notFound)
                let unknown = try await client.call(
                    .get, "/v1/tasks/\(UUID().lower)", token: clinic.tokens["psychiatrist"])
                #expect(unknown.status == .notFound)
            }
            let rows = try await pool.query(
                """
                SELECT action, outcome, patient_id IS NULL FROM audit_entries WHERE member_id =
                    \(clinic.members["psychiatrist"]!) ORDER BY id
                """
            ).map { try $0.decode(String.self, String.self, Bool.self) }
            #expect(
                rows.map(\.0) == ["task.claim", "task.read"] && rows.allSatisfy { $0.1 == "denied" && $0.2 }, "\(rows)")
        }
    }

    @Test("listing webhook subscriptions takes webhooks:manage, like managing them")
    func webhookListNeedsTheScope() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let clinician = try await client.call(.get, "/v1/webhooks", token: clinic.tokens["psychiatrist"])
                #expect(clinician.status == .forbidden && clinician.detail == Permission.manageWebhooks.refusal)
                let integrator = try await client.call(.get, "/v1/webhooks", token: clinic.tokens["integrator"])
                #expect(integrator.status == .ok)
            }
        }
    }

    @Test(
        """
        the database's own refusals are the store's: 42501 forbidden, 23514/23502/23503 a value naming its field, \
        23505 a conflict
        """
    )
    func databaseRefusals() {
        let rls = StoreError(
            refusedBy: PQError(.server, "new row violates row-level security policy", sqlState: "42501"))
        #expect(rls == .forbidden("the database refused this for your role on the patient's team"))
        let check = StoreError(
            refusedBy: PQError(
                .server, "violates check constraint", sqlState: "23514", constraint: "tasks_owner_or_pool"))
        #expect(
            check
                == .invalidValue(
                    InvalidValue(
                        field: "tasks_owner_or_pool",
                        message: "a value breaks a rule of the record (tasks_owner_or_pool)")))
        let missing = StoreError(refusedBy: PQError(.server, "null value", sqlState: "23502", column: "title"))
        #expect(missing == .invalidValue(InvalidValue(field: "title", message: "'title' is required")))
        #expect(
            StoreError(refusedBy: PQError(.server, "dup", sqlState: "23505"))
                == .conflict("that already exists (a unique rule)"))
        #expect(StoreError(refusedBy: PQError(.connection, "gone", sqlState: "08006")) == nil)
    }
}

@Suite("The Markdown report shows records as text", .timeLimit(.minutes(2)))
struct MarkdownEscapeTests {
    @Test("a name with HTML, a link and a pipe comes out escaped: no HTML, no link, the table intact")
    func escapes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let name = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) | *bold*"
            let patient = try await clinic.store.createPatient(
                teamID: clinic.north, mrn: "MD-1", displayName: name, enrolledOn: Date(), by: .system())
            _ = try await clinic.store.recordMeasurement(
                patientID: patient, score: try Score(.phq9, total: 18), takenAt: Date(),
                by: .system(actingFor: clinic.members["psychologist"]))
            try await clinic.app().test(.router) { client in
                let week = ISOWeek(containing: Date())
                let reply = try await client.call(
                    .get, "/v1/teams/\(clinic.north.lower)/reports/weekly/\(week)?format=md",
                    token: clinic.tokens["psychologist"])
                #expect(reply.status == .ok)
                let markdown = reply.text
                #expect(
                    !markdown.contains("<img") && markdown.contains("&lt;img src=x onerror=alert(1)&gt;"), "\(markdown)"
                )
                #expect(
                    markdown.contains(#"\[click\](javascript:alert(1))"#) && markdown.contains(#"\| \*bold\*"#),
                    "\(markdown)")
                let row = try #require(markdown.split(separator: "\n").first { $0.contains("onerror") })
                // Seven cells: the name's pipe did not add one.
                #expect(row.replacingOccurrences(of: #"\|"#, with: "").filter { $0 == "|" }.count == 8, "\(row)")
            }
        }
    }
}

@Suite("HTTP hygiene", .timeLimit(.minutes(2)))
struct HygieneTests {
    @Test("every response carries no-store, nosniff, no-referrer and a frame policy; a body naming a key twice is 400")
    func headersAndDuplicateKeys() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let ok = try await client.call(
                    .get, "/v1/patients/\(clinic.northPatient.lower)", token: clinic.tokens["psychiatrist"])
                let refused = try await client.call(
                    .get, "/v1/patients/\(clinic.southPatient.lower)", token: clinic.tokens["psychiatrist"])
                let anonymous = try await client.call(.get, "/v1/me", token: nil)
                for reply in [ok, refused, anonymous] {
                    #expect(reply.headers[.cacheControl] == "no-store")
                    #expect(reply.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                    #expect(reply.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                    #expect(reply.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                    #expect(reply.headers[.contentSecurityPolicy] == "frame-ancestors 'none'")
                }
                let twice = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: clinic.tokens["psychiatrist"],
                    json: #"{"kind": "progress", "body": "first", "b\u006fdy": "second"}"#)
                #expect(
                    twice.status == .badRequest
                        && twice.detail == "the body names 'body' twice in one object; send each field once",
                    "\(twice.text)")
                let nested = try await client.call(
                    .put, "/v1/patients/\(clinic.northPatient.lower)/care-plan", token: clinic.tokens["psychiatrist"],
                    json: #"{"goals": ["a", "a"], "problems": [], "treatment_line": "x \"goals\": 1"}"#,
                    headers: [.ifMatch: "\"v1\""])
                #expect(
                    nested.status == .ok,
                    "repeated values and a key-like string inside a value are fine: \(nested.text)")
                #expect(try await pool.query("SELECT count(*) FROM notes")[0].decode(Int.self, at: 0) == 0)
            }
        }
    }
}

@Suite("Secrets are shown once", .timeLimit(.minutes(2)))
struct ShownOnceTests {
    @Test(
        """
        a replayed member creation answers 409 saying the token was shown once; no token is kept; API tokens expire in \
        90 days, a year at most
        """
    )
    func tokens() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let path = "/v1/teams/\(clinic.north.lower)/members"
                let body = #"{"display_name": "Dr. Once", "roles": ["psychologist"]}"#
                let first = try await client.call(
                    .post, path, token: clinic.tokens["admin"], json: body, headers: [.idempotencyKey: "mint-1"])
                #expect(first.status == .created, "\(first.text)")
                let token = try #require(first.json["token"] as? String)
                #expect(
                    first.headers[HTTPField.Name("CareRelay-Shown-Once")!] == nil, "the marker never leaves the server")
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                let expires = try #require(
                    (first.json["token_expires_at"] as? String).flatMap { formatter.date(from: $0) }, "\(first.text)")
                #expect(abs(expires.timeIntervalSinceNow - 90 * 86_400) < 600)
                let replay = try await client.call(
                    .post, path, token: clinic.tokens["admin"], json: body, headers: [.idempotencyKey: "mint-1"])
                #expect(replay.status == .conflict && replay.problemType == "secret-shown-once", "\(replay.text)")
                #expect(!replay.text.contains(token) && replay.headers[.location] == path)
                let kept = try await pool.query(
                    """
                    SELECT coalesce(convert_from(response_body, 'UTF8'), '') FROM idempotency_keys WHERE key = 'mint-1'
                    """
                )[0]
                .decode(String.self, at: 0)
                #expect(!kept.contains(token) && !kept.contains("crt_"))
                #expect(
                    try await pool.query("SELECT count(*) FROM members WHERE display_name = 'Dr. Once'")[0].decode(
                        Int.self, at: 0) == 1)
                let tooLong = try await client.call(
                    .post, path, token: clinic.tokens["admin"],
                    json:
                        #"""
                        {"display_name": "Dr. Forever", "roles": ["psychologist"], "token_expires_at": \#
                        "2999-01-01T00:00:00Z"}
                        """#
                )
                #expect(
                    tooLong.status == .unprocessableContent && tooLong.json["field"] as? String == "token_expires_at",
                    "\(tooLong.text)")
            }
        }
    }
}

@Suite("Failed authentications are limited", .timeLimit(.minutes(2)))
struct AuthFailureTests {
    @Test(
        """
        past 10 failures a token is answered 429 with Retry-After before it is looked up; other tokens are not affected
        """
    )
    func perToken() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let guess = "crt_" + String(repeating: "B", count: 43)
                for attempt in 1...10 {
                    let reply = try await client.call(.get, "/v1/me", token: guess)
                    #expect(reply.status == .unauthorized, "attempt \(attempt)")
                }
                let limited = try await client.call(.get, "/v1/me", token: guess)
                #expect(
                    limited.status == .tooManyRequests && limited.problemType == "too-many-attempts", "\(limited.text)")
                let wait = try #require(limited.headers[HTTPField.Name("Retry-After")!].flatMap(Int.init))
                #expect((1...60).contains(wait))
                #expect(try await client.call(.get, "/v1/me", token: clinic.tokens["psychiatrist"]).status == .ok)
            }
        }
    }

    @Test("past the per-address limit every token from that address waits")
    func perAddress() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            var dependencies = CareAPIDependencies(
                store: clinic.store, migrator: try Migrator(migrations: Migration.embedded()),
                metrics: clinic.metrics)
            dependencies.authFailures = AuthFailureLimiter(
                limits: .init(perToken: 10, perAddress: 3, exemptLoopback: false))
            let limited = dependencies
            try await buildApplication(limited, host: "127.0.0.1", port: 0, services: [], logger: testLogger()).test(
                .live
            ) { client in
                for attempt in 1...3 {
                    let reply = try await client.call(
                        .get, "/v1/me", token: "crt_" + String(repeating: "C", count: 42) + "\(attempt)")
                    #expect(reply.status == .unauthorized)
                }
                let fourth = try await client.call(.get, "/v1/me", token: "crt_" + String(repeating: "D", count: 43))
                #expect(fourth.status == .tooManyRequests, "\(fourth.text)")
                let valid = try await client.call(.get, "/v1/me", token: clinic.tokens["psychiatrist"])
                #expect(valid.status == .tooManyRequests, "the address waits, whatever token it sends")
            }
        }
    }
}
