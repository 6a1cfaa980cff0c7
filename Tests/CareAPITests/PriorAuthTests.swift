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

/// Prior authorisation (docs/prior-authorisation.md): from a TMS referral to every criterion met,
/// through the API: the check says what is missing, the screening handoff is completed with the
/// checklist, the team documents and records what the payer reads.
@Suite("Prior authorisation", .timeLimit(.minutes(3)))
struct PriorAuthTests {
    @Test(
        """
        a TMS referral's check lists what to record; the psychiatrist's screen completes the screening handoff; once \
        trials, a score, the screen, a reason for no psychotherapy and a date of birth are recorded, every criterion \
        is met
        """
    )
    func fromReferralToCriteriaMet() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let patient = clinic.northPatient
            let referral = try await store.makeReferral(
                patientID: patient, kind: .tms, targetClinic: "North TMS", by: .system(actingFor: psychiatrist)
            ).referralID
            let screeningTask = try await pool.query(
                PQQuery(
                    """
                    SELECT t.id FROM tasks t JOIN handoffs h ON h.task_id = t.id
                    WHERE h.step_key = 'tms.contraindications' AND t.patient_id = $1
                    """, [patient]))[0].decode(UUID.self, at: 0)
            let otherTask = try await store.createTask(
                patientID: patient, title: "Book bloods", poolRole: .psychiatrist, by: .system(actingFor: psychiatrist))
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let check = "/v1/referrals/\(referral.lower)/prior-authorisation"
                let before = try await client.call(.get, check, token: token)
                #expect(before.status == .ok, "\(before.text)")
                #expect(before.json["all_met"] as? Bool == false)
                #expect(before.json["criteria_set"] as? String == "Default TMS")
                let unmet = (before.json["criteria"] as? [[String: Any]] ?? []).filter {
                    $0["is_met"] as? Bool == false
                }
                let remedies = unmet.compactMap { $0["to_meet"] as? String }
                #expect(unmet.count == 5, "\(remedies)")
                #expect(remedies.contains("record the patient's date of birth"))
                #expect(remedies.contains { $0.contains("no TMS contraindication screen") })

