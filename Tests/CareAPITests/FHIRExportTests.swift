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

/// FHIR Bulk Data export (docs/fhir.md, "Bulk export"): kick-off, status, manifest, NDJSON files,
/// deletion and expiry; the export scope, the requester-only files, the audit trail, and no
/// psychotherapy note or other team's patient in any line.
@Suite("FHIR bulk export", .timeLimit(.minutes(3)))
struct FHIRExportTests {
    /// A service account on `team` with `scopes`, and its token.
    static func serviceAccount(_ store: CareStore, team: UUID, scopes: [Scope]) async throws -> (UUID, String, UUID) {
        let member = try await store.createMember(
            displayName: "Registry \(UUID().lower.prefix(6))", teamID: team, roles: [.integration],
            isServiceAccount: true, by: .system())
        let token = try await store.issueToken(memberID: member, scopes: scopes, expiresAt: nil, by: .system())
        return (member, token.token, token.id)
    }

    /// A worker that writes tiny files and reads one patient a batch (several of each).
    static func worker(_ store: CareStore, retention: Duration = .seconds(3600)) -> FHIRExportWorker {
        var settings = FHIRExportWorker.Settings()
        settings.patientsPerBatch = 1
        settings.partBytes = 600
        settings.retention = retention
        return FHIRExportWorker(store: store, wake: ChangeSignal(), settings: settings, logger: testLogger())
    }

    /// A URL the server gave, as a path for the test client.
    static func path(_ url: String?) throws -> String {
        let url = try #require(url)
        let range = try #require(url.range(of: "/fhir/R4/"))
        return String(url[range.lowerBound...])
    }

