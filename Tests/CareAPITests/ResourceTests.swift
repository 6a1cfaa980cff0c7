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

@Suite("/v1 resources end to end", .timeLimit(.minutes(3)))
struct ResourceTests {
    @Test(
        "a failed trial over HTTP: handoffs reach the psychologist and social worker, who acknowledge and complete them"
    )
    func failedTrialFlow() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            try await clinic.app().test(.router) { client in
                let psychiatrist = clinic.tokens["psychiatrist"]
                let baseline = try await client.call(
                    .post, "/v1/patients/\(patient)/measurements", token: psychiatrist,
                    json: #"{"instrument": "PHQ-9", "items": [2,2,2,2,2,2,2,2,0], "taken_at": "2026-09-01T09:00:00Z"}"#)
                #expect(baseline.status == .created, "\(baseline.text)")
                let trial = try await client.call(
                    .post, "/v1/patients/\(patient)/trials", token: psychiatrist,
                    json:
                        #"""
                        {"kind": "medication", "drug": "sertraline", "daily_dose_mg": 100, "started_on": "2026-09-02"}
                        """#
                )
                #expect(trial.status == .created, "\(trial.text)")
                let trialID = try #require(trial.json["id"] as? String)
                let later = try await client.call(
                    .post, "/v1/patients/\(patient)/measurements", token: psychiatrist,
                    json: #"{"instrument": "PHQ-9", "total": 15, "taken_at": "2026-10-20T09:00:00Z"}"#)
                #expect(later.status == .created)
                let outcome = try await client.call(
                    .post, "/v1/trials/\(trialID)/outcome", token: psychiatrist,
                    json: #"{"outcome": "non-response", "stopped_on": "2026-10-21", "adherence": 0.9}"#)
                #expect(outcome.status == .created, "\(outcome.text)")
                #expect(outcome.json["is_failed"] as? Bool == true)
                #expect((outcome.json["handoff_ids"] as? [String])?.count == 3)

                for name in ["psychologist", "socialWorker"] {
                    let handoffs = try await client.call(.get, "/v1/handoffs", token: clinic.tokens[name])
                    #expect(handoffs.status == .ok)
                    #expect(handoffs.items.count == 1, "\(name): \(handoffs.text)")
                    let handoff = try #require(handoffs.items.first)
                    let ack = try await client.call(
                        .post, "/v1/handoffs/\(handoff["id"] as! String)/acknowledge", token: clinic.tokens[name])
                    #expect(ack.status == .ok, "\(ack.text)")
                    let again = try await client.call(
                        .post, "/v1/handoffs/\(handoff["id"] as! String)/acknowledge", token: clinic.tokens[name])
                    #expect(again.status == .conflict && again.problemType == "conflict")

                    let queue = try await client.call(.get, "/v1/tasks", token: clinic.tokens[name])
                    let task = try #require(queue.items.first { $0["id"] as? String == handoff["task_id"] as? String })
                    #expect(task["status"] as? String == "requested")
                    for action in ["claim", "start", "complete"] {
                        let moved = try await client.call(
                            .post, "/v1/tasks/\(task["id"] as! String)/\(action)", token: clinic.tokens[name],
                            json: action == "complete" ? #"{"note": "done"}"# : nil)
                        #expect(moved.status == .ok, "\(action): \(moved.text)")
                    }
                    let done = try await client.call(
                        .get, "/v1/tasks/\(task["id"] as! String)", token: clinic.tokens[name])
                    #expect(done.json["status"] as? String == "completed")
                }
                let summary = try await client.call(.get, "/v1/patients/\(patient)", token: psychiatrist)
                #expect(summary.status == .ok)
                let trials = try #require(summary.json["trials"] as? [[String: Any]])
                #expect(trials.first?["is_failed"] as? Bool == true)
                #expect((summary.json["scores"] as? [[String: Any]])?.count == 2)
                #expect((outcome.json["joined_handoff_ids"] as? [String]) == [])

                // A second failure: the psychologist's and social worker's steps were done, so they
                // are made anew; the psychiatrist's is still open and gets it as one more cause.
                let second = try await client.call(
                    .post, "/v1/patients/\(patient)/trials", token: psychiatrist,
                    json: #"""
                        {"kind": "medication", "drug": "venlafaxine", "daily_dose_mg": 150, "started_on": "2026-09-03"}
                        """#)
                let secondID = try #require(second.json["id"] as? String, "\(second.text)")
                let failedAgain = try await client.call(
                    .post, "/v1/trials/\(secondID)/outcome", token: psychiatrist,
                    json: #"{"outcome": "non-response", "stopped_on": "2026-10-22", "adherence": 0.9}"#)
                #expect(failedAgain.status == .created, "\(failedAgain.text)")
                let joined = try #require(failedAgain.json["joined_handoff_ids"] as? [String])
                let firstMade = try #require(outcome.json["handoff_ids"] as? [String])
                #expect(joined.count == 1 && firstMade.contains(joined[0]), "\(failedAgain.text)")
                #expect((failedAgain.json["handoff_ids"] as? [String])?.count == 3, "\(failedAgain.text)")
            }
        }
    }

    @Test(
        """
        the care plan: ETag on GET; PUT without If-Match is 428, with a stale one 412, with the current one a new \
        version
        """
    )
    func carePlanETags() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let uri = "/v1/patients/\(clinic.northPatient.lower)/care-plan"
            let body =
                #"{"goals": ["PHQ-9 below 5"], "problems": ["low mood"], "treatment_line": "SSRI, then augment"}"#
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychologist"]
                let plan = try await client.call(.get, uri, token: token)
                #expect(plan.status == .ok && plan.headers[.eTag] == "\"v1\"")
                let missing = try await client.call(.put, uri, token: token, json: body)
                #expect(missing.status == .preconditionRequired && missing.problemType == "precondition-required")
                let saved = try await client.call(.put, uri, token: token, json: body, headers: [.ifMatch: "\"v1\""])
                #expect(saved.status == .ok && saved.headers[.eTag] == "\"v2\"", "\(saved.text)")
                #expect(saved.json["goals"] as? [String] == ["PHQ-9 below 5"])
                let stale = try await client.call(
                    .put, uri, token: clinic.tokens["socialWorker"], json: body, headers: [.ifMatch: "\"v1\""])
                #expect(stale.status == .preconditionFailed && stale.problemType == "precondition-failed")
            }
        }
    }

    @Test(
        """
        Idempotency-Key: a replay returns the first response, another body is 422, and concurrent duplicates write once
        """
    )
    func idempotency() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let uri = "/v1/patients/\(clinic.northPatient.lower)/notes"
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["socialWorker"]
                let first = try await client.call(
                    .post, uri, token: token, json: #"{"kind": "social", "body": "Housing form sent"}"#,
                    headers: [.idempotencyKey: "k-1"])
                #expect(first.status == .created)
                let replay = try await client.call(
                    .post, uri, token: token, json: #"{"kind": "social", "body": "Housing form sent"}"#,
                    headers: [.idempotencyKey: "k-1"])
                #expect(
                    replay.status == .created && replay.body == first.body
                        && replay.headers[.idempotentReplayed] == "true")
                #expect(replay.headers[.location] == first.headers[.location])
                let other = try await client.call(
                    .post, uri, token: token, json: #"{"kind": "social", "body": "Something else"}"#,
                    headers: [.idempotencyKey: "k-1"])
                #expect(other.status == .unprocessableContent && other.problemType == "idempotency-key-reused")

                // Ten at once with one key: one note, and every answer is the note or "in flight".
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<10 {
                        group.addTask {
                            try await client.call(
                                .post, uri, token: token, json: #"{"kind": "social", "body": "Called the landlord"}"#,
                                headers: [.idempotencyKey: "k-2"]
                            ).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == .created || $0 == .conflict }, "\(statuses)")
                #expect(statuses.contains(.created))
                let notes = try await client.call(.get, uri, token: token)
                #expect(notes.items.filter { $0["body"] as? String == "Called the landlord" }.count == 1)
            }
        }
    }

    @Test(
        """
        a running trial's dose is titrated over HTTP: the steps and the adequacy follow, the event is logged; \
        bad doses, days, roles and ended trials are refused and change nothing
        """
    )
    func doseTitration() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            try await clinic.app().test(.router) { client in
                let psychiatrist = clinic.tokens["psychiatrist"]
                let started = try await client.call(
                    .post, "/v1/patients/\(patient)/trials", token: psychiatrist,
                    json: #"""
                        {"kind": "medication", "drug": "sertraline", "daily_dose_mg": 25, "started_on": "2026-09-02"}
                        """#)
                let trial = try #require(started.json["id"] as? String)

                let raised = try await client.call(
                    .post, "/v1/trials/\(trial)/dose", token: psychiatrist,
                    json: #"{"daily_dose_mg": 50, "from": "2026-09-16"}"#)
                #expect(raised.status == .ok, "\(raised.text)")
                let steps = try #require(raised.json["dose_steps"] as? [[String: Any]])
                #expect(steps.map { $0["from"] as? String } == ["2026-09-02", "2026-09-16"])
                #expect(steps.map { $0["daily_dose_mg"] as? Double } == [25, 50])
                // Adequacy counts from the day the adequate dose began (50 mg is sertraline's).
                let adequacy = try #require(raised.json["adequacy"] as? [String: Any])
                let weeks = try #require(adequacy["weeks_at_adequate_dose"] as? Double)
                let expected =
                    Date().timeIntervalSince(ISO8601DateFormatter().date(from: "2026-09-16T00:00:00Z")!) / (7 * 86_400)
                #expect(abs(weeks - expected) < 0.2 && adequacy["is_adequate"] as? Bool == true, "\(raised.text)")
                let logged = try await pool.query(
                    "SELECT payload->>'daily_dose_mg' FROM events WHERE type = 'trial.dose_changed'"
                ).column(String.self)
                #expect(logged == ["50.0"])

                // Refused, each leaving the steps as they are.
                for (token, body, status) in [
                    (
                        clinic.tokens["psychologist"], #"{"daily_dose_mg": 100, "from": "2026-10-01"}"#,
                        HTTPResponse.Status.forbidden
                    ),
                    (psychiatrist, #"{"daily_dose_mg": 0, "from": "2026-10-01"}"#, .badRequest),
                    (psychiatrist, #"{"daily_dose_mg": 400, "from": "2026-10-01"}"#, .unprocessableContent),
                    (psychiatrist, #"{"daily_dose_mg": 100, "from": "2026-08-01"}"#, .unprocessableContent),
                    (psychiatrist, #"{"daily_dose_mg": 100, "from": "2999-01-01"}"#, .unprocessableContent),
                    (psychiatrist, #"{"from": "2026-10-01"}"#, .badRequest),
                ] {
                    let refused = try await client.call(.post, "/v1/trials/\(trial)/dose", token: token, json: body)
                    #expect(refused.status == status, "\(body): \(refused.text)")
                }
                let high = try await client.call(
                    .post, "/v1/trials/\(trial)/dose", token: psychiatrist,
                    json: #"{"daily_dose_mg": 400, "from": "2026-10-01"}"#)
                #expect(high.text.contains("200"), "the maximum is named: \(high.text)")
                let confirmed = try await client.call(
                    .post, "/v1/trials/\(trial)/dose", token: psychiatrist,
                    json: #"""
                        {"daily_dose_mg": 250, "from": "2026-10-01", "confirm_high_dose": true,
                         "high_dose_reason": "Rapid metaboliser"}
                        """#)
                #expect(confirmed.status == .ok, "\(confirmed.text)")
                #expect((confirmed.json["dose_steps"] as? [[String: Any]])?.count == 3)

                // Ended: no more dose changes.
                let outcome = try await client.call(
                    .post, "/v1/trials/\(trial)/outcome", token: psychiatrist,
                    json: #"{"outcome": "response", "stopped_on": "2026-11-20", "adherence": 0.9}"#)
                #expect(outcome.status == .created, "\(outcome.text)")
                let ended = try await client.call(
                    .post, "/v1/trials/\(trial)/dose", token: psychiatrist,
                    json: #"{"daily_dose_mg": 100, "from": "2026-11-01"}"#)
                #expect(ended.status == .conflict, "\(ended.text)")
                let summary = try await client.call(.get, "/v1/patients/\(patient)/trials", token: psychiatrist)
                let kept = try #require(summary.items.first?["dose_steps"] as? [[String: Any]])
                #expect(kept.map { $0["daily_dose_mg"] as? Double } == [25, 50, 250])
            }
        }
    }

    @Test("lists page with an opaque cursor; bad parameters, bodies and ids are 400; a body over the limit is 413")
    func pagingAndBadInput() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            for i in 0..<4 {
                _ = try await clinic.store.createPatient(
                    teamID: clinic.north, mrn: "N-P\(i)", displayName: "Patient \(i)", enrolledOn: Date(), by: .system()
                )
            }
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                var seen: [String] = []
                var uri = "/v1/patients?limit=2"
                while true {
                    let page = try await client.call(.get, uri, token: token)
                    #expect(page.status == .ok)
                    #expect(page.items.count <= 2)
                    seen += page.items.compactMap { $0["display_name"] as? String }
                    guard let next = page.json["next_cursor"] as? String else { break }
                    uri = "/v1/patients?limit=2&cursor=\(next)"
                }
                #expect(seen == ["Ada North", "Patient 0", "Patient 1", "Patient 2", "Patient 3"])
                let search = try await client.call(.get, "/v1/patients?search=ada", token: token)
                #expect(search.items.count == 1)

                for bad in [
                    "/v1/patients?limit=0", "/v1/patients?limit=201", "/v1/patients?cursor=nonsense",
                    "/v1/patients/not-a-uuid", "/v1/tasks?status=sleeping",
                ] {
                    let reply = try await client.call(.get, bad, token: token)
                    #expect(reply.status == .badRequest, "\(bad): \(reply.status)")
                    #expect(reply.headers[.contentType] == "application/problem+json")
                }
                let malformed = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token, json: "{not json")
                #expect(malformed.status == .badRequest)
                let missing = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token,
                    json: #"{"kind": "progress"}"#)
                #expect(
                    missing.status == .badRequest && missing.detail.contains("'body' is required"), "\(missing.detail)")
                let huge = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token,
                    json: #"{"body": ""# + String(repeating: "x", count: 1_100_000) + #""}"#)
                #expect(huge.status == .contentTooLarge && huge.problemType == "payload-too-large")
                let long = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token,
                    json: #"{"body": ""# + String(repeating: "x", count: 50_001) + #""}"#)
                #expect(long.status == .badRequest && long.detail.contains("longer than 50000"))
                let nul = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token,
                    json: #"{"body": "a\u0000b"}"#)
                #expect(nul.status == .badRequest && nul.detail.contains("NUL"))
                let blank = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token,
                    json: #"{"body": " \t\u3000"}"#)
                #expect(blank.status == .unprocessableContent)
                let oldDate = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/trials", token: token,
                    json: #"{"kind": "psychotherapy", "started_on": "0001-01-02"}"#)
                #expect(oldDate.status == .badRequest)
                let wrongMethod = try await client.call(
                    .delete, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token)
                #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.headers[.allow] == "GET, POST")
                let notes = try await client.call(.get, "/v1/patients/\(clinic.northPatient.lower)/notes", token: token)
                #expect(notes.items.isEmpty)
            }
        }
    }

    @Test("an admin adds a member with their token in one step; a refused one leaves neither member nor token")
    func addMember() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let team = clinic.north.lower
            try await clinic.app().test(.router) { client in
                let admin = clinic.tokens["admin"]
                let created = try await client.call(
                    .post, "/v1/teams/\(team)/members", token: admin,
                    json: #"{"display_name": "Dr. New", "email": "new@example.org", "roles": ["psychologist"]}"#)
                #expect(created.status == .created, "\(created.text)")
                let token = try #require(created.json["token"] as? String)
                let me = try await client.call(.get, "/v1/me", token: token)
                #expect(me.status == .ok && me.json["display_name"] as? String == "Dr. New")

                let members = {
                    try await pool.query("SELECT count(*) FROM members WHERE email = 'new@example.org'")[0].decode(
                        Int.self, at: 0)
                }
                let tokens = {
                    try await pool.query(
                        """
                        SELECT count(*) FROM api_tokens t JOIN members m ON m.id = t.member_id WHERE m.display_name \
                        LIKE 'Dr. New%'
                        """
                    )[0].decode(Int.self, at: 0)
                }
                let again = try await client.call(
                    .post, "/v1/teams/\(team)/members", token: admin,
                    json: #"{"display_name": "Dr. New Again", "email": "new@example.org", "roles": ["psychologist"]}"#)
                #expect(again.status == .conflict, "\(again.text)")
                let expired = try await client.call(
                    .post, "/v1/teams/\(team)/members", token: admin,
                    json:
                        #"""
                        {"display_name": "Dr. New Expired", "roles": ["psychologist"], "token_expires_at": \#
                        "2020-01-01T00:00:00Z"}
                        """#
                )
                #expect(expired.status == .unprocessableContent, "\(expired.text)")
                #expect(try await members() == 1)
                #expect(try await tokens() == 1)
                let psychiatrist = try await client.call(
                    .post, "/v1/teams/\(team)/members", token: clinic.tokens["psychiatrist"],
                    json: #"{"display_name": "Dr. Not Allowed", "roles": ["psychologist"]}"#)
                #expect(psychiatrist.status == .forbidden)
            }
        }
    }

    @Test("a patient's trials and referrals page like every other list, oldest first")
    func trialsAndReferralsPage() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient.lower
            try await clinic.app().test(.router) { client in
                let psychiatrist = clinic.tokens["psychiatrist"]
                var trials: [String] = []
                var referrals: [String] = []
                for (index, (drug, dose)) in [("sertraline", 100), ("venlafaxine", 150), ("mirtazapine", 30)]
                    .enumerated()
                {
                    // (The fixture's patient was enrolled on 2026-09-01: prior trials up to a year before are
                    // accepted.)
                    let trial = try await client.call(
                        .post, "/v1/patients/\(patient)/trials", token: psychiatrist,
                        json:
                            #"""
                            {"kind": "medication", "drug": "\#(drug)", "daily_dose_mg": \#(dose), "started_on": \#
                            "2026-0\#(index + 1)-01"}
                            """#
                    )
                    #expect(trial.status == .created, "\(trial.text)")
                    trials.append(try #require(trial.json["id"] as? String))
                    let referral = try await client.call(
                        .post, "/v1/patients/\(patient)/referrals", token: psychiatrist,
                        json: #"{"kind": "tms", "target_clinic": "Clinic \#(index)", "reason": "another clinic"}"#)
                    #expect(referral.status == .created, "\(referral.text)")
                    referrals.append(try #require(referral.json["id"] as? String))
                }
                for (path, written) in [("trials", trials), ("referrals", referrals)] {
                    let first = try await client.call(
                        .get, "/v1/patients/\(patient)/\(path)?limit=2", token: psychiatrist)
                    #expect(first.status == .ok)
                    #expect(first.items.compactMap { $0["id"] as? String } == Array(written.prefix(2)))
                    let next = try #require(first.json["next_cursor"] as? String)
                    let second = try await client.call(
                        .get, "/v1/patients/\(patient)/\(path)?limit=2&cursor=\(next)", token: psychiatrist)
                    #expect(second.items.compactMap { $0["id"] as? String } == [written[2]])
                    #expect(second.json["next_cursor"] == nil)
                    let whole = try await client.call(.get, "/v1/patients/\(patient)/\(path)", token: psychiatrist)
                    #expect(
                        whole.items.compactMap { $0["id"] as? String } == written && whole.json["next_cursor"] == nil)
                    let stranger = try await client.call(
                        .get, "/v1/patients/\(patient)/\(path)?cursor=\(UUID().lower)", token: psychiatrist)
                    #expect(stranger.status == .ok && stranger.items.isEmpty)
                    let bad = try await client.call(
                        .get, "/v1/patients/\(patient)/\(path)?limit=201", token: psychiatrist)
                    #expect(bad.status == .badRequest)
                }
            }
        }
    }

    @Test(
        """
        GET /metrics: requests by route template and status, latency, audit entries, handoffs and the pool, in \
        Prometheus text
        """
    )
    func metrics() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                _ = try await client.call(.get, "/v1/patients/\(clinic.northPatient.lower)", token: token)
                _ = try await client.call(.get, "/v1/patients/\(clinic.southPatient.lower)", token: token)
                _ = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/referrals", token: token,
                    json: #"{"kind": "tms", "target_clinic": "Riverside TMS"}"#)
                let reply = try await client.call(.get, "/metrics", token: nil)
                #expect(reply.status == .ok)
                let text = reply.text
                #expect(
                    text.contains(
                        #"carerelay_http_requests_total{route="/v1/patients/{id}",method="GET",status="200"} 1"#),
                    "\(text)")
                #expect(
                    text.contains(
                        #"carerelay_http_requests_total{route="/v1/patients/{id}",method="GET",status="404"} 1"#))
                #expect(text.contains("carerelay_http_request_duration_seconds_bucket"))
                #expect(text.contains(#"carerelay_audit_entries_total{outcome="allowed"}"#))
                #expect(text.contains(#"carerelay_audit_entries_total{outcome="denied"} 1"#))
                #expect(text.contains("carerelay_handoffs_created_total 4"))
                #expect(text.contains(#"carerelay_db_pool_connections{pool="service",state="open"}"#), "\(text)")
                #expect(text.contains(#"carerelay_db_pool_connections{pool="requests",state="open"}"#))
                #expect(!text.contains(clinic.northPatient.lower), "no patient ids in metrics")
            }
        }
    }
}
