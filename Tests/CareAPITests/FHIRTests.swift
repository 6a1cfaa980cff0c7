import CareAPI
import CareDomain
import CareStore
import CoreFormats
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import PQ
import Testing
import TestSupport

/// FHIR R4 at /fhir/R4 (docs/fhir.md): the same tokens, team scoping and audit as /v1, FHIR's
/// shapes and errors. (deploy/fhir-check validates what it serves with an independent R4 model.)
@Suite("FHIR R4", .timeLimit(.minutes(3)))
struct FHIRTests {
    func entries(_ reply: Reply) -> [[String: Any]] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
    }

    func link(_ reply: Reply, _ relation: String) -> String? {
        (reply.json["link"] as? [[String: Any]])?.first { $0["relation"] as? String == relation }?["url"] as? String
    }

    /// Every id a search answers, following its next links from `url` (each page must be 200).
    func ids(_ client: some TestClientProtocol, _ url: String, token: String?) async throws -> [String] {
        var ids: [String] = []
        var next: String? = url
        while let url = next {
            let reply = try await client.call(.get, url, token: token)
            #expect(reply.status == .ok, "\(reply.text)")
            ids += entries(reply).compactMap { $0["id"] as? String }
            next = link(reply, "next").map { String($0[$0.range(of: "/fhir/R4/")!.lowerBound...]) }
        }
        return ids
    }

    @Test("the CapabilityStatement needs no token and lists exactly the routes served under /fhir/R4")
    func capabilityStatementIsTheRouter() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let router = buildRouter(
                CareAPIDependencies(store: clinic.store, migrator: try Migrator(migrations: Migration.embedded())))
            let served = Set(
                router.routes.map { "\($0.method.rawValue) \($0.path.description)" }.filter { $0.contains(" /fhir/R4") }
            )
            try await clinic.app().test(.router) { client in
                let reply = try await client.call(.get, "/fhir/R4/metadata", token: nil)
                #expect(reply.status == .ok)
                #expect(reply.headers[.contentType]?.hasPrefix("application/fhir+json") == true)
                #expect(reply.json["resourceType"] as? String == "CapabilityStatement")
                #expect(reply.json["fhirVersion"] as? String == "4.0.1")
                let rest = try #require((reply.json["rest"] as? [[String: Any]])?.first)
                var listed: Set<String> = ["GET /fhir/R4/metadata"]
                for resource in rest["resource"] as? [[String: Any]] ?? [] {
                    let type = try #require(resource["type"] as? String)
                    for interaction in resource["interaction"] as? [[String: Any]] ?? [] {
                        switch interaction["code"] as? String {
                        case "read": listed.insert("GET /fhir/R4/\(type)/{id}")
                        case "search-type": listed.insert("GET /fhir/R4/\(type)")
                        case "create": listed.insert("POST /fhir/R4/\(type)")
                        case let other: Issue.record("an interaction the test does not know: \(other ?? "?")")
                        }
                    }
                    for operation in resource["operation"] as? [[String: Any]] ?? [] {
                        let name = try #require(operation["name"] as? String)
                        let definition = try #require(operation["definition"] as? String)
                        // Bulk Data's patient-export is on the type; the others on an instance.
                        let path =
                            definition.hasSuffix("/patient-export")
                            ? "/fhir/R4/\(type)/$\(name)" : "/fhir/R4/\(type)/{id}/$\(name)"
                        listed.insert("GET " + path)
                        // Bulk Data's kick-offs also take a POST with a Parameters resource.
                        if definition.contains("/bulkdata/") { listed.insert("POST " + path) }
                    }
                }
                #expect(
                    (reply.json["instantiates"] as? [String])?.contains(
                        "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data") == true)
                // Bulk Data's status and file URLs are not resources (the kick-off and manifest give them).
                listed.formUnion([
                    "GET /fhir/R4/bulk-status/{id}", "DELETE /fhir/R4/bulk-status/{id}",
                    "GET /fhir/R4/bulk-files/{id}/{part}",
                ])
                #expect(listed == served, "listed \(listed.sorted()), served \(served.sorted())")
            }
        }
    }

    @Test(
        """
        Patient: read and search as FHIR, audited; another team's patient is 404, no token 401, an unknown search \
        parameter 400, all as OperationOutcome
        """
    )
    func patients() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let second = try await clinic.enrol("N-2")
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let read = try await client.call(.get, "/fhir/R4/Patient/\(clinic.northPatient.lower)", token: token)
                #expect(read.status == .ok, "\(read.text)")
                #expect(read.headers[.contentType]?.hasPrefix("application/fhir+json") == true)
                #expect(read.json["resourceType"] as? String == "Patient")
                #expect(read.json["id"] as? String == clinic.northPatient.lower)
                let identifier = try #require((read.json["identifier"] as? [[String: Any]])?.first)
                #expect(identifier["value"] as? String == "N-1")
                #expect(identifier["system"] as? String == "https://carerelay.example/fhir/NamingSystem/mrn")
                #expect((read.json["name"] as? [[String: Any]])?.first?["text"] as? String == "Ada North")
                #expect(read.json["active"] as? Bool == true)
                let audited = try await pool.query(
                    """
                    SELECT count(*) FROM audit_entries WHERE patient_id = \(clinic.northPatient) AND action = \
                    'fhir.patient.read'
                    """
                )[0].decode(Int.self, at: 0)
                #expect(audited == 1)

                let other = try await client.call(
                    .get, "/fhir/R4/Patient/\(clinic.southPatient.lower)", token: token)
                #expect(other.status == .notFound)
                #expect(other.json["resourceType"] as? String == "OperationOutcome")
                #expect((other.json["issue"] as? [[String: Any]])?.first?["code"] as? String == "not-found")
                let stranger = try await client.call(.get, "/fhir/R4/Patient/\(clinic.northPatient.lower)", token: nil)
                #expect(stranger.status == .unauthorized)
                #expect(stranger.json["resourceType"] as? String == "OperationOutcome")
                let unknown = try await client.call(.get, "/fhir/R4/Patient?birthdate=2000-01-01", token: token)
                #expect(unknown.status == .badRequest)
                #expect(unknown.json["resourceType"] as? String == "OperationOutcome")
                let nowhere = try await client.call(.get, "/fhir/R4/Condition", token: token)
                #expect(nowhere.status == .notFound)
                #expect(nowhere.json["resourceType"] as? String == "OperationOutcome")

                // Search: by MRN exactly, with or without its system; paged by _count.
                let byMRN = try await client.call(.get, "/fhir/R4/Patient?identifier=N-2", token: token)
                #expect(byMRN.json["type"] as? String == "searchset")
                #expect(entries(byMRN).compactMap { $0["id"] as? String } == [second.lower])
                let bySystem = try await client.call(
                    .get,
                    "/fhir/R4/Patient?identifier=https%3A%2F%2Fcarerelay.example%2Ffhir%2FNamingSystem%2Fmrn%7CN-1",
                    token: token)
                #expect(entries(bySystem).compactMap { $0["id"] as? String } == [clinic.northPatient.lower])
                let first = try await client.call(.get, "/fhir/R4/Patient?_count=1", token: token)
                #expect(entries(first).count == 1)
                let next = try #require(link(first, "next"))
                let path = String(next[try #require(next.range(of: "/fhir/R4/"))!.lowerBound...])
                let rest = try await client.call(.get, path, token: token)
                let seen = (entries(first) + entries(rest)).compactMap { $0["id"] as? String }
                #expect(Set(seen) == [clinic.northPatient.lower, second.lower], "only North's patients, each once")
            }
        }
    }

    @Test(
        """
        Observation: a PHQ-9 with its items as the LOINC panel, total and items, severity and the item-9 safety flag; \
        searched by patient and code
        """
    )
    func observations() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let phq9 = try await clinic.store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.phq9, items: [2, 2, 2, 2, 2, 2, 2, 2, 2]),
                takenAt: Date().addingTimeInterval(-3600), by: .system(actingFor: psychiatrist)
            ).measurementID
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.gad7, total: 9), takenAt: Date(),
                by: .system(actingFor: psychiatrist))
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let read = try await client.call(.get, "/fhir/R4/Observation/\(phq9.lower)", token: token)
                #expect(read.status == .ok, "\(read.text)")
                #expect(read.json["status"] as? String == "final")
                let coding = try #require(
                    ((read.json["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first)
                #expect(coding["system"] as? String == "http://loinc.org")
                #expect(coding["code"] as? String == "44249-1")
                #expect(
                    (read.json["subject"] as? [String: Any])?["reference"] as? String
                        == "Patient/\(clinic.northPatient.lower)")
                let components = try #require(read.json["component"] as? [[String: Any]])
                #expect(components.count == 10)
                func code(_ component: [String: Any]) -> String? {
                    ((component["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"] as? String
                }
                #expect(code(components[0]) == "44261-6")
                #expect(components[0]["valueInteger"] as? Int == 18)
                #expect(code(components[9]) == "44260-8")
                #expect(components[9]["interpretation"] != nil, "item 9 above 0 is flagged")
                #expect(components[8]["interpretation"] == nil)
                let interpretation = read.json["interpretation"] as? [[String: Any]] ?? []
                let codes = interpretation.flatMap {
                    ($0["coding"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
                }
                #expect(codes.contains("moderately-severe"))
                #expect(codes.contains("A"))

                let all = try await client.call(
                    .get, "/fhir/R4/Observation?patient=Patient/\(clinic.northPatient.lower)", token: token)
                #expect(entries(all).count == 2)
                let onlyPHQ9 = try await client.call(
                    .get,
                    "/fhir/R4/Observation?patient=\(clinic.northPatient.lower)&code=http%3A%2F%2Floinc.org%7C44249-1",
                    token: token)
                #expect(entries(onlyPHQ9).compactMap { $0["id"] as? String } == [phq9.lower])
                let none = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(clinic.northPatient.lower)&code=1234-5", token: token)
                #expect(entries(none).isEmpty)
                let noPatient = try await client.call(.get, "/fhir/R4/Observation", token: token)
                #expect(noPatient.status == .badRequest)
                let otherTeam = try await client.call(
                    .get, "/fhir/R4/Observation/\(phq9.lower)", token: clinic.tokens["southPsychiatrist"])
                #expect(otherTeam.status == .notFound)
                let otherSearch = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(clinic.northPatient.lower)",
                    token: clinic.tokens["southPsychiatrist"])
                #expect(otherSearch.status == .notFound)
            }
        }
    }

    @Test(
        """
        trials as MedicationStatement and Procedure, a TMS referral as ServiceRequest and its handoffs as Tasks with \
        the receiving role and the cause; reads and searches keep to the caller's team
        """
    )
    func clinicalRecords() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let psychologist = try #require(clinic.members["psychologist"])
            let patient = clinic.northPatient
            let enrolled = Date(timeIntervalSince1970: 1_788_220_800)
            let sertraline = try await clinic.store.startTrial(
                patientID: patient, kind: .medication, drug: "sertraline", dailyDoseMg: 150,
                startedOn: enrolled.addingTimeInterval(7 * 86_400), by: .system(actingFor: psychiatrist))
            let cbt = try await clinic.store.startTrial(
                patientID: patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil,
                startedOn: enrolled.addingTimeInterval(7 * 86_400), therapy: "CBT", by: .system(actingFor: psychologist)
            )
            let referral = try await clinic.store.makeReferral(
                patientID: patient, kind: .tms, targetClinic: "Riverside TMS", reason: "Two failed trials",
                by: .system(actingFor: psychiatrist))
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let medication = try await client.call(
                    .get, "/fhir/R4/MedicationStatement/\(sertraline.lower)", token: token)
                #expect(medication.status == .ok, "\(medication.text)")
                #expect(medication.json["status"] as? String == "active")
                #expect(
                    (medication.json["medicationCodeableConcept"] as? [String: Any])?["text"] as? String == "sertraline"
                )
                #expect((medication.json["effectivePeriod"] as? [String: Any])?["start"] as? String == "2026-09-08")
                let wrongKind = try await client.call(.get, "/fhir/R4/MedicationStatement/\(cbt.lower)", token: token)
                #expect(wrongKind.status == .notFound, "a psychotherapy course is a Procedure")
                let procedure = try await client.call(.get, "/fhir/R4/Procedure/\(cbt.lower)", token: token)
                #expect(procedure.status == .ok, "\(procedure.text)")
                #expect(procedure.json["status"] as? String == "in-progress")
                let codes = ((procedure.json["code"] as? [String: Any])?["coding"] as? [[String: Any]] ?? []).compactMap
                {
                    $0["code"] as? String
                }
                #expect(codes.contains("75516001"))
                let procedures = try await client.call(
                    .get, "/fhir/R4/Procedure?patient=Patient/\(patient.lower)", token: token)
                #expect(entries(procedures).compactMap { $0["id"] as? String } == [cbt.lower])

                let service = try await client.call(
                    .get, "/fhir/R4/ServiceRequest/\(referral.referralID.lower)", token: token)
                #expect(service.status == .ok, "\(service.text)")
                #expect(service.json["status"] as? String == "active")
                #expect(service.json["intent"] as? String == "order")
                #expect(
                    (service.json["performer"] as? [[String: Any]])?.first?["display"] as? String == "Riverside TMS")
                let active = try await client.call(
                    .get, "/fhir/R4/ServiceRequest?patient=\(patient.lower)&status=active", token: token)
                #expect(entries(active).count == 1)
                let revoked = try await client.call(
                    .get, "/fhir/R4/ServiceRequest?patient=\(patient.lower)&status=revoked", token: token)
                #expect(entries(revoked).isEmpty)
                let badStatus = try await client.call(
                    .get, "/fhir/R4/ServiceRequest?patient=\(patient.lower)&status=open", token: token)
                #expect(badStatus.status == .badRequest)

                // The referral's handoffs: tasks for the other roles, saying why.
                let tasks = try await client.call(
                    .get, "/fhir/R4/Task?patient=\(patient.lower)&status=requested", token: token)
                let handoffs = entries(tasks)
                #expect(handoffs.count == 4, "\(tasks.text)")
                let roles = Set(
                    handoffs.flatMap { ($0["performerType"] as? [[String: Any]] ?? []) }.compactMap {
                        $0["text"] as? String
                    })
                #expect(roles.contains("psychologist") && roles.contains("social worker"), "\(roles)")
                #expect(handoffs.allSatisfy { ($0["reasonCode"] as? [String: Any])?["text"] != nil })
                // The referral they track, as a reference: the task's focus and its reason.
                let serviceRequest = "ServiceRequest/\(referral.referralID.lower)"
                #expect(
                    handoffs.allSatisfy { ($0["focus"] as? [String: Any])?["reference"] as? String == serviceRequest })
                #expect(
                    handoffs.allSatisfy {
                        ($0["reasonReference"] as? [String: Any])?["reference"] as? String == serviceRequest
                    })
                let first = try #require(handoffs.first?["id"] as? String)
                let read = try await client.call(.get, "/fhir/R4/Task/\(first)", token: token)
                #expect(read.status == .ok)
                #expect(read.json["description"] as? String == handoffs.first?["description"] as? String)
                // Each handoff's Task names its playbook step, as its handoff does in /v1.
                let steps = handoffs.compactMap { handoff -> String? in
                    let codings = (handoff["code"] as? [String: Any])?["coding"] as? [[String: Any]] ?? []
                    return codings.first { ($0["system"] as? String)?.hasSuffix("/CodeSystem/playbook-step") == true }?[
                        "code"] as? String
                }
                let stored = try await pool.query(
                    "SELECT step_key FROM handoffs WHERE patient_id = \(patient) ORDER BY step_key"
                ).column(String.self)
                #expect(steps.sorted() == stored && stored.count == 4, "\(steps) \(stored)")
                let detail = try await client.call(.get, "/v1/tasks/\(first)", token: token)
                #expect((detail.json["step"] as? String).map(stored.contains) == true, "\(detail.text)")

                // $everything reads every kind in one round trip; each resource in it is the one
                // its own read serves (a handoff's task with its reason, a trial, the referral).
                let everything = try await client.call(
                    .get, "/fhir/R4/Patient/\(patient.lower)/$everything", token: token)
                #expect(everything.status == .ok, "\(everything.text)")
                var compared = 0
                for resource in entries(everything) {
                    guard let type = resource["resourceType"] as? String, let id = resource["id"] as? String,
                        ["Task", "MedicationStatement", "Procedure", "ServiceRequest", "Observation"].contains(type)
                    else { continue }
                    let alone = try await client.call(.get, "/fhir/R4/\(type)/\(id)", token: token)
                    #expect(
                        NSDictionary(dictionary: alone.json).isEqual(to: resource),
                        "\(type)/\(id): \(alone.text) in $everything: \(resource)")
                    compared += 1
                }
                #expect(compared >= 7, "4 handoffs, 2 trials, the referral")

                // Another team sees none of it.
                let south = clinic.tokens["southPsychiatrist"]
                for path in [
                    "MedicationStatement/\(sertraline.lower)", "Procedure/\(cbt.lower)",
                    "ServiceRequest/\(referral.referralID.lower)", "Task/\(first)",
                    "Task?patient=\(patient.lower)", "MedicationStatement?patient=\(patient.lower)",
                ] {
                    let reply = try await client.call(.get, "/fhir/R4/\(path)", token: south)
                    #expect(reply.status == .notFound, "\(path): \(reply.status)")
                    #expect(reply.json["resourceType"] as? String == "OperationOutcome")
                }
            }
        }
    }

    @Test(
        """
        CareTeam, CarePlan and DocumentReference; a psychotherapy note is served to nobody, not even its author, and \
        another team's are 404
        """
    )
    func teamPlanAndNotes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let psychologist = try #require(clinic.members["psychologist"])
            let patient = clinic.northPatient
            let progress = try await clinic.store.addNote(
                patientID: patient, kind: .progress, body: "Seen today; sleeping better.",
                by: .system(actingFor: psychiatrist))
            let private_ = try await clinic.store.addNote(
                patientID: patient, kind: .psychotherapy, body: "Session 3: process notes.",
                by: .system(actingFor: psychologist))
            _ = try await clinic.store.saveCarePlan(
                patientID: patient, expectedVersion: 1,
                content: CarePlanContent(
                    goals: ["PHQ-9 below 5"], problems: ["Treatment-resistant depression"],
                    treatmentLine: "Augment, then TMS"), by: .system(actingFor: psychiatrist))
            let task = try await clinic.store.createTask(
                patientID: patient, title: "Book bloods", poolRole: .psychiatrist, by: .system(actingFor: psychiatrist))
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let team = try await client.call(.get, "/fhir/R4/CareTeam?patient=\(patient.lower)", token: token)
                #expect(team.status == .ok, "\(team.text)")
                let careTeam = try #require(entries(team).first)
                #expect(careTeam["id"] as? String == clinic.north.lower)
                #expect(careTeam["name"] as? String == "North")
                let participants = careTeam["participant"] as? [[String: Any]] ?? []
                let displays = participants.compactMap { ($0["member"] as? [String: Any])?["display"] as? String }
                #expect(displays.contains("psychiatrist") && !displays.contains("integrator"), "\(displays)")
                let read = try await client.call(.get, "/fhir/R4/CareTeam/\(clinic.north.lower)", token: token)
                #expect(read.status == .ok)
                let southTeam = try await client.call(.get, "/fhir/R4/CareTeam/\(clinic.south.lower)", token: token)
                #expect(southTeam.status == .notFound)

                let plan = try await client.call(.get, "/fhir/R4/CarePlan/\(patient.lower)", token: token)
                #expect(plan.status == .ok, "\(plan.text)")
                #expect(plan.json["description"] as? String == "Augment, then TMS")
                let activities = (plan.json["activity"] as? [[String: Any]] ?? []).compactMap {
                    ($0["reference"] as? [String: Any])?["reference"] as? String
                }
                #expect(activities.contains("Task/\(task.lower)"))
                let plans = try await client.call(.get, "/fhir/R4/CarePlan?patient=\(patient.lower)", token: token)
                #expect(entries(plans).count == 1)

                let document = try await client.call(.get, "/fhir/R4/DocumentReference/\(progress.lower)", token: token)
                #expect(document.status == .ok, "\(document.text)")
                let attachment = try #require(
                    ((document.json["content"] as? [[String: Any]])?.first?["attachment"] as? [String: Any]))
                let data = try #require(Data(base64Encoded: attachment["data"] as? String ?? ""))
                #expect(String(decoding: data, as: UTF8.self) == "Seen today; sleeping better.")

                // The psychotherapy note: not in FHIR for its author or anyone else.
                for who in ["psychologist", "psychiatrist"] {
                    let search = try await client.call(
                        .get, "/fhir/R4/DocumentReference?patient=\(patient.lower)", token: clinic.tokens[who])
                    let ids = entries(search).compactMap { $0["id"] as? String }
                    #expect(ids == [progress.lower], "\(who): \(ids)")
                    #expect(!search.text.contains("process notes"))
                    let direct = try await client.call(
                        .get, "/fhir/R4/DocumentReference/\(private_.lower)", token: clinic.tokens[who])
                    #expect(direct.status == .notFound, "\(who)")
                }
                let south = try await client.call(
                    .get, "/fhir/R4/DocumentReference/\(progress.lower)", token: clinic.tokens["southPsychiatrist"])
                #expect(south.status == .notFound)

                // $everything: the whole team-visible record, for the psychotherapy note's author too.
                let everything = try await client.call(
                    .get, "/fhir/R4/Patient/\(patient.lower)/$everything", token: clinic.tokens["psychologist"])
                #expect(everything.status == .ok, "\(everything.text)")
                let kinds = Set(entries(everything).compactMap { $0["resourceType"] as? String })
                #expect(
                    kinds == ["Patient", "CareTeam", "CarePlan", "Task", "DocumentReference"], "\(kinds.sorted())")
                let ids = entries(everything).compactMap { $0["id"] as? String }
                #expect(ids.contains(progress.lower) && ids.contains(task.lower))
                #expect(!ids.contains(private_.lower) && !everything.text.contains("process notes"))
                let strangers = try await client.call(
                    .get, "/fhir/R4/Patient/\(patient.lower)/$everything", token: clinic.tokens["southPsychiatrist"])
                #expect(strangers.status == .notFound)
            }
        }
    }

    @Test(
        """
        POST Observation and QuestionnaireResponse record a score through the same command as /v1: item 9 above 0 \
        makes the safety handoffs; a retry with the same Idempotency-Key or If-None-Exist records it once; bad input \
        is an OperationOutcome and writes nothing
        """
    )
    func writeAScore() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient
            @Sendable func count(_ table: String) async throws -> Int {
                try await pool.query(PQQuery("SELECT count(*) FROM \(table) WHERE patient_id = $1", [patient]))[0]
                    .decode(Int.self, at: 0)
            }
            let items = [2, 2, 1, 1, 1, 1, 1, 1, 2].enumerated().map { index, answer in
                let code = [
                    "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8",
                ][index]
                return
                    #"""
                    {"code": {"coding": [{"system": "http://loinc.org", "code": "\#(code)"}]}, "valueInteger": \#
                    \#(answer)}
                    """#
            }
            let observation = """
                {"resourceType": "Observation", "status": "final",
                 "code": {"coding": [{"system": "http://loinc.org", "code": "44249-1"}]},
                 "subject": {"reference": "Patient/\(patient.lower)"}, "effectiveDateTime": "2026-11-30T10:00:00Z",
                 "component": [\(items.joined(separator: ", "))]}
                """
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let handoffsBefore = try await count("handoffs")
                var headers = HTTPFields()
                headers[HTTPField.Name("Idempotency-Key")!] = "phq9-1"
                let created = try await client.call(
                    .post, "/fhir/R4/Observation", token: token, json: observation, headers: headers)
                #expect(created.status == .created, "\(created.text)")
                #expect(created.headers[.contentType]?.hasPrefix("application/fhir+json") == true)
                let id = try #require(created.json["id"] as? String)
                #expect(created.headers[.location] == "http://localhost/fhir/R4/Observation/\(id)")
                #expect(((created.json["component"] as? [[String: Any]])?.first?["valueInteger"] as? Int) == 12)
                #expect(try await count("handoffs") > handoffsBefore, "item 9 above 0 makes the safety handoffs")
                let replay = try await client.call(
                    .post, "/fhir/R4/Observation", token: token, json: observation, headers: headers)
                #expect(replay.status == .created && replay.json["id"] as? String == id)
                #expect(try await count("measurements") == 1)
                let read = try await client.call(.get, "/fhir/R4/Observation/\(id)", token: token)
                #expect(read.status == .ok)

                // A GAD-7 total through QuestionnaireResponse, twice with the same If-None-Exist.
                let items = (1...7).map {
                    #"{"linkId": "\#($0)", "answer": "#
                        + #"[{"valueCoding": {"system": "http://loinc.org", "code": "LA6569-3"}}]}"#
                }.joined(separator: ", ")
                let questionnaire = """
                    {"resourceType": "QuestionnaireResponse", "status": "completed",
                     "questionnaire": "http://loinc.org/q/69737-5", "subject": {"reference": \
                    "Patient/\(patient.lower)"},
                     "authored": "2026-11-30T11:00:00Z",
                     "item": \
                    [\(items)]}
                    """
                var condition = HTTPFields()
                condition[HTTPField.Name("If-None-Exist")!] = "identifier=http://ehr.example|qr-77"
                let answered = try await client.call(
                    .post, "/fhir/R4/QuestionnaireResponse", token: token, json: questionnaire, headers: condition)
                #expect(answered.status == .created, "\(answered.text)")
                #expect(
                    ((answered.json["code"] as? [String: Any])?["coding"] as? [[String: Any]])?.first?["code"]
                        as? String == "69737-5")
                let again = try await client.call(
                    .post, "/fhir/R4/QuestionnaireResponse", token: token, json: questionnaire, headers: condition)
                #expect(again.json["id"] as? String == answered.json["id"] as? String)
                #expect(again.status == .ok, "a conditional create that finds its match answers 200, as FHIR says")
                #expect(again.headers[.idempotentReplayed] == "true")
                #expect(try await count("measurements") == 2)

                // Bad input: an OperationOutcome, nothing written.
                for bad in [
                    observation.replacingOccurrences(of: "44249-1", with: "1234-5"),
                    observation.replacingOccurrences(of: #""valueInteger": 2}"#, with: #""valueInteger": 7}"#),
                    observation.replacingOccurrences(of: "Patient/\(patient.lower)", with: "Patient/nobody"),
                    observation.replacingOccurrences(of: #""status": "final""#, with: #""status": "preliminary""#),
                ] {
                    let refused = try await client.call(.post, "/fhir/R4/Observation", token: token, json: bad)
                    #expect(refused.status == .unprocessableContent, "\(refused.text)")
                    #expect(refused.json["resourceType"] as? String == "OperationOutcome")
                }
                let otherTeam = try await client.call(
                    .post, "/fhir/R4/Observation", token: clinic.tokens["southPsychiatrist"], json: observation)
                #expect(otherTeam.status == .notFound)
                #expect(try await count("measurements") == 2)
            }
        }
    }

    @Test("AuditEvent: the compliance role reads who read or changed a patient's records; clinicians are refused (403)")
    func auditEvents() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let patient = clinic.northPatient
            try await clinic.app().test(.router) { client in
                let read = try await client.call(
                    .get, "/fhir/R4/Patient/\(patient.lower)", token: clinic.tokens["psychiatrist"])
                #expect(read.status == .ok)
                let events = try await client.call(
                    .get, "/fhir/R4/AuditEvent?patient=\(patient.lower)", token: clinic.tokens["compliance"])
                #expect(events.status == .ok, "\(events.text)")
                let first = try #require(entries(events).first)
                #expect(first["action"] as? String == "R")
                #expect(first["outcome"] as? String == "0")
                #expect((first["subtype"] as? [[String: Any]])?.first?["code"] as? String == "fhir.patient.read")
                let who = ((first["agent"] as? [[String: Any]])?.first?["who"] as? [String: Any])?["identifier"]
                #expect((who as? [String: Any])?["value"] as? String == clinic.members["psychiatrist"]?.lower)
                let id = try #require(first["id"] as? String)
                let one = try await client.call(.get, "/fhir/R4/AuditEvent/\(id)", token: clinic.tokens["compliance"])
                #expect(one.status == .ok)
                #expect(one.json["id"] as? String == id)
                let refused = try await client.call(
                    .get, "/fhir/R4/AuditEvent?patient=\(patient.lower)", token: clinic.tokens["psychiatrist"])
                #expect(refused.status == .forbidden)
                #expect(refused.json["resourceType"] as? String == "OperationOutcome")
                let refusedRead = try await client.call(
                    .get, "/fhir/R4/AuditEvent/\(id)", token: clinic.tokens["psychiatrist"])
                // By id, the entry does not exist for them (row-level security hides the audit trail).
                #expect(refusedRead.status == .notFound)
                // Paging by the numeric cursor.
                let paged = try await client.call(
                    .get, "/fhir/R4/AuditEvent?patient=\(patient.lower)&_count=1", token: clinic.tokens["compliance"])
                let next = try #require(link(paged, "next"))
                let rest = try await client.call(
                    .get, String(next[try #require(next.range(of: "/fhir/R4/"))!.lowerBound...]),
                    token: clinic.tokens["compliance"])
                #expect(rest.status == .ok)
                #expect(entries(rest).first?["id"] as? String != id)
            }
        }
    }

    @Test(
        """
        Provenance: who recorded what on a patient's record, the records as targets; never a psychotherapy note's event
        """
    )
    func provenance() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let psychologist = try #require(clinic.members["psychologist"])
            let patient = clinic.northPatient
            let score = try await clinic.store.recordMeasurement(
                patientID: patient, score: try Score(.phq9, total: 16), takenAt: Date(),
                by: .system(actingFor: psychiatrist)
            ).measurementID
            let cbt = try await clinic.store.startTrial(
                patientID: patient, kind: .psychotherapy, drug: nil, dailyDoseMg: nil,
                startedOn: Date(timeIntervalSince1970: 1_788_220_800 + 7 * 86_400), therapy: "CBT",
                by: .system(actingFor: psychologist))
            let secret = try await clinic.store.addNote(
                patientID: patient, kind: .psychotherapy, body: "Process notes", by: .system(actingFor: psychologist))
            try await clinic.app().test(.router) { client in
                let reply = try await client.call(
                    .get, "/fhir/R4/Provenance?patient=\(patient.lower)", token: clinic.tokens["psychologist"])
                #expect(reply.status == .ok, "\(reply.text)")
                let provenance = entries(reply)
                let targets = provenance.flatMap { ($0["target"] as? [[String: Any]] ?? []) }.compactMap {
                    $0["reference"] as? String
                }
                #expect(targets.contains("Observation/\(score.lower)"))
                #expect(targets.contains("Procedure/\(cbt.lower)"))
                #expect(!targets.contains("DocumentReference/\(secret.lower)"), "not even to its author")
                let scored = try #require(
                    provenance.first {
                        ($0["target"] as? [[String: Any]])?.first?["reference"] as? String
                            == "Observation/\(score.lower)"
                    })
                let who = ((scored["agent"] as? [[String: Any]])?.first?["who"] as? [String: Any])?["identifier"]
                #expect((who as? [String: Any])?["value"] as? String == psychiatrist.lower)
                let south = try await client.call(
                    .get, "/fhir/R4/Provenance?patient=\(patient.lower)", token: clinic.tokens["southPsychiatrist"])
                #expect(south.status == .notFound)
            }
        }
    }

    @Test(
        """
        _lastUpdated: resources carry meta.lastUpdated; gt, lt and a range find what changed when, across pages; a bad \
        value, or the parameter where it does not apply, is 400
        """
    )
    func lastUpdated() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let patient = clinic.northPatient
            var early: [String] = []
            for total in [20, 19, 18] {
                early.append(
                    try await clinic.store.recordMeasurement(
                        patientID: patient, score: try Score(.phq9, total: total), takenAt: Date(),
                        by: .system(actingFor: psychiatrist)
                    ).measurementID.lower)
            }
            let cutoff = try await pool.query("SELECT now()")[0].decode(Date.self, at: 0)
            var late: [String] = []
            for total in [12, 9] {
                late.append(
                    try await clinic.store.recordMeasurement(
                        patientID: patient, score: try Score(.phq9, total: total), takenAt: Date(),
                        by: .system(actingFor: psychiatrist)
                    ).measurementID.lower)
            }
            let recordedEarly = early
            let recordedLate = late
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let instant = Timestamp.format(cutoff).replacingOccurrences(of: "+", with: "%2B")
                /// Every id of a search, following its next links.
                func all(_ query: String) async throws -> [String] {
                    try await ids(
                        client, "/fhir/R4/Observation?patient=\(patient.lower)&_count=1&\(query)", token: token)
                }
                #expect(try await all("_lastUpdated=gt\(instant)") == recordedLate)
                #expect(try await all("_lastUpdated=lt\(instant)") == recordedEarly)
                #expect(try await all("_lastUpdated=ge2000-01-01&_lastUpdated=lt\(instant)") == recordedEarly)
                #expect(try await all("_lastUpdated=2000").isEmpty)

                let read = try await client.call(.get, "/fhir/R4/Observation/\(recordedLate[0])", token: token)
                let stamp = try #require((read.json["meta"] as? [String: Any])?["lastUpdated"] as? String)
                #expect(try #require(Timestamp.parse(stamp, rfc3339: true)) > cutoff)
                let patients = try await client.call(
                    .get, "/fhir/R4/Patient?_lastUpdated=ge2000-01-01", token: token)
                #expect(entries(patients).count == 1 && entries(patients).first?["meta"] != nil)

                let badPrefix = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(patient.lower)&_lastUpdated=xx2026-01-01", token: token)
                #expect(badPrefix.status == .badRequest && badPrefix.text.contains("prefix"))
                let badDate = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(patient.lower)&_lastUpdated=2026-13-01", token: token)
                #expect(badDate.status == .badRequest)
                let notHere = try await client.call(
                    .get, "/fhir/R4/CareTeam?patient=\(patient.lower)&_lastUpdated=ge2026-01-01", token: token)
                #expect(notHere.status == .badRequest)
            }
        }
    }

    @Test(
        """
        Observation date: when the score was taken, not when it was recorded; ge, lt, a day and a range find a trend \
        since a visit across pages; _sort=-date puts the latest first; a bad value, or date where it does not apply, \
        is 400
        """
    )
    func observationDate() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let patient = clinic.northPatient
            let day: Double = 86_400
            let now = Date()
            // Recorded today, taken on other days: 40, 20 and 10 days ago, and today.
            var recorded: [Double: String] = [:]
            for (daysAgo, total) in [(40.0, 21), (20, 16), (10, 11), (0, 7)] {
                recorded[daysAgo] =
                    try await clinic.store.recordMeasurement(
                        patientID: patient, score: try Score(.phq9, total: total),
                        takenAt: now.addingTimeInterval(-daysAgo * day), by: .system(actingFor: psychiatrist)
                    ).measurementID.lower
            }
            let since = Timestamp.format(now.addingTimeInterval(-25 * day)).replacingOccurrences(of: "+", with: "%2B")
            let tenDaysAgo = Timestamp.format(now.addingTimeInterval(-10 * day)).prefix(10)
            let taken = recorded
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                func all(_ query: String) async throws -> Set<String> {
                    let found = try await ids(
                        client, "/fhir/R4/Observation?patient=\(patient.lower)&_count=1&\(query)", token: token)
                    #expect(Set(found).count == found.count, "a score on two pages: \(found)")
                    return Set(found)
                }
                #expect(try await all("date=ge\(since)") == [taken[20]!, taken[10]!, taken[0]!])
                #expect(try await all("date=lt\(since)") == [taken[40]!])
                #expect(try await all("date=\(tenDaysAgo)") == [taken[10]!])
                #expect(try await all("date=ge\(since)&date=lt\(tenDaysAgo)") == [taken[20]!])
                #expect(try await all("code=44249-1&date=gt2000-01-01").count == 4)
                // Recorded today, all of them: _lastUpdated does not find the trend, date does.
                #expect(try await all("_lastUpdated=lt\(since)").isEmpty)

                // Newest first: the latest score on a page of one, and every score once across pages.
                let latest = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(patient.lower)&_sort=-date&_count=1", token: token)
                #expect(entries(latest).compactMap { $0["id"] as? String } == [taken[0]!], "\(latest.text)")
                let newest = try await ids(
                    client, "/fhir/R4/Observation?patient=\(patient.lower)&_sort=-date&_count=3", token: token)
                #expect(newest == [taken[0]!, taken[10]!, taken[20]!, taken[40]!])
                let unsorted = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(patient.lower)&_sort=value-quantity", token: token)
                #expect(unsorted.status == .badRequest && unsorted.text.contains("-date"), "\(unsorted.text)")

                let bad = try await client.call(
                    .get, "/fhir/R4/Observation?patient=\(patient.lower)&date=2026-01-32", token: token)
                #expect(bad.status == .badRequest && bad.text.contains("'date' must be a date"), "\(bad.text)")
                let notHere = try await client.call(
                    .get, "/fhir/R4/Task?patient=\(patient.lower)&date=ge2026-01-01", token: token)
                #expect(notHere.status == .badRequest && notHere.text.contains("do not support 'date'"))
                let capability = try await client.call(.get, "/fhir/R4/metadata", token: nil)
                let observation = (capability.json["rest"] as? [[String: Any]])?.first?["resource"]
                    .flatMap { $0 as? [[String: Any]] }?.first { $0["type"] as? String == "Observation" }
                let names = (observation?["searchParam"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names?.contains("date") == true)
            }
        }
    }
}