    /// Every NDJSON line of a complete export, read file by file from its manifest as `token`.
    static func lines(of manifest: Reply, _ client: some TestClientProtocol, token: String) async throws
        -> [[String: Any]]
    {
        var lines: [[String: Any]] = []
        for file in try #require(manifest.json["output"] as? [[String: Any]]) {
            let reply = try await client.call(.get, try path(file["url"] as? String), token: token)
            lines += reply.text.split(separator: "\n").map {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:]
            }
        }
        return lines
    }

    /// The ids of the lines of one resource type.
    static func ids(_ lines: [[String: Any]], _ type: String) -> Set<String> {
        Set(lines.filter { $0["resourceType"] as? String == type }.compactMap { $0["id"] as? String })
    }

    static var async: HTTPFields {
        var headers = HTTPFields()
        headers[HTTPField.Name("Prefer")!] = "respond-async"
        headers[.accept] = "application/fhir+json"
        return headers
    }

    @Test(
        """
        behind a proxy: with a public URL every absolute link (fullUrl, Bundle links, a create's Location, an \
        export's Content-Location and manifest) starts with it; without one, the request's Host and X-Forwarded-Proto
        """
    )
    func publicURL() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            _ = try await clinic.enrol("N-2")
            let (_, exportToken, _) = try await Self.serviceAccount(
                clinic.store, team: clinic.north, scopes: [.export])
            let public_ = "https://care.example.org/carerelay"
            let prefix = public_ + "/fhir/R4/"
            let observation = """
                {"resourceType": "Observation", "status": "final",
                 "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
                 "subject": {"reference": "Patient/\(clinic.northPatient.lower)"},
                 "effectiveDateTime": "2026-11-30T10:00:00Z", "valueInteger": 7}
                """
            @Sendable func links(_ reply: Reply) -> [String] {
                ((reply.json["link"] as? [[String: Any]]) ?? []).compactMap { $0["url"] as? String }
                    + ((reply.json["entry"] as? [[String: Any]]) ?? []).compactMap { $0["fullUrl"] as? String }
            }
            try await clinic.app(publicURL: public_).test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let metadata = try await client.call(.get, "/fhir/R4/metadata", token: nil)
                #expect((metadata.json["implementation"] as? [String: Any])?["url"] as? String == public_ + "/fhir/R4")
                let page = try await client.call(.get, "/fhir/R4/Patient?_count=1", token: token)
                #expect(page.status == .ok, "\(page.text)")
                let urls = links(page)
                #expect(urls.count == 3, "self, next and one entry: \(urls)")
                #expect(urls.allSatisfy { $0.hasPrefix(prefix) }, "\(urls)")
                let created = try await client.call(.post, "/fhir/R4/Observation", token: token, json: observation)
                #expect(created.status == .created, "\(created.text)")
                let id = try #require(created.json["id"] as? String)
                #expect(created.headers[.location] == prefix + "Observation/" + id)
                let everything = try await client.call(
                    .get, "/fhir/R4/Patient/\(clinic.northPatient.lower)/$everything", token: token)
                #expect(links(everything).count > 2 && links(everything).allSatisfy { $0.hasPrefix(prefix) })

                let kickoff = try await client.call(
                    .get, "/fhir/R4/Group/\(clinic.north.lower)/$export", token: exportToken, headers: Self.async)
                #expect(kickoff.status == .accepted, "\(kickoff.text)")
                let status = try #require(kickoff.headers[.contentLocation])
                #expect(status.hasPrefix(prefix + "bulk-status/"))
                _ = try await Self.worker(clinic.store).runPending()
                let manifest = try await client.call(.get, try Self.path(status), token: exportToken)
                #expect(manifest.status == .ok, "\(manifest.text)")
                #expect((manifest.json["request"] as? String)?.hasPrefix(prefix + "Group/") == true)
                let files = ((manifest.json["output"] as? [[String: Any]]) ?? []).compactMap { $0["url"] as? String }
                #expect(!files.isEmpty && files.allSatisfy { $0.hasPrefix(prefix + "bulk-files/") }, "\(files)")
            }
            // No public URL: as the client reached the server (the test client's authority is localhost).
            try await clinic.app().test(.router) { client in
                var headers = HTTPFields()
                headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
                let page = try await client.call(
                    .get, "/fhir/R4/Patient?_count=1", token: clinic.tokens["psychiatrist"], headers: headers)
                #expect(links(page).count == 3 && links(page).allSatisfy { $0.hasPrefix("https://localhost/fhir/R4/") })
            }
        }
        #expect(normalisedPublicURL("https://care.example.org/") == "https://care.example.org")
        #expect(normalisedPublicURL("http://care.example.org:8080/api//") == "http://care.example.org:8080/api")
        for refused in ["care.example.org", "ftp://care.example.org", "https://care.example.org/?a=1", "https://"] {
            #expect(normalisedPublicURL(refused) == nil, "\(refused)")
        }
    }

    @Test(
        """
        Group/{team}/$export: 202 with a status URL, 202 with X-Progress until done, then a manifest whose NDJSON \
        files hold the team's records (no psychotherapy note, no other team's patient), each line its type; audited; \
        the requester alone reads it; DELETE removes it
        """
    )
    func groupExport() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let psychologist = try #require(clinic.members["psychologist"])
            let (exporter, token, _) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.export])
            let (_, otherToken, _) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.export])
            let (_, readOnly, _) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.patientsRead])
            let second = try await store.createPatient(
                teamID: clinic.north, mrn: "N-2", displayName: "Bo North",
                enrolledOn: Date(timeIntervalSince1970: 1_788_220_800),
                by: .system())
            var scores: [UUID] = []
            for (patient, total) in [(clinic.northPatient, 19), (second, 12), (clinic.northPatient, 15)] {
                scores.append(
                    try await store.recordMeasurement(
                        patientID: patient, score: try Score(.phq9, total: total), takenAt: Date(),
                        by: .system(actingFor: psychiatrist)
                    ).measurementID)
            }
            _ = try await store.recordMeasurement(
                patientID: clinic.southPatient, score: try Score(.phq9, total: 20), takenAt: Date(),
                by: .system(actingFor: psychiatrist))
            let sertraline = try await store.startTrial(
                patientID: second, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
                startedOn: Date(timeIntervalSince1970: 1_788_825_600), by: .system(actingFor: psychiatrist))
            let progress = try await store.addNote(
                patientID: second, kind: .progress, body: "Seen today; sleeping better.",
                by: .system(actingFor: psychiatrist))
            _ = try await store.addNote(
                patientID: second, kind: .psychotherapy, body: "Session 3: process notes.",
                by: .system(actingFor: psychologist))
            let recorded = scores
            try await clinic.app().test(.router) { client in
                let group = "/fhir/R4/Group/\(clinic.north.lower)/$export"
                // What the kick-off refuses, as OperationOutcomes.
                let synchronous = try await client.call(.get, group, token: token)
                #expect(synchronous.status == .badRequest && synchronous.text.contains("respond-async"))
                #expect(synchronous.json["resourceType"] as? String == "OperationOutcome")
                let badType = try await client.call(
                    .get, group + "?_type=Patient,Goal", token: token, headers: Self.async)
                #expect(badType.status == .badRequest && badType.text.contains("Goal"))
                let unsupported = try await client.call(
                    .get, group + "?_elements=id", token: token, headers: Self.async)
                #expect(unsupported.status == .badRequest)
                let badSince = try await client.call(
                    .get, group + "?_since=yesterday", token: token, headers: Self.async)
                #expect(badSince.status == .badRequest)
                for (who, expected) in [
                    (clinic.tokens["psychiatrist"], HTTPResponse.Status.forbidden), (readOnly, .forbidden),
                ] {
                    let refused = try await client.call(.get, group, token: who, headers: Self.async)
                    #expect(refused.status == expected, "\(refused.text)")
                }
                let otherTeam = try await client.call(
                    .get, "/fhir/R4/Group/\(clinic.south.lower)/$export", token: token, headers: Self.async)
                #expect(otherTeam.status == .notFound)

                let kickOff = try await client.call(.get, group, token: token, headers: Self.async)
                #expect(kickOff.status == .accepted, "\(kickOff.text)")
                let status = try Self.path(kickOff.headers[.contentLocation])
                let waiting = try await client.call(.get, status, token: token)
                #expect(waiting.status == .accepted)
                #expect(waiting.headers[HTTPField.Name("X-Progress")!] == "queued")
                // Only the requester sees the job, even on the same team with the same scope.
                #expect(try await client.call(.get, status, token: otherToken).status == .notFound)

                #expect(try await Self.worker(store).runPending() == 1)
                let done = try await client.call(.get, status, token: token)
                #expect(done.status == .ok, "\(done.text)")
                #expect(done.headers[.expires] != nil)
                #expect(done.json["requiresAccessToken"] as? Bool == true)
                #expect((done.json["request"] as? String)?.hasSuffix(group) == true)
                let output = try #require(done.json["output"] as? [[String: Any]])
                #expect(output.count > 3, "tiny parts: several files")
                var lines: [[String: Any]] = []
                var text = ""
                for file in output {
                    let reply = try await client.call(.get, try Self.path(file["url"] as? String), token: token)
                    #expect(reply.status == .ok)
                    #expect(reply.headers[.contentType] == "application/fhir+ndjson")
                    let fileLines = reply.text.split(separator: "\n").map {
                        (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:]
                    }
                    #expect(fileLines.count == file["count"] as? Int)
                    #expect(fileLines.allSatisfy { $0["resourceType"] as? String == file["type"] as? String })
                    lines += fileLines
                    text += reply.text
                    // Another member cannot read a file even with its URL.
                    let stolen = try await client.call(
                        .get, try Self.path(file["url"] as? String), token: otherToken)
                    #expect(stolen.status == .notFound)
                }
                func ids(_ type: String) -> Set<String> {
                    Set(lines.filter { $0["resourceType"] as? String == type }.compactMap { $0["id"] as? String })
                }
                #expect(ids("Patient") == [clinic.northPatient.lower, second.lower])
                #expect(ids("Observation") == Set(recorded.map(\.lower)))
                #expect(ids("MedicationStatement") == [sertraline.lower])
                #expect(ids("DocumentReference") == [progress.lower])
                #expect(ids("CareTeam") == [clinic.north.lower])
                #expect(ids("CarePlan") == [clinic.northPatient.lower, second.lower])
                #expect(!text.contains("process notes") && !text.contains(clinic.southPatient.lower))
                let statement = lines.first { $0["resourceType"] as? String == "MedicationStatement" }
                let dosage = (statement?["dosage"] as? [[String: Any]])?.first
                #expect((dosage?["text"] as? String)?.contains("100") == true, "dose steps as dosage: \(dosage ?? [:])")

                // Audited: the kick-off, each patient read by the export, each file.
                let actions = try await pool.query(
                    PQQuery(
                        "SELECT action, patient_id FROM audit_entries WHERE member_id = $1 AND outcome = 'allowed'",
                        [exporter])
                ).map { (try $0.decode(String.self, at: 0), try $0.decode(UUID?.self, at: 1)) }
                #expect(actions.contains { $0.0 == "fhir.export.kickoff" })
                #expect(Set(actions.filter { $0.0 == "fhir.export" }.compactMap(\.1)) == [clinic.northPatient, second])
                #expect(actions.filter { $0.0 == "fhir.export.file" }.count == output.count)

                let deleted = try await client.call(.delete, status, token: token)
                #expect(deleted.status == .accepted)
                #expect(try await client.call(.get, status, token: token).status == .notFound)
                let gone = try await client.call(.get, try Self.path(output[0]["url"] as? String), token: token)
                #expect(gone.status == .notFound)
                #expect(try await pool.query("SELECT count(*) FROM fhir_export_files")[0].decode(Int.self, at: 0) == 0)
            }
        }
    }

    @Test(
        """
        a POST kick-off with a Parameters resource exports only the patients it names (Bulk Data's patient); a \
        patient outside the group, a bad reference or an unknown parameter is refused and starts nothing
        """
    )
    func postWithPatients() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let (_, token, _) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.export])
            let second = try await store.createPatient(
                teamID: clinic.north, mrn: "N-2", displayName: "Bo North",
                enrolledOn: Date(timeIntervalSince1970: 1_788_220_800), by: .system())
            var asked: [UUID] = []
            for (patient, total) in [(clinic.northPatient, 19), (second, 12)] {
                let score = try await store.recordMeasurement(
                    patientID: patient, score: try Score(.phq9, total: total), takenAt: Date(),
                    by: .system(actingFor: psychiatrist))
                if patient == second { asked.append(score.measurementID) }
            }
            let jobs: @Sendable () async throws -> Int = {
                try await pool.query("SELECT count(*) FROM fhir_export_jobs")[0].decode(Int.self, at: 0)
            }
            @Sendable func parameters(_ entries: [String]) -> String {
                #"{"resourceType": "Parameters", "parameter": [\#(entries.joined(separator: ", "))]}"#
            }
            @Sendable func patient(_ id: String) -> String {
                #"{"name": "patient", "valueReference": {"reference": "Patient/\#(id)"}}"#
            }
            let types = #"{"name": "_type", "valueString": "Patient,Observation"}"#
            let secondScores = asked
            try await clinic.app().test(.router) { client in
                let group = "/fhir/R4/Group/\(clinic.north.lower)/$export"
                for (body, expected, says) in [
                    (
                        parameters([patient(clinic.southPatient.lower)]), HTTPResponse.Status.notFound,
                        "not in this group"
                    ),
                    (parameters([patient("not-a-uuid")]), .badRequest, "Patient/{id}"),
                    (
                        parameters([#"{"name": "_elements", "valueString": "id"}"#]), .badRequest, "_elements"
                    ),
                    (#"{"resourceType": "Bundle"}"#, .badRequest, "Parameters"),
                ] {
                    let refused = try await client.call(.post, group, token: token, json: body, headers: Self.async)
                    #expect(refused.status == expected && refused.text.contains(says), "\(refused.text)")
                    #expect(refused.json["resourceType"] as? String == "OperationOutcome")
                }
                let viaGet = try await client.call(
                    .get, group + "?patient=Patient/\(second.lower)", token: token, headers: Self.async)
                #expect(viaGet.status == .badRequest && viaGet.text.contains("POST"), "\(viaGet.text)")
                #expect(try await jobs() == 0, "nothing refused started an export")

                let kickOff = try await client.call(
                    .post, group, token: token, json: parameters([types, patient(second.lower)]), headers: Self.async)
                #expect(kickOff.status == .accepted, "\(kickOff.text)")
                let status = try Self.path(kickOff.headers[.contentLocation])
                #expect(try await Self.worker(store).runPending() == 1)
                let done = try await client.call(.get, status, token: token)
                #expect(done.status == .ok, "\(done.text)")
                #expect((done.json["request"] as? String)?.hasSuffix(group) == true, "without parameters, as sent")
                let lines = try await Self.lines(of: done, client, token: token)
                func ids(_ type: String) -> Set<String> { Self.ids(lines, type) }
                #expect(ids("Patient") == [second.lower])
                #expect(ids("Observation") == Set(secondScores.map(\.lower)))
                #expect(Set(lines.compactMap { $0["resourceType"] as? String }) == ["Patient", "Observation"])
                // Read for the export: the patient asked for, and no other.
                let read = try await pool.query(
                    "SELECT DISTINCT patient_id FROM audit_entries WHERE action = 'fhir.export'"
                ).column(UUID.self)
                #expect(read == [second])
            }
        }
    }

    @Test(
        """
        _typeFilter: only the Observations of the codes named and the Tasks of the statuses named; other types \
        whole; an unsupported query or a type the export leaves out is refused
        """
    )
    func typeFilter() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let (_, token, _) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.export])
            let phq9 = try await store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.phq9, total: 19), takenAt: Date(),
                by: .system(actingFor: psychiatrist)
            ).measurementID
            _ = try await store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.gad7, total: 12), takenAt: Date(),
                by: .system(actingFor: psychiatrist))
            let open = try await store.createTask(
                patientID: clinic.northPatient, title: "Call", ownerID: nil, poolRole: .socialWorker,
                priority: .routine, dueAt: nil, by: .system(actingFor: psychiatrist))
            let done = try await store.createTask(
                patientID: clinic.northPatient, title: "Write", ownerID: psychiatrist, poolRole: nil,
                priority: .routine, dueAt: nil, by: .system(actingFor: psychiatrist))
            _ = try await store.completeTask(done, by: .system(actingFor: psychiatrist))
            try await clinic.app().test(.router) { client in
                let group = "/fhir/R4/Group/\(clinic.north.lower)/$export"
                for (query, says) in [
                    ("_typeFilter=Observation%3Fdate%3Dge2026-01-01", "Observation?code="),
                    ("_typeFilter=Condition%3Fcode%3D1", "does not hold"),
                    ("_type=Patient&_typeFilter=Observation%3Fcode%3D44249-1", "does not hold"),
                    ("_typeFilter=Task%3Fstatus%3Dlost", "cannot be 'lost'"),
                ] {
                    let refused = try await client.call(.get, group + "?" + query, token: token, headers: Self.async)
                    #expect(refused.status == .badRequest && refused.text.contains(says), "\(query): \(refused.text)")
                }
                // PHQ-9 panels only, and requested tasks; a comma-separated list holding both queries.
                let filters = "Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C44249-1,Task%3Fstatus%3Drequested"
                let kickOff = try await client.call(
                    .get, group + "?_typeFilter=" + filters, token: token, headers: Self.async)
                #expect(kickOff.status == .accepted, "\(kickOff.text)")
                #expect(try await Self.worker(store).runPending() == 1)
                let manifest = try await client.call(
                    .get, try Self.path(kickOff.headers[.contentLocation]), token: token)
                let lines = try await Self.lines(of: manifest, client, token: token)
                func ids(_ type: String) -> Set<String> { Self.ids(lines, type) }
                #expect(ids("Observation") == [phq9.lower])
                #expect(ids("Task").contains(open.lower) && !ids("Task").contains(done.lower), "\(ids("Task"))")
                #expect(ids("Patient") == [clinic.northPatient.lower], "a type without a filter is whole")
            }
        }
    }

    @Test(
        "Patient/$export with _type and _since: only what changed after _since; every team the account may export from"
    )
    func sinceAndTypes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            let (_, token, _) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.export])
            _ = try await store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.phq9, total: 19), takenAt: Date(),
                by: .system(actingFor: psychiatrist))
            let cutoff = try await pool.query("SELECT now()")[0].decode(Date.self, at: 0)
            let later = try await store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.phq9, total: 11), takenAt: Date(),
                by: .system(actingFor: psychiatrist)
            ).measurementID
            try await clinic.app().test(.router) { client in
                let since = Timestamp.format(cutoff).replacingOccurrences(of: "+", with: "%2B")
                let kickOff = try await client.call(
                    .get, "/fhir/R4/Patient/$export?_type=Observation,Patient&_since=\(since)", token: token,
                    headers: Self.async)
                #expect(kickOff.status == .accepted, "\(kickOff.text)")
                #expect(try await Self.worker(store).runPending() == 1)
                let done = try await client.call(.get, try Self.path(kickOff.headers[.contentLocation]), token: token)
                #expect(done.status == .ok, "\(done.text)")
                let output = try #require(done.json["output"] as? [[String: Any]])
                #expect(Set(output.compactMap { $0["type"] as? String }) == ["Observation"], "\(output)")
                let file = try await client.call(.get, try Self.path(output.first?["url"] as? String), token: token)
                let ids = file.text.split(separator: "\n").compactMap {
                    ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["id"] as? String
                }
                #expect(ids == [later.lower])
            }
        }
    }

    @Test(
        """
        the export's life: a revoked token fails it (500 OperationOutcome), a dead worker's job is taken over from the \
        start, a member may run 3 at once (429), and files expire
        """
    )
    func lifecycle() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let store = clinic.store
            let (member, token, tokenID) = try await Self.serviceAccount(store, team: clinic.north, scopes: [.export])
            let sameMember = try await store.issueToken(
                memberID: member, scopes: [.export], expiresAt: nil, by: .system())
            try await clinic.app().test(.router) { client in
                let group = "/fhir/R4/Group/\(clinic.north.lower)/$export"
                var statuses: [String] = []
                for _ in 0..<CareStore.activeExportsPerMember {
                    let kickOff = try await client.call(.get, group, token: token, headers: Self.async)
                    #expect(kickOff.status == .accepted)
                    statuses.append(try Self.path(kickOff.headers[.contentLocation]))
                }
                let tooMany = try await client.call(.get, group, token: token, headers: Self.async)
                #expect(tooMany.status == .tooManyRequests, "\(tooMany.text)")

                // A worker that died holding the first job: its lease runs out, another takes it over.
                let orphan = try #require(try await store.claimExport(lease: .zero))
                #expect(orphan.attempts == 1)
                let retaken = try #require(try await store.claimExport(lease: .seconds(60)))
                #expect(retaken.id == orphan.id && retaken.attempts == 2)
                // The dead worker's late write is refused: the job is no longer its.
                #expect(
                    try await store.writeExportFile(
                        orphan, part: 1, type: "Patient", lines: 1, body: "{}\n", progress: "", lease: .seconds(60))
                        == false)
                try await store.finishExport(retaken, error: nil, retention: .seconds(3600))

                // The token is revoked: what is still waiting fails, with the reason.
                try await store.revokeToken(tokenID, by: .system())
                #expect(try await Self.worker(store).runPending() == 2)
                let failedReply = try await client.call(.get, statuses[1], token: sameMember.token)
                #expect(failedReply.status == .internalServerError)
                #expect(failedReply.json["resourceType"] as? String == "OperationOutcome")
                #expect(failedReply.text.contains("revoked"))
                let failed = try await pool.query(
                    "SELECT count(*) FROM fhir_export_jobs WHERE status = 'failed' AND error LIKE '%revoked%'")[0]
                    .decode(Int.self, at: 0)
                #expect(failed == 2)

                // Expiry: past its time a job is gone, and the sweep deletes it and its files.
                try await pool.query("UPDATE fhir_export_jobs SET expires_at = now() - interval '1 second'")
                #expect(try await store.expireExports() == 3)
                #expect(try await pool.query("SELECT count(*) FROM fhir_export_jobs")[0].decode(Int.self, at: 0) == 0)
                #expect(try await client.call(.get, statuses[0], token: sameMember.token).status == .notFound)
            }
        }
    }
}
