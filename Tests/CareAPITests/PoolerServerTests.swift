import CareStore
import CoreFormats
import Foundation
import PQ
import Testing
import TestSupport

/// The real care-server behind a real PgBouncer in transaction mode, logged in as a
/// deployment logs in (docs/operations.md, "Behind a connection pooler"): requests and the
/// server's own work through the pooler, LISTEN and migrations direct.
@Suite("care-server behind PgBouncer", .timeLimit(.minutes(3)))
struct PoolerServerTests {
    @Test(
        """
        through PgBouncer: writes, reads, a replayed write, the feed's long poll and a webhook delivery all work, with \
        migrations and LISTEN direct
        """
    )
    func mainPathsThroughPgBouncer() async throws {
        let database = try await TestDatabase.shared()
        try await database.roles()
        let name = try await database.makeDatabaseNamed(prefix: "pooled", owner: DatabaseRoles.owner)
        // Two server connections per login: the server's sixteen share them.
        let bouncer = try await PgBouncer.start(in: database.cluster, poolSize: 2)
        defer { bouncer.stop() }
        let receiver = Receiver()
        try await receiver.run { hook in
            let server = try ServerProcessTests.RunningServer(
                arguments: ["--transaction-pooler", "--webhook-allow-network", "127.0.0.0/8"],
                environment: [
                    "DATABASE_URL": bouncer.url(database: name, user: DatabaseRoles.server),
                    "SERVICE_DATABASE_URL": bouncer.url(database: name, user: DatabaseRoles.service),
                    "DIRECT_DATABASE_URL": database.configuration(database: name, user: DatabaseRoles.service).conninfo,
                    "MIGRATION_DATABASE_URL": database.configuration(database: name, user: DatabaseRoles.owner)
                        .conninfo,
                ])
            let port = try await server.waitForPort()
            let base = "http://127.0.0.1:\(port)"
            #expect(try await HTTP.send("GET", base + "/ready").status == 200)

            // The team, as an administrator would make it (directly, as the superuser).
            let setup = PQPool(
                configuration: database.configuration(database: name), options: .init(maximumConnections: 2),
                logger: testLogger())
            let store = CareStore(pool: setup, logger: testLogger())
            let team = try await store.createTeam(name: "Pooled", by: .system())
            let psychiatrist = try await store.createMember(
                displayName: "Dr. Pool", teamID: team, roles: [.psychiatrist], by: .system())
            let token = try await store.issueToken(memberID: psychiatrist, expiresAt: nil, by: .system()).token
            let integration = try await store.createMember(
                displayName: "EHR", teamID: team, roles: [.integration], isServiceAccount: true, by: .system())
            let integrator = try await store.issueToken(
                memberID: integration, scopes: [.eventsRead, .webhooksManage], expiresAt: nil, by: .system()
            ).token

            let hooked = try await HTTP.send(
                "POST", base + "/v1/webhooks", token: integrator,
                json: #"{"url": "\#(hook)", "event_types": ["patient.enrolled"]}"#)
            #expect(hooked.status == 201, "\(hooked.body)")

            // A long poll waits on the feed; the write below wakes it through LISTEN, which
            // cannot go through the pooler.
            let first = try await HTTP.send("GET", base + "/v1/events?limit=200", token: integrator)
            let cursor = try #require(first.body["next_cursor"] as? String)
            let clock = ContinuousClock()
            // Polled on until the enrolment arrives: an event committed just before (the
            // integration's own member.created) may answer the first poll on its own.
            let poll = Task { () -> (statuses: [Int], types: [String], pages: [String], took: Duration) in
                let began = clock.now
                var after = cursor
                var statuses: [Int] = [], types: [String] = [], pages: [String] = []
                while !types.contains("patient.enrolled"), clock.now - began < .seconds(50) {
                    let answer = try await HTTP.send(
                        "GET", base + "/v1/events?after=\(after)&wait=50", token: integrator)
                    statuses.append(answer.status)
                    pages.append("\(answer.body)")
                    types += (answer.body["items"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
                    guard answer.status == 200, let next = answer.body["next_cursor"] as? String else { break }
                    after = next
                }
                return (statuses, types, pages, clock.now - began)
            }

            // Writes: the idempotency claim takes a transaction-scoped advisory lock.
            let enrol =
                #"""
                {"team_id": "\#(team.lowercasedString)", "mrn": "P-1", "display_name": "Pat Pooled", "enrolled_on": \#
                "2026-11-02"}
                """#
            let created = try await HTTP.send("POST", base + "/v1/patients", token: token, json: enrol, key: "enrol-1")
            #expect(created.status == 201, "\(created.body)")
            let patient = try #require(created.body["id"] as? String)
            let replayed = try await HTTP.send("POST", base + "/v1/patients", token: token, json: enrol, key: "enrol-1")
            #expect(replayed.status == 201 && replayed.headers["Idempotent-Replayed"] == "true")
            #expect(replayed.body["id"] as? String == patient)
            let score = try await HTTP.send(
                "POST", base + "/v1/patients/\(patient)/measurements", token: token,
                json: #"{"instrument": "PHQ-9", "total": 21}"#)
            #expect(score.status == 201, "\(score.body)")
            let referral = try await HTTP.send(
                "POST", base + "/v1/patients/\(patient)/referrals", token: token,
                json: #"{"kind": "tms", "target_clinic": "Riverside TMS"}"#)
            #expect(referral.status == 201, "\(referral.body)")

            // Reads, many at once: more requests than server connections.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<24 {
                    group.addTask { try await HTTP.send("GET", base + "/v1/patients/\(patient)", token: token).status }
                }
                for try await status in group { #expect(status == 200) }
            }
            let handoffs = try await HTTP.send("GET", base + "/v1/handoffs", token: token)
            #expect(handoffs.status == 200, "\(handoffs.body)")

            let polled = try await poll.value
            #expect(polled.statuses.allSatisfy { $0 == 200 }, "\(polled.statuses)")
            #expect(polled.types.contains("patient.enrolled"), "\(polled.pages)")
            #expect(polled.took < .seconds(40), "the long poll was not woken: it took \(polled.took)")

            #expect(try await eventually { receiver.successes.count == 1 })
            let delivered = try #require(receiver.successes.first)
            let body = try #require(try JSONSerialization.jsonObject(with: delivered.body) as? [String: Any])
            #expect((body["data"] as? [String: Any])?["patient_id"] as? String == patient)

            // Exactly once in the database, and the writes went through PgBouncer.
            let patients = try await setup.query("SELECT count(*) FROM patients WHERE mrn = 'P-1'")[0].decode(
                Int.self, at: 0)
            #expect(patients == 1)
            for login in [DatabaseRoles.server, DatabaseRoles.service] {
                #expect(bouncer.log.contains("login attempt: db=\(name) user=\(login)"), "\(bouncer.log)")
            }
            let output = server.output.withLock { $0 }
            #expect(!output.contains("prepared statement"), "\(output)")
            await setup.close()
            #expect(try await server.terminate() == 0)
        }
    }

    @Test("--transaction-pooler without a direct URL is refused in one line, before anything starts")
    func poolerNeedsDirectURL() async throws {
        let server = try ServerProcessTests.RunningServer(
            arguments: ["--transaction-pooler"],
            environment: ["DATABASE_URL": "postgresql:///nowhere?host=/nonexistent", "DIRECT_DATABASE_URL": ""])
        #expect(try await eventually { server.exited.withLock { $0 } != nil })
        #expect(server.exited.withLock { $0 } != 0)
        #expect(server.output.withLock { $0 }.contains("--transaction-pooler needs --direct-database-url"))
    }
}
