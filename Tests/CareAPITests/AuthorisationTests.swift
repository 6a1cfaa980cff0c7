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

/// What one cell of the matrix acts on: a patient and one of each thing that hangs off it.
struct Fixture {
    var patient: UUID
    var task: UUID
    var medicationTrial: UUID
    var note: UUID
    var referral: UUID
    /// The TMS referral's prior-authorisation handoff: for the social worker.
    var handoff: UUID
    var measurement: UUID

    static func make(_ clinic: APIClinic, team: UUID, psychiatrist: UUID) async throws -> Fixture {
        let store = clinic.store
        let patient = try await store.createPatient(
            teamID: team, mrn: "M-\(UUID().lower.prefix(8))", displayName: "Matrix patient",
            enrolledOn: Date(timeIntervalSince1970: 1_788_220_800), by: .system())
        let task = try await store.createTask(
            patientID: patient, title: "Call back", poolRole: .psychologist, by: .system(actingFor: psychiatrist))
        let trial = try await store.startTrial(
            patientID: patient, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
            startedOn: Date(timeIntervalSince1970: 1_788_307_200), by: .system(actingFor: psychiatrist))
        let note = try await store.addNote(
            patientID: patient, kind: .progress, body: "Seen today", by: .system(actingFor: psychiatrist))
        let referral = try await store.makeReferral(
            patientID: patient, kind: .tms, targetClinic: "Riverside TMS", by: .system(actingFor: psychiatrist))
        let measurement = try await store.recordMeasurement(
            patientID: patient, score: try Score(.phq9, total: 14), takenAt: Date(),
            by: .system(actingFor: psychiatrist))
        return Fixture(
            patient: patient, task: task, medicationTrial: trial, note: note, referral: referral.referralID,
            handoff: referral.event.handoffIDs[0],
            measurement: measurement.measurementID)
    }
}

/// One endpoint of the matrix and who may use it on their own team's patients.
struct Endpoint: CustomStringConvertible, Sendable {
    var method: HTTPRequest.Method
    var path: @Sendable (Fixture) -> String
    var body: String?
    var headers: HTTPFields = [:]
    /// Who gets a 2xx on their own team.
    var allowed: Set<String>
    /// Looked up by a child's id (task, trial, note...): those who cannot see clinical rows get 404, not 403.
    var byChildID = false
    var label: String

    var description: String { label }
}

let clinical: Set<String> = ["psychiatrist", "psychologist", "socialWorker"]
let readers = clinical.union(["service", "readOnlyService"])
let writers = clinical.union(["service"])

