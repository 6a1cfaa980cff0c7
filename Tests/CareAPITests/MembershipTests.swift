import CareAPI
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

/// Someone leaving a team (docs/domain.md, "Who may do what"): the admin takes them off, their
/// access ends with their next request, and the work they held goes back to the pools.
@Suite("A member taken off a team")
struct MembershipTests {
    @Test(
        """
        an admin takes a member off: their next request no longer reaches the team's patients, their open tasks go \
        back to the pools with an event each
        """
    )
    func takenOff() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let leaving = clinic.members["psychologist"]!
                let token = clinic.tokens["psychologist"]
                let patient = "/v1/patients/\(clinic.northPatient.lower)"
                // A task from the psychologists' pool, claimed; and one given to them directly.
                let pooled = try await client.call(
                    .post, patient + "/tasks", token: clinic.tokens["psychiatrist"],
                    json: #"{"title": "Review the CBT plan", "pool_role": "psychologist"}"#)
                #expect(pooled.status == .created, "\(pooled.text)")
                let pooledID = try #require(pooled.json["id"] as? String)
                #expect(try await client.call(.post, "/v1/tasks/\(pooledID)/claim", token: token).status == .ok)
                let given = try await client.call(
                    .post, patient + "/tasks", token: clinic.tokens["psychiatrist"],
                    json: #"{"title": "Call Ada back", "owner_id": "\#(leaving.lower)"}"#)
                #expect(given.status == .created, "\(given.text)")
                let givenID = try #require(given.json["id"] as? String)
                #expect(try await client.call(.get, patient, token: token).status == .ok)
                #expect(try await client.call(.get, "/v1/tasks", token: token).items.count == 2)

                let uri = "/v1/teams/\(clinic.north.lower)/members/\(leaving.lower)"
                let removed = try await client.call(.delete, uri, token: clinic.tokens["admin"])
                #expect(removed.status == .ok, "\(removed.text)")
                #expect(Set(removed.json["released_task_ids"] as? [String] ?? []) == [pooledID, givenID])

                // Their access ends with the next request (their token is still valid: /v1/me answers).
                #expect(try await client.call(.get, patient, token: token).status == .notFound)
                #expect(try await client.call(.get, "/v1/tasks", token: token).items.isEmpty)
                #expect(try await client.call(.get, "/v1/me", token: token).status == .ok)

                let tasks = try await pool.query(
                    """
                    SELECT status, owner_id IS NULL, pool_role FROM tasks WHERE id IN (\(UUID(uuidString: pooledID)!),
                        \(UUID(uuidString: givenID)!))
                    """
                ).map { row in try row.decode(String.self, Bool.self, String?.self) }
                #expect(tasks.count == 2)
                #expect(tasks.allSatisfy { $0 == ("requested", true, "psychologist") }, "\(tasks)")
                let events = try await pool.query(
                    """
                    SELECT type, count(*)::int FROM events WHERE type IN ('task.released', 'member.removed')
                    GROUP BY type ORDER BY type
                    """
                ).map { row in try row.decode(String.self, Int.self) }
                #expect(events.map(\.0) == ["member.removed", "task.released"] && events.map(\.1) == [1, 2])
                // Releasing the tasks changed Ada's record: audited as the admin's, by patient.
                let audited = try await pool.query(
                    """
                    SELECT count(*)::int FROM audit_entries
                    WHERE action = 'member.remove' AND patient_id = \(clinic.northPatient) AND outcome = 'allowed'
                    """)[0].decode(Int.self, at: 0)
                #expect(audited == 1)
                // Gone already: 404.
                #expect(try await client.call(.delete, uri, token: clinic.tokens["admin"]).status == .notFound)
            }
        }
    }

    @Test(
        """
        only the team's admins take members off (403), another team's admin learns nothing (404), and the last admin \
        stays (409); nothing changes
        """
    )
    func refusals() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                func memberships() async throws -> Int {
                    try await pool.query("SELECT count(*)::int FROM memberships")[0].decode(Int.self, at: 0)
                }
                let before = try await memberships()
                let socialWorker = "/v1/teams/\(clinic.north.lower)/members/\(clinic.members["socialWorker"]!.lower)"
                let notAdmin = try await client.call(.delete, socialWorker, token: clinic.tokens["psychiatrist"])
                #expect(notAdmin.status == .forbidden, "\(notAdmin.text)")
                let stranger = try await client.call(.delete, socialWorker, token: clinic.tokens["southPsychiatrist"])
                #expect(stranger.status == .notFound, "\(stranger.text)")
                let admin = clinic.members["admin"]!
                let last = try await client.call(
                    .delete, "/v1/teams/\(clinic.north.lower)/members/\(admin.lower)", token: clinic.tokens["admin"])
                #expect(last.status == .conflict && last.detail.contains("last admin"), "\(last.text)")
                let nobody = try await client.call(
                    .delete, "/v1/teams/\(clinic.north.lower)/members/\(UUID().lower)", token: clinic.tokens["admin"])
                #expect(nobody.status == .notFound)
                let badID = try await client.call(
                    .delete, "/v1/teams/\(clinic.north.lower)/members/nope", token: clinic.tokens["admin"])
                #expect(badID.status == .badRequest)
                #expect(try await memberships() == before)
            }
        }
    }

    @Test(
        """
        an admin sets their members' roles (another team's member is 404; joining is the operator's), a clinician \
        becomes admin (then the first may leave), the last admin keeps admin; service accounts, integration refused
        """
    )
    func roles() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let admin = clinic.tokens["admin"]
                let team = "/v1/teams/\(clinic.north.lower)/members/"
                let patient = "/v1/patients/\(clinic.northPatient.lower)"
                // Another team's member is not North's admin's to change (nor to learn about): 404.
                let mover = clinic.tokens["southPsychiatrist"]
                let moverID = clinic.members["southPsychiatrist"]!
                #expect(try await client.call(.get, patient, token: mover).status == .notFound)
                let stranger = try await client.call(
                    .put, team + moverID.lower, token: admin, json: #"{"roles": ["psychiatrist"]}"#)
                #expect(stranger.status == .notFound && !stranger.text.contains("South"), "\(stranger.text)")
                #expect(try await client.call(.get, patient, token: mover).status == .notFound)
                // Moving is the operator's: South's psychiatrist joins North (then would leave South).
                let joined = try await clinic.store.setMemberRoles(
                    moverID, onTeam: clinic.north, roles: [.psychiatrist], by: .system())
                #expect(joined.roles == [.psychiatrist])
                #expect(try await client.call(.get, patient, token: mover).status == .ok)

                // A second admin, then the first may leave.
                let psychiatrist = clinic.members["psychiatrist"]!
                let promoted = try await client.call(
                    .put, team + psychiatrist.lower, token: admin, json: #"{"roles": ["admin", "psychiatrist"]}"#)
                #expect(promoted.json["roles"] as? [String] == ["admin", "psychiatrist"], "\(promoted.text)")
                let left = try await client.call(
                    .delete, team + clinic.members["admin"]!.lower, token: clinic.tokens["psychiatrist"])
                #expect(left.status == .ok, "\(left.text)")
                let lastAdmin = try await client.call(
                    .put, team + psychiatrist.lower, token: clinic.tokens["psychiatrist"],
                    json: #"{"roles": ["psychiatrist"]}"#)
                #expect(lastAdmin.status == .conflict && lastAdmin.detail.contains("last admin"), "\(lastAdmin.text)")

                let refused: [(String, String, HTTPResponse.Status)] = [
                    (clinic.members["service"]!.lower, #"{"roles": ["psychiatrist"]}"#, .unprocessableContent),
                    (clinic.members["socialWorker"]!.lower, #"{"roles": ["integration"]}"#, .unprocessableContent),
                    (clinic.members["socialWorker"]!.lower, #"{"roles": []}"#, .unprocessableContent),
                    (UUID().lower, #"{"roles": ["psychologist"]}"#, .notFound),
                ]
                for (member, body, status) in refused {
                    let reply = try await client.call(
                        .put, team + member, token: clinic.tokens["psychiatrist"], json: body)
                    #expect(reply.status == status, "\(member) \(body): \(reply.status) \(reply.text)")
                }
                let notAdmin = try await client.call(
                    .put, team + clinic.members["socialWorker"]!.lower, token: clinic.tokens["psychologist"],
                    json: #"{"roles": ["admin"]}"#)
                #expect(notAdmin.status == .forbidden)
                let changes = try await pool.query(
                    "SELECT count(*)::int FROM events WHERE type = 'member.roles_changed'")[0].decode(Int.self, at: 0)
                #expect(changes == 2, "the join and the promotion; refusals change nothing")
            }
        }
    }
}
