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

/// GET /v1/resolve: records named by the first characters of their id, within the caller's
/// teams, psychotherapy notes only to their author; patients by search, id prefix included.
@Suite("Names for people: id prefixes and patient search")
struct ResolveTests {
    @Test(
        """
        an id's first characters find the caller's own team's record only; another author's psychotherapy note is not \
        found; a bad prefix is 400
        """
    )
    func prefixes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                let northTask = try await clinic.store.createTask(
                    patientID: clinic.northPatient, title: "Call back", poolRole: .psychologist, by: .system())
                let southTask = try await clinic.store.createTask(
                    patientID: clinic.southPatient, title: "South work", poolRole: .psychologist, by: .system())
                let psychologist = try #require(clinic.members["psychologist"])
                let privateNote = try await clinic.store.addNote(
                    patientID: clinic.northPatient, kind: .psychotherapy, body: "private",
                    by: .system(actingFor: psychologist))
                func resolve(_ kind: String, _ id: UUID, as who: String? = "psychiatrist", length: Int = 8) async throws
                    -> Reply
                {
                    let prefix = String(id.uuidString.lowercased().prefix(length))
                    return try await client.call(
                        .get, "/v1/resolve?kind=\(kind)&prefix=\(prefix)", token: clinic.tokens[who ?? ""])
                }
                let found = try await resolve("task", northTask)
                #expect(found.status == .ok, "\(found.text)")
                #expect(found.items.map { $0["id"] as? String } == [northTask.lower])
                #expect(found.items.first?["label"] as? String == "Call back (requested)")
                #expect(found.items.first?["patient_id"] as? String == clinic.northPatient.lower)
                // Another team's task: not found, not even its existence.
                #expect(try await resolve("task", southTask).items.isEmpty)
                #expect(try await resolve("task", southTask, as: "southPsychiatrist").items.count == 1)
                // Upper case and no hyphens are the same id.
                let digits = northTask.uuidString.replacingOccurrences(of: "-", with: "").prefix(12)
                let loose = try await client.call(.get, "/v1/resolve?kind=task&prefix=\(digits)", token: token)
                #expect(loose.items.count == 1, "\(loose.text)")
                // A psychotherapy note: its author only.
                #expect(try await resolve("note", privateNote).items.isEmpty)
                #expect(try await resolve("note", privateNote, as: "psychologist").items.count == 1)
                for bad in [
                    "kind=task&prefix=abc", "kind=task&prefix=zzzzzzzz", "kind=task&prefix=3f2b-8c1e",
                    "kind=cat&prefix=3f2b8c1e",
                    "prefix=3f2b8c1e",
                ] {
                    let reply = try await client.call(.get, "/v1/resolve?\(bad)", token: token)
                    #expect(reply.status == .badRequest, "\(bad): \(reply.status) \(reply.text)")
                }
                // The patients the caller's lookup named are audited as read.
                let audited = try await pool.query(
                    """
                    SELECT count(*)::int FROM audit_entries WHERE action = 'id.resolve' AND patient_id = \
                    \(clinic.northPatient)
                    """
                )
                #expect(try audited[0].decode(Int.self, at: 0) >= 2)
            }
        }
    }

    @Test("patients are found by part of the name or MRN in any case, or by the start of their id")
    func patientSearch() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let token = clinic.tokens["psychiatrist"]
                for search in ["ada", "NORTH", "n-1", String(clinic.northPatient.lower.prefix(6))] {
                    let page = try await client.call(.get, "/v1/patients?search=\(search)", token: token)
                    #expect(
                        page.items.map { $0["id"] as? String } == [clinic.northPatient.lower], "\(search): \(page.text)"
                    )
                }
                // Another team's patient by its id's start: not found.
                let other = try await client.call(
                    .get, "/v1/patients?search=\(clinic.southPatient.lower.prefix(8))", token: token)
                #expect(other.items.isEmpty)
            }
        }
    }

    @Test(
        """
        the inbox holds what others did on my teams' patients only: not another team's, not another's psychotherapy \
        note, not my own; since is required
        """
    )
    func inbox() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let since = "2000-01-01T00:00:00Z"
                let psychologist = try #require(clinic.members["psychologist"])
                let psychiatrist = try #require(clinic.members["psychiatrist"])
                _ = try await clinic.store.addNote(
                    patientID: clinic.northPatient, kind: .psychotherapy, body: "private work",
                    by: .system(actingFor: psychologist))
                _ = try await clinic.store.addNote(
                    patientID: clinic.northPatient, kind: .progress, body: "Slept better",
                    by: .system(actingFor: psychologist))
                _ = try await clinic.store.addNote(
                    patientID: clinic.northPatient, kind: .progress, body: "My own words",
                    by: .system(actingFor: psychiatrist))
                _ = try await clinic.store.addNote(
                    patientID: clinic.southPatient, kind: .progress, body: "South news",
                    by: .system(actingFor: try #require(clinic.members["southPsychiatrist"])))
                let reply = try await client.call(
                    .get, "/v1/inbox?since=\(since)", token: clinic.tokens["psychiatrist"])
                #expect(reply.status == .ok, "\(reply.text)")
                let said = reply.items.compactMap { $0["what"] as? String }
                #expect(said.contains("Progress note: Slept better"), "\(said)")
                #expect(
                    !said.contains {
                        $0.contains("private work") || $0.contains("My own words") || $0.contains("South")
                    })
                #expect(reply.items.allSatisfy { $0["patient_id"] as? String == clinic.northPatient.lower })
                let missing = try await client.call(.get, "/v1/inbox", token: clinic.tokens["psychiatrist"])
                #expect(missing.status == .badRequest)
            }
        }
    }

    @Test(
        """
        one more cause on my role's open handoff is news: the second failed trial that joined it, said with the \
        handoff and the new cause, to that role only
        """
    )
    func inboxCauseAdded() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            try await clinic.store.recordTwoFailedTrials(
                patient: clinic.northPatient, enrolled: Date(timeIntervalSince1970: 1_788_220_800),
                psychiatrist: psychiatrist)
            try await clinic.app().test(.router) { client in
                let mine = try await client.call(
                    .get, "/v1/inbox?since=2000-01-01T00:00:00Z", token: clinic.tokens["socialWorker"])
                #expect(mine.status == .ok, "\(mine.text)")
                let said = mine.items.compactMap { $0["what"] as? String }
                let added = said.filter { $0.hasPrefix("Another cause for the social worker's handoff: ") }
                #expect(added.count == 1, "\(said)")
                #expect(
                    added.first?.contains("Screen for barriers") == true
                        && added.first?.contains("— Failed trial: venlafaxine") == true, "\(said)")
                #expect(said.filter { $0.hasPrefix("For the social worker: Screen for barriers") }.count == 1)
                let theirs = try await client.call(
                    .get, "/v1/inbox?since=2000-01-01T00:00:00Z", token: clinic.tokens["psychologist"])
                let told = theirs.items.compactMap { $0["what"] as? String }
                #expect(!told.contains { $0.contains("social worker's handoff") }, "\(told)")
                #expect(told.contains { $0.hasPrefix("Another cause for the psychologist's handoff: ") }, "\(told)")
            }
        }
    }

    @Test(
        """
        a safety signal comes first in the inbox: the score with item 9 above 0 and the urgent safety assessment it \
        made, marked safety_signal, before newer news
        """
    )
    func inboxSafetyFirst() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychologist = try #require(clinic.members["psychologist"])
            let psychiatrist = try #require(clinic.members["psychiatrist"])
            // The psychologist records the safety score (so it is not news to them); a note comes after it.
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.phq9, items: [2, 2, 2, 2, 2, 2, 2, 2, 1]),
                takenAt: Date(), by: .system(actingFor: psychologist))
            _ = try await clinic.store.addNote(
                patientID: clinic.northPatient, kind: .progress, body: "Seen in clinic",
                by: .system(actingFor: psychiatrist))
            _ = try await clinic.store.addNote(
                patientID: clinic.northPatient, kind: .social, body: "Housing sorted",
                by: .system(actingFor: try #require(clinic.members["socialWorker"])))
            try await clinic.app().test(.router) { client in
                let mine = try await client.call(
                    .get, "/v1/inbox?since=2000-01-01T00:00:00Z", token: clinic.tokens["psychologist"])
                #expect(mine.status == .ok, "\(mine.text)")
                let first = try #require(mine.items.first)
                #expect(first["kind"] as? String == "handoff" && first["safety_signal"] as? Bool == true, "\(first)")
                #expect((first["what"] as? String)?.hasPrefix("For the psychologist: Urgent safety assessment") == true)
                #expect(mine.items.dropFirst().allSatisfy { $0["safety_signal"] as? Bool == false }, "\(mine.items)")
                #expect(mine.items.dropFirst().first?["what"] as? String == "Social note: Housing sorted")
                // The psychiatrist: the score and their own assessment first, the newest of the two first.
                let theirs = try await client.call(
                    .get, "/v1/inbox?since=2000-01-01T00:00:00Z", token: clinic.tokens["psychiatrist"])
                #expect(
                    theirs.items.prefix(2).compactMap { $0["kind"] as? String } == ["handoff", "safety"]
                        && theirs.items.prefix(2).allSatisfy { $0["safety_signal"] as? Bool == true }, "\(theirs.items)"
                )
                #expect(theirs.items.dropFirst(2).allSatisfy { $0["safety_signal"] as? Bool == false })
            }
        }
    }

    @Test("a handoff is in the inbox of a member holding its role on the patient's own team, not a role held elsewhere")
    func inboxRolesPerTeam() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            // A psychiatrist on North who is a psychologist on South only.
            let member = try await clinic.store.createMember(
                displayName: "Dr. Both", teamID: clinic.north, roles: [.psychiatrist], by: .system())
            try await pool.query(
                "INSERT INTO memberships (team_id, member_id, role) VALUES (\(clinic.south), \(member), 'psychologist')"
            )
            let token = try await clinic.store.issueToken(memberID: member, expiresAt: nil, by: .system()).token
            // A safety score on North makes a handoff for its psychiatrist and one for its psychologist.
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.northPatient, score: try Score(.phq9, items: [2, 2, 2, 2, 2, 2, 2, 2, 1]),
                takenAt: Date(), by: .system(actingFor: try #require(clinic.members["psychologist"])))
            try await clinic.app().test(.router) { client in
                let reply = try await client.call(.get, "/v1/inbox?since=2000-01-01T00:00:00Z", token: token)
                let handoffs = reply.items.filter { $0["kind"] as? String == "handoff" }.compactMap {
                    $0["what"] as? String
                }
                #expect(handoffs.count == 1 && handoffs[0].hasPrefix("For the psychiatrist:"), "\(handoffs)")
            }
        }
    }
}