let endpoints: [Endpoint] = [
    Endpoint(method: .get, path: { "/v1/patients/\($0.patient.lower)" }, allowed: readers, label: "GET patient"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/status" }, body: #"{"status": "active"}"#,
        allowed: writers, label: "POST patient status"),
    Endpoint(
        method: .get, path: { "/v1/patients/\($0.patient.lower)/care-plan" }, allowed: readers, label: "GET care plan"),
    Endpoint(
        method: .put, path: { "/v1/patients/\($0.patient.lower)/care-plan" },
        body: #"{"goals": [], "problems": [], "treatment_line": "x"}"#,
        headers: [.ifMatch: "\"v1\""], allowed: clinical, label: "PUT care plan"),
    Endpoint(
        method: .get, path: { "/v1/patients/\($0.patient.lower)/tasks" }, allowed: readers, label: "GET patient tasks"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/tasks" },
        body: #"{"title": "Check in", "pool_role": "social_worker"}"#, allowed: clinical, label: "POST task"),
    Endpoint(
        method: .get, path: { "/v1/tasks/\($0.task.lower)" }, allowed: readers, byChildID: true, label: "GET task"),
    Endpoint(
        method: .post, path: { "/v1/tasks/\($0.task.lower)/cancel" }, body: #"{"note": "duplicate"}"#,
        allowed: clinical, byChildID: true, label: "POST task cancel"),
    Endpoint(method: .get, path: { "/v1/patients/\($0.patient.lower)/notes" }, allowed: readers, label: "GET notes"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/notes" },
        body: #"{"kind": "progress", "body": "Better sleep"}"#, allowed: writers, label: "POST progress note"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/notes" },
        body: #"{"kind": "psychotherapy", "body": "Session 3"}"#,
        allowed: ["psychiatrist", "psychologist"], label: "POST psychotherapy note"),
    // Only a note's author amends it (the fixture's note is the psychiatrist's).
    Endpoint(
        method: .post, path: { "/v1/notes/\($0.note.lower)/amendments" }, body: #"{"body": "Correction"}"#,
        allowed: ["psychiatrist"], byChildID: true,
        label: "POST amendment"),
    Endpoint(
        method: .post, path: { "/v1/notes/\($0.note.lower)/entered-in-error" }, body: #"{"reason": "wrong patient"}"#,
        allowed: ["psychiatrist"],
        byChildID: true, label: "POST note entered in error"),
    Endpoint(
        method: .get, path: { "/v1/patients/\($0.patient.lower)/measurements" }, allowed: readers,
        label: "GET measurements"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/measurements" },
        body: #"{"instrument": "PHQ-9", "total": 12}"#, allowed: writers, label: "POST measurement"),
    Endpoint(method: .get, path: { "/v1/patients/\($0.patient.lower)/trials" }, allowed: readers, label: "GET trials"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/trials" },
        body: #"{"kind": "medication", "drug": "bupropion", "daily_dose_mg": 300, "started_on": "2026-10-01"}"#,
        allowed: ["psychiatrist"], label: "POST medication trial"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/trials" },
        body: #"{"kind": "psychotherapy", "therapy": "CBT", "started_on": "2026-10-01"}"#,
        allowed: ["psychologist"], label: "POST psychotherapy trial"),
    Endpoint(
        method: .post, path: { "/v1/trials/\($0.medicationTrial.lower)/outcome" },
        body: #"{"outcome": "intolerance", "stopped_on": "2026-09-20"}"#,
        allowed: ["psychiatrist"], byChildID: true, label: "POST trial outcome"),
    Endpoint(
        method: .get, path: { "/v1/patients/\($0.patient.lower)/referrals" }, allowed: readers, label: "GET referrals"),
    Endpoint(
        method: .post, path: { "/v1/patients/\($0.patient.lower)/referrals" },
        body: #"{"kind": "ect", "target_clinic": "General ECT"}"#,
        allowed: ["psychiatrist"], label: "POST ECT referral"),
    Endpoint(
        method: .post, path: { "/v1/referrals/\($0.referral.lower)/status" }, body: #"{"status": "accepted"}"#,
        allowed: clinical, byChildID: true, label: "POST referral status"),
    // A handoff belongs to its receiving role (the care manager may too: StoreTests).
    Endpoint(
        method: .post, path: { "/v1/handoffs/\($0.handoff.lower)/acknowledge" }, allowed: ["socialWorker"],
        byChildID: true, label: "POST handoff acknowledge"),
    Endpoint(
        method: .post, path: { "/v1/handoffs/\($0.handoff.lower)/reassign" },
        body: #"{"role": "psychiatrist", "reason": "the psychiatrist has the forms"}"#,
        allowed: ["socialWorker"], byChildID: true, label: "POST handoff reassign"),
    Endpoint(
        method: .post, path: { "/v1/tasks/\($0.task.lower)/hold" }, body: #"{"reason": "waiting for the GP"}"#,
        allowed: clinical, byChildID: true, label: "POST task hold"),
    // Entered in error: by whoever recorded it (here the psychiatrist) or a psychiatrist.
    Endpoint(
        method: .post, path: { "/v1/measurements/\($0.measurement.lower)/entered-in-error" },
        body: #"{"reason": "wrong patient"}"#,
        allowed: ["psychiatrist"], byChildID: true, label: "POST measurement entered in error"),
    Endpoint(
        method: .post, path: { "/v1/trials/\($0.medicationTrial.lower)/entered-in-error" },
        body: #"{"reason": "wrong patient"}"#,
        allowed: ["psychiatrist"], byChildID: true, label: "POST trial entered in error"),
    Endpoint(
        method: .post, path: { "/v1/referrals/\($0.referral.lower)/entered-in-error" },
        body: #"{"reason": "wrong patient"}"#,
        allowed: ["psychiatrist"], byChildID: true, label: "POST referral entered in error"),
    Endpoint(method: .get, path: { "/v1/patients/\($0.patient.lower)/events" }, allowed: readers, label: "GET events"),
    Endpoint(
        method: .get, path: { "/v1/patients/\($0.patient.lower)/audit" }, allowed: ["compliance"], label: "GET audit"),
]

let principals = ["psychiatrist", "psychologist", "socialWorker", "admin", "compliance", "service", "readOnlyService"]

@Suite("Authorisation matrix", .timeLimit(.minutes(5)))
struct AuthorisationTests {
    /// Own team: allowed gets 2xx; admins (who see no patients) and, for rows looked up by their
    /// own id, compliance (who sees no clinical rows) get 404; everyone else 403. Another team: 404.
    static func expected(_ endpoint: Endpoint, principal: String, ownTeam: Bool) -> String {
        guard ownTeam else { return "404" }
        if endpoint.allowed.contains(principal) { return "2xx" }
        if principal == "admin" || (principal == "compliance" && endpoint.byChildID) { return "404" }
        return "403"
    }

    @Test("every endpoint x every kind of caller x own team and another team", arguments: endpoints)
    func matrix(endpoint: Endpoint) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let southPsychiatrist = try #require(clinic.members["southPsychiatrist"])
            let northPsychiatrist = try #require(clinic.members["psychiatrist"])
            try await clinic.app().test(.router) { client in
                for principal in principals {
                    for ownTeam in [true, false] {
                        let fixture =
                            ownTeam
                            ? try await Fixture.make(clinic, team: clinic.north, psychiatrist: northPsychiatrist)
                            : try await Fixture.make(clinic, team: clinic.south, psychiatrist: southPsychiatrist)
                        let reply = try await client.call(
                            endpoint.method, endpoint.path(fixture), token: clinic.tokens[principal],
                            json: endpoint.body, headers: endpoint.headers)
                        let got = (200..<300).contains(reply.status.code) ? "2xx" : "\(reply.status.code)"
                        let want = Self.expected(endpoint, principal: principal, ownTeam: ownTeam)
                        #expect(
                            got == want,
                            "\(endpoint) as \(principal) on \(ownTeam ? "own" : "other") team: \(reply.text)")
                        if got != "2xx" { #expect(reply.headers[.contentType] == "application/problem+json") }
                    }
                }
                // No token, a revoked one and an expired one: 401 everywhere.
                let fixture = try await Fixture.make(clinic, team: clinic.north, psychiatrist: northPsychiatrist)
                let revoked = try await clinic.store.issueToken(
                    memberID: northPsychiatrist, expiresAt: nil, by: .system())
                try await clinic.store.revokeToken(revoked.id, by: .system())
                let expired = try await clinic.store.issueToken(
                    memberID: northPsychiatrist, expiresAt: Date().addingTimeInterval(3600), by: .system())
                try await pool.query(
                    "UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = \(expired.id)")
                for token in [nil, revoked.token, expired.token] {
                    let reply = try await client.call(
                        endpoint.method, endpoint.path(fixture), token: token, json: endpoint.body,
                        headers: endpoint.headers)
                    #expect(reply.status == .unauthorized, "\(endpoint) with \(token == nil ? "no" : "a dead") token")
                }
            }
        }
    }

    @Test(
        "the gate comes before the body's rules: adding a member to another team is 404 whatever the token expiry says")
    func gateBeforeRules() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let body =
                    #"{"display_name": "X", "roles": ["psychiatrist"], "token_expires_at": "2001-01-01T00:00:00Z"}"#
                let stranger = try await client.call(
                    .post, "/v1/teams/\(clinic.south.lower)/members", token: clinic.tokens["admin"], json: body)
                #expect(stranger.status == .notFound, "\(stranger.text)")
                let forever =
                    #"{"display_name": "X", "roles": ["psychiatrist"], "token_expires_at": "2999-01-01T00:00:00Z"}"#
                let strangerForever = try await client.call(
                    .post, "/v1/teams/\(clinic.south.lower)/members", token: clinic.tokens["admin"], json: forever)
                #expect(strangerForever.status == .notFound, "\(strangerForever.text)")
                let notAdmin = try await client.call(
                    .post, "/v1/teams/\(clinic.north.lower)/members", token: clinic.tokens["psychiatrist"], json: body)
                #expect(notAdmin.status == .forbidden, "\(notAdmin.text)")
                let admin = try await client.call(
                    .post, "/v1/teams/\(clinic.north.lower)/members", token: clinic.tokens["admin"], json: body)
                #expect(
                    admin.status == .unprocessableContent && admin.json["field"] as? String == "token_expires_at",
                    "\(admin.text)")
            }
        }
    }

    @Test("lists show only the caller's teams: patients, queue and handoffs never include another team's")
    func listsStayInTeam() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let south = try await Fixture.make(
                clinic, team: clinic.south, psychiatrist: try #require(clinic.members["southPsychiatrist"]))
            try await clinic.app().test(.router) { client in
                for principal in principals {
                    for uri in [
                        "/v1/patients?limit=200", "/v1/tasks?limit=200",
                        "/v1/handoffs?limit=200&include_acknowledged=true",
                    ] {
                        let reply = try await client.call(.get, uri, token: clinic.tokens[principal])
                        #expect(reply.status == .ok, "\(uri) as \(principal)")
                        let ids = reply.items.compactMap { ($0["patient_id"] ?? $0["id"]) as? String }
                        #expect(
                            !ids.contains(south.patient.lower) && !ids.contains(clinic.southPatient.lower),
                            "\(uri) as \(principal)")
                    }
                }
                let admin = try await client.call(.get, "/v1/patients", token: clinic.tokens["admin"])
                #expect(admin.items.isEmpty, "an admin reads no clinical content")
                let mine = try await client.call(.get, "/v1/patients", token: clinic.tokens["southPsychiatrist"])
                #expect(
                    Set(mine.items.compactMap { $0["id"] as? String }) == [
                        clinic.southPatient.lower, south.patient.lower,
                    ])
            }
        }
    }
}