                // The screen: the psychiatrist's, whole, and only on the screening handoff.
                let answers =
                    #"""
                    {"metal-or-implanted-device": false, "seizure-history": false, "seizure-threshold-medicines": \#
                    false, "pregnancy": false}
                    """#
                let screen = "/v1/tasks/\(screeningTask.lower)/contraindication-screen"
                let byPsychologist = try await client.call(
                    .post, screen, token: clinic.tokens["psychologist"], json: #"{"answers": \#(answers)}"#)
                #expect(byPsychologist.status == .forbidden, "\(byPsychologist.text)")
                let partial = try await client.call(
                    .post, screen, token: token, json: #"{"answers": {"pregnancy": false}}"#)
                #expect(partial.status == .unprocessableContent && partial.detail.contains("seizure-history"))
                let unknown = try await client.call(
                    .post, screen, token: token, json: #"{"answers": {"horoscope": false}}"#)
                #expect(unknown.status == .unprocessableContent && unknown.json["field"] as? String == "answers")
                let wrongTask = try await client.call(
                    .post, "/v1/tasks/\(otherTask.lower)/contraindication-screen", token: token,
                    json: #"{"answers": \#(answers)}"#)
                #expect(wrongTask.status == .unprocessableContent, "\(wrongTask.text)")
                #expect(
                    try await pool.query("SELECT count(*) FROM contraindication_screens")[0].decode(Int.self, at: 0)
                        == 0,
                    "refused screens wrote nothing")
                let recorded = try await client.call(
                    .post, screen, token: token, json: #"{"answers": \#(answers), "note": "No implants."}"#)
                #expect(recorded.status == .created, "\(recorded.text)")
                #expect((recorded.json["findings"] as? [String])?.isEmpty == true)
                #expect((recorded.json["task"] as? [String: Any])?["status"] as? String == "completed")
                let again = try await client.call(.post, screen, token: token, json: #"{"answers": \#(answers)}"#)
                #expect(again.status == .conflict, "a completed handoff is not completed twice: \(again.text)")

                // What the payer reads besides: a date of birth, a documented reason, trials, a score.
                let birth = "/v1/patients/\(patient.lower)/birth-date"
                #expect(
                    try await client.call(.put, birth, token: token, json: #"{"birth_date": "1980-02-30"}"#).status
                        == .unprocessableContent)
                #expect(
                    try await client.call(.put, birth, token: token, json: #"{"birth_date": "2999-01-01"}"#).status
                        == .unprocessableContent)
                let born = try await client.call(.put, birth, token: token, json: #"{"birth_date": "1980-05-05"}"#)
                #expect(born.status == .ok && born.json["birth_date"] as? String == "1980-05-05")
                let statements = "/v1/patients/\(patient.lower)/prior-auth-statements"
                let badKey = try await client.call(
                    .post, statements, token: token, json: #"{"key": "No Therapy", "text": "x"}"#)
                #expect(badKey.status == .unprocessableContent)
                let reason = try await client.call(
                    .post, statements, token: token,
                    json: #"{"key": "no-psychotherapy", "text": "No therapist within reach who takes her insurance."}"#)
                #expect(reason.status == .created, "\(reason.text)")
                let enrolled = Date(timeIntervalSince1970: 1_788_220_800)
                try await store.recordTwoFailedTrials(
                    patient: patient, enrolled: enrolled, psychiatrist: psychiatrist, adherence: 0.9)
                _ = try await store.recordMeasurement(
                    patientID: patient, score: try Score(.phq9, total: 18), takenAt: Date().addingTimeInterval(-86_400),
                    by: .system(actingFor: psychiatrist))

                let after = try await client.call(.get, check, token: token)
                #expect(after.json["all_met"] as? Bool == true, "\(after.text)")
                let trials = (after.json["criteria"] as? [[String: Any]])?.first?["trial_ids"] as? [String]
                #expect(trials?.count == 2)

                // Another team's referral is 404, and so it is to a role that reads no referrals
                // (compliance: row-level security hides them); writing needs a clinician.
                #expect(
                    try await client.call(.get, check, token: clinic.tokens["southPsychiatrist"]).status == .notFound)
                #expect(try await client.call(.get, check, token: clinic.tokens["compliance"]).status == .notFound)
                #expect(
                    try await client.call(
                        .put, birth, token: clinic.tokens["readOnlyService"], json: #"{"birth_date": null}"#
                    )
                    .status == .forbidden)
                let audited = try await pool.query(
                    PQQuery(
                        """
                        SELECT count(*) FROM audit_entries WHERE action = 'prior_auth.check' AND patient_id = $1 AND \
                        outcome = 'allowed'
                        """,
                        [patient]))[0].decode(Int.self, at: 0)
                #expect(audited == 2)
            }
        }
    }

    @Test(
        """
        from the TMS referral to a payer-ready PDF: the packet holds the patient's trials with doses, adherence and \
        scores, every criterion with its evidence, and no note (never a psychotherapy note); HTML and PDF render it; \
        reads are audited; another team's is 404
        """
    )
    func packet() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let psychologist = try #require(clinic.members["psychologist"])
            let patient = clinic.northPatient
            let enrolled = Date(timeIntervalSince1970: 1_788_220_800)
            try await store.recordTwoFailedTrials(
                patient: patient, enrolled: enrolled, psychiatrist: psychiatrist, adherence: 0.85,
                stopReason: "no response at 10 weeks")
            for (days, total) in [(0.0, 21), (40, 19), (88, 18)] {
                _ = try await store.recordMeasurement(
                    patientID: patient, score: try Score(.phq9, total: total),
                    takenAt: enrolled.addingTimeInterval(days * 86_400), by: .system(actingFor: psychiatrist))
            }
            _ = try await store.addNote(
                patientID: patient, kind: .psychotherapy, body: "Session 4: private process material.",
                by: .system(actingFor: psychologist))
            _ = try await store.addNote(
                patientID: patient, kind: .progress, body: "Progress note: sleeping poorly.",
                by: .system(actingFor: psychiatrist))
            let referral = try await store.makeReferral(
                patientID: patient, kind: .tms, targetClinic: "North TMS", by: .system(actingFor: psychiatrist)
            ).referralID
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["socialWorker"]
                let byPsychologist = try await client.call(
                    .post, "/v1/referrals/\(referral.lower)/prior-auth-packets", token: clinic.tokens["psychologist"])
                #expect(byPsychologist.status == .forbidden, "the social worker or the psychiatrist makes packets")
                let byIntegration = try await client.call(
                    .post, "/v1/referrals/\(referral.lower)/prior-auth-packets", token: clinic.tokens["service"])
                #expect(byIntegration.status == .forbidden)
                let withNotes = try await client.call(
                    .post, "/v1/referrals/\(referral.lower)/prior-auth-packets", token: token,
                    json: #"{"include_notes": true}"#)
                let notes = (withNotes.json["packet"] as? [String: Any])?["notes"] as? [[String: Any]] ?? []
                #expect(notes.compactMap { $0["text"] as? String } == ["Progress note: sleeping poorly."])
                #expect(!withNotes.text.contains("private process material"))
                let made = try await client.call(
                    .post, "/v1/referrals/\(referral.lower)/prior-auth-packets", token: token)
                #expect(made.status == .created, "\(made.text)")
                let location = try #require(made.headers[.location])
                let document = try #require(made.json["packet"] as? [String: Any])
                #expect(document["all_met"] as? Bool == false, "no screen, no date of birth yet")
                let trials = document["medication_trials"] as? [[String: Any]] ?? []
                #expect(trials.compactMap { $0["name"] as? String }.sorted() == ["sertraline", "venlafaxine"])
                #expect(trials.allSatisfy { $0["adherence"] as? Double == 0.85 && $0["is_failed"] as? Bool == true })
                #expect(trials.allSatisfy { ($0["doses"] as? [[String: Any]])?.count == 1 })
                #expect(trials.allSatisfy { ($0["score_before"] as? [String: Any])?["total"] as? Int == 21 })
                #expect(trials.allSatisfy { ($0["drug_class"] as? String) != nil })
                #expect((document["staging"] as? [String: Any])?["is_trd"] as? Bool == true)
                #expect((document["criteria"] as? [[String: Any]])?.count == 5)
                #expect(document["time_zone"] as? String == "UTC", "the team's zone: the packet's days are its days")

                let json = try await client.call(.get, location, token: clinic.tokens["psychiatrist"])
                #expect(json.status == .ok && json.json["id"] as? String == made.json["id"] as? String)
                let html = try await client.call(.get, location + "?format=html", token: token)
                #expect(html.status == .ok && html.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(html.text.contains("sertraline") && html.text.contains("Prior authorisation request: TMS"))
                let pdf = try await client.call(.get, location + "?format=pdf", token: token)
                #expect(pdf.status == .ok, "\(pdf.text.prefix(300))")
                #expect(pdf.headers[.contentType] == "application/pdf" && pdf.body.starts(with: Data("%PDF".utf8)))
                let text = try Self.pdfText(pdf.body)
                #expect(
                    text.contains("sertraline") && text.contains("venlafaxine") && text.contains("MRN N-1"),
                    "\(text.prefix(500))")
                for answer in [made.text, json.text, html.text, text] {
                    #expect(!answer.contains("private process material") && !answer.contains("sleeping poorly"))
                }
                #expect(try await client.call(.get, location + "?format=doc", token: token).status == .badRequest)
                #expect(
                    try await client.call(.get, location, token: clinic.tokens["southPsychiatrist"]).status == .notFound
                )
                let byAdmin = try await client.call(
                    .post, "/v1/referrals/\(referral.lower)/prior-auth-packets", token: clinic.tokens["admin"])
                #expect(byAdmin.status == .notFound, "an admin reads no referral: \(byAdmin.text)")
                let reads = try await pool.query(
                    PQQuery(
                        """
                        SELECT count(*) FROM audit_entries WHERE action LIKE 'prior_auth.packet.read.%' AND patient_id \
                        = $1
                        """,
                        [patient]))[0].decode(Int.self, at: 0)
                #expect(reads == 3)
            }
        }
    }

    @Test(
        """
        the authorisation's life: drafted, submitted, then denied with the payer's reason (the peer-to-peer and appeal \
        handoffs, exactly once, even when the denial is retried) or approved with sessions; moves the machine does not \
        allow are 409; a new packet answers the denial
        """
    )
    func authorisationLife() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let patient = clinic.northPatient
            let referral = try await clinic.store.makeReferral(
                patientID: patient, kind: .tms, targetClinic: "North TMS", by: .system(actingFor: psychiatrist)
            ).referralID
            @Sendable func count(_ sql: String) async throws -> Int {
                try await pool.query(PQQuery(sql, [patient]))[0].decode(Int.self, at: 0)
            }
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["socialWorker"]
                let packets = "/v1/referrals/\(referral.lower)/prior-auth-packets"
                let first = try await client.call(.post, packets, token: token)
                #expect(first.status == .created && first.json["status"] as? String == "drafted")
                let firstID = try #require(first.json["id"] as? String)
                let move = "/v1/prior-auth-packets/\(firstID)/status"
                let early = try await client.call(
                    .post, move, token: token, json: #"{"status": "approved", "sessions": 30}"#)
                #expect(early.status == .conflict, "\(early.text)")
                #expect(
                    try await client.call(.post, move, token: token, json: #"{"status": "submitted"}"#).status == .ok)
                let bare = try await client.call(.post, move, token: token, json: #"{"status": "denied"}"#)
                #expect(bare.status == .unprocessableContent && bare.json["field"] as? String == "reason")

                var key = HTTPFields()
                key[HTTPField.Name("Idempotency-Key")!] = "deny-1"
                let denial = #"{"status": "denied", "reason": "No trial of an SNRI documented"}"#
                let denied = try await client.call(.post, move, token: token, json: denial, headers: key)
                #expect(denied.status == .ok, "\(denied.text)")
                #expect((denied.json["handoff_ids"] as? [String])?.count == 2)
                let replayed = try await client.call(.post, move, token: token, json: denial, headers: key)
                #expect(replayed.text == denied.text)
                let again = try await client.call(.post, move, token: token, json: denial)
                #expect(again.status == .conflict)
                #expect(
                    try await count(
                        """
                        SELECT count(*) FROM handoffs WHERE patient_id = $1 AND step_key IN \
                        ('prior-auth-denied.peer-review', 'prior-auth-denied.appeal')
                        """
                    ) == 2)
                #expect(
                    try await count("SELECT count(*) FROM events WHERE patient_id = $1 AND type = 'prior_auth.denied'")
                        == 1)
                let read = try await client.call(.get, "/v1/prior-auth-packets/\(firstID)", token: token)
                #expect(read.json["status"] as? String == "denied")
                #expect(
                    (read.json["decisions"] as? [[String: Any]])?.last?["reason"] as? String
                        == "No trial of an SNRI documented")

                // The answer: a new packet that says which denial it answers; then approved.
                let second = try await client.call(.post, packets, token: token)
                let answers = (second.json["packet"] as? [String: Any])?["answers_denial"] as? [String: Any]
                #expect(answers?["packet_id"] as? String == firstID)
                let secondID = try #require(second.json["id"] as? String)
                let list = try await client.call(.get, packets, token: token)
                #expect(list.items.compactMap { $0["id"] as? String } == [secondID, firstID])
                #expect(list.items.compactMap { $0["status"] as? String } == ["drafted", "denied"])
                let secondMove = "/v1/prior-auth-packets/\(secondID)/status"
                #expect(
                    try await client.call(.post, secondMove, token: token, json: #"{"status": "submitted"}"#).status
                        == .ok)
                let approved = try await client.call(
                    .post, secondMove, token: token, json: #"{"status": "approved", "sessions": 36}"#)
                #expect(approved.status == .ok && (approved.json["handoff_ids"] as? [String])?.isEmpty == true)
                #expect(
                    try await client.call(
                        .post, secondMove, token: clinic.tokens["southPsychiatrist"],
                        json: #"{"status": "denied", "reason": "x"}"#
                    )
                    .status == .notFound)

                // The weekly report: the referral with where its authorisation stands, and the
                // caseload's count of those still waiting (a third packet, submitted, waits).
                let third = try await client.call(.post, packets, token: token)
                let thirdID = try #require(third.json["id"] as? String)
                _ = try await client.call(
                    .post, "/v1/prior-auth-packets/\(thirdID)/status", token: token, json: #"{"status": "submitted"}"#)
                let week = ISOWeek(containing: Date()).description
                let report = try await client.call(
                    .get, "/v1/teams/\(clinic.north.lower)/reports/weekly/\(week)?format=json",
                    token: clinic.tokens["psychiatrist"])
                #expect(report.status == .ok, "\(report.text)")
                let caseload = report.json["caseload"] as? [String: Any]
                #expect(
                    caseload?["awaiting_authorisation"] as? Int == 1
                        && caseload?["longest_authorisation_wait_days"] as? Int == 0)
                let listed = (report.json["patients"] as? [[String: Any]])?.first {
                    $0["id"] as? String == patient.lower
                }
                let referrals = listed?["referrals"] as? [[String: Any]]
                #expect(referrals?.first?["authorisation"] as? String == "submitted", "\(referrals ?? [])")
                let html = try await client.call(
                    .get, "/v1/teams/\(clinic.north.lower)/reports/weekly/\(week)?format=html",
                    token: clinic.tokens["psychiatrist"])
                #expect(html.text.contains("prior authorisation submitted, waiting 0 days"))
            }
        }
    }

    @Test(
        """
        payers' criteria as data: an admin adds a payer's set and a new version of it (audited; clinicians may not); \
        the check and the packet use it by name; an unknown set or one for another treatment is 422
        """
    )
    func payerCriteria() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let referral = try await clinic.store.makeReferral(
                patientID: clinic.northPatient, kind: .tms, targetClinic: "North TMS",
                by: .system(actingFor: psychiatrist)
            ).referralID
            try await clinic.app().test(.router) { client in
                let sets = "/v1/teams/\(clinic.north.lower)/prior-auth-criteria"
                let payer = """
                    {"name": "Acme Health TMS", "treatment": "tms", "sessions_requested": 30,
                     "criteria": [{"type": "failed-trials", "minimum_trials": 4, "minimum_classes": 2, \
                    "minimum_augmentations": 2},
                                  {"type": "minimum-age", "years": 21}]}
                    """
                let byClinician = try await client.call(.post, sets, token: clinic.tokens["psychiatrist"], json: payer)
                #expect(byClinician.status == .forbidden)
                let first = try await client.call(.post, sets, token: clinic.tokens["admin"], json: payer)
                #expect(first.status == .created && first.json["version"] as? Int == 1, "\(first.text)")
                let second = try await client.call(
                    .post, sets, token: clinic.tokens["admin"],
                    json: payer.replacingOccurrences(of: "\"years\": 21", with: "\"years\": 18"))
                #expect(second.json["version"] as? Int == 2)
                let unknownType = try await client.call(
                    .post, sets, token: clinic.tokens["admin"],
                    json: #"{"name": "X", "treatment": "tms", "criteria": [{"type": "horoscope"}]}"#)
                #expect(unknownType.status == .badRequest && unknownType.text.contains("horoscope"))
                let builtIn = try await client.call(
                    .post, sets, token: clinic.tokens["admin"],
                    json: payer.replacingOccurrences(of: "Acme Health TMS", with: "Default TMS"))
                #expect(builtIn.status == .unprocessableContent)

                let listed = try await client.call(.get, sets, token: clinic.tokens["socialWorker"])
                let names = listed.items.compactMap { $0["name"] as? String }
                #expect(names == ["Default TMS", "Default ECT", "Default esketamine", "Acme Health TMS"], "\(names)")
                #expect(listed.items.last?["version"] as? Int == 2)

                let check = "/v1/referrals/\(referral.lower)/prior-authorisation"
                let acme = try await client.call(
                    .get, check + "?criteria_set=Acme%20Health%20TMS", token: clinic.tokens["socialWorker"])
                #expect(acme.status == .ok && acme.json["criteria_set"] as? String == "Acme Health TMS", "\(acme.text)")
                let statements = (acme.json["criteria"] as? [[String: Any]] ?? []).compactMap {
                    $0["statement"] as? String
                }
                #expect(
                    statements.first?.contains("including 2 augmentations") == true
                        && statements.last == "age 18 or over")
                let unknown = try await client.call(
                    .get, check + "?criteria_set=Nobody", token: clinic.tokens["socialWorker"])
                #expect(unknown.status == .unprocessableContent && unknown.text.contains("Acme Health TMS"))
                let wrong = try await client.call(
                    .get, check + "?criteria_set=Default%20ECT", token: clinic.tokens["socialWorker"])
                #expect(wrong.status == .unprocessableContent)
                let packet = try await client.call(
                    .post, "/v1/referrals/\(referral.lower)/prior-auth-packets", token: clinic.tokens["socialWorker"],
                    json: #"{"criteria_set": "Acme Health TMS"}"#)
                #expect(
                    (packet.json["packet"] as? [String: Any])?["criteria_set"] as? String
                        == "Acme Health TMS (version 2)",
                    "\(packet.text.prefix(300))")
                #expect((packet.json["packet"] as? [String: Any])?["sessions_requested"] as? Int == 30)
                let audited = try await pool.query(
                    """
                    SELECT count(*) FROM audit_entries WHERE action = 'prior_auth.criteria.save' AND outcome = 'allowed'
                    """
                )[0]
                .decode(Int.self, at: 0)
                #expect(audited == 2)
            }
        }
    }

    /// A PDF's text, by pdftotext (poppler-utils; deploy/setup --tests installs it).
    static func pdfText(_ pdf: Data) throws -> String {
        let directory = FileManager.default.temporaryDirectory.path + "/carerelay-pdf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try pdf.write(to: URL(fileURLWithPath: directory + "/packet.pdf"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/pdftotext")
        process.arguments = [directory + "/packet.pdf", directory + "/packet.txt"]
        try process.run()
        process.waitUntilExit()
        return (try? String(contentsOfFile: directory + "/packet.txt", encoding: .utf8)) ?? ""
    }
}

extension CareStore {
    /// Two failed adequate antidepressant trials of two classes (sertraline 150 mg, venlafaxine
    /// 225 mg), started the day after `enrolled` and stopped 10 weeks later with non-response:
    /// what TRD and a TMS payer's trial criterion need. The psychiatrist records them.
    func recordTwoFailedTrials(
        patient: UUID, enrolled: Date, psychiatrist: UUID, adherence: Double = 0.9, stopReason: String? = nil
    )
        async throws
    {
        for (drug, dose) in [("sertraline", 150.0), ("venlafaxine", 225.0)] {
            let trial = try await startTrial(
                patientID: patient, kind: .medication, drug: drug, dailyDoseMg: dose,
                startedOn: enrolled.addingTimeInterval(86_400), by: .system(actingFor: psychiatrist))
            _ = try await recordTrialOutcome(
                trialID: trial, outcome: .nonResponse, stoppedOn: enrolled.addingTimeInterval(71 * 86_400),
                adherence: adherence, stopReason: stopReason, by: .system(actingFor: psychiatrist))
        }
    }
}
