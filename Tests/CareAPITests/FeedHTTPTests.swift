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

@Suite("GET /v1/events: the integration feed over HTTP", .timeLimit(.minutes(3)))
struct FeedHTTPTests {
    @Test(
        "a long-polling reader sees every event exactly once, in commit order, while slow and fast writers interleave")
    func neverSkipsWithLongPoll() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.liveApp().test(.live) { client in
                var cursor = try await clinic.caughtUp(client, pool)

                let writers = 4
                let perWriter = 12
                let total = writers * perWriter
                let polls = SharedCounter()
                let reader = Task { () -> [String] in
                    var seen: [String] = []
                    let deadline = ContinuousClock.now + .seconds(90)
                    while seen.count < total, ContinuousClock.now < deadline {
                        let page = try await client.call(
                            .get, "/v1/events?after=\(cursor)&limit=7&wait=10", token: clinic.tokens["integrator"])
                        guard page.status == .ok else {
                            throw FeedTestError("feed answered \(page.status): \(page.text)")
                        }
                        polls.increment()
                        seen += page.items.filter { $0["type"] as? String == "test.written" }.compactMap {
                            $0["event_id"] as? String
                        }
                        cursor = try #require(page.json["next_cursor"] as? String)
                    }
                    return seen
                }
                try await writeInterleavedEvents(
                    pool, writers: writers, perWriter: perWriter, teamID: clinic.north, patientID: clinic.northPatient,
                    pause: 0...30)
                let seen = try await reader.value
                let written = try await pool.query(
                    "SELECT id::text FROM events WHERE type = 'test.written' ORDER BY id"
                ).column(String.self)
                #expect(seen.count == total)
                #expect(Set(seen).count == seen.count, "an event was delivered twice")
                #expect(Set(seen) == Set(written), "an event was skipped")
                // Long polls wait for commits: far fewer answers than a busy loop would need.
                #expect(polls.value < total * 2, "\(polls.value) polls for \(total) events")
            }
        }
    }

    @Test("a long poll answers as soon as an event commits, and an idle one after its wait with the same cursor")
    func longPollWakes() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.liveApp().test(.live) { client in
                let cursor = try await clinic.caughtUp(client, pool)

                let clock = ContinuousClock()
                let began = clock.now
                let idle = try await client.call(
                    .get, "/v1/events?after=\(cursor)&wait=1", token: clinic.tokens["integrator"])
                #expect(idle.status == .ok)
                #expect(idle.items.isEmpty)
                #expect(idle.json["next_cursor"] as? String == cursor)
                #expect(clock.now - began >= .milliseconds(900))

                let waiting = Task { () -> (Reply, Duration) in
                    let began = clock.now
                    let reply = try await client.call(
                        .get, "/v1/events?after=\(cursor)&wait=30", token: clinic.tokens["integrator"])
                    return (reply, clock.now - began)
                }
                try await Task.sleep(for: .milliseconds(500))
                _ = try await clinic.store.createPatient(
                    teamID: clinic.north, mrn: "N-LP", displayName: "Long Poll", enrolledOn: Date(), by: .system())
                let (reply, took) = try await waiting.value
                #expect(reply.status == .ok)
                #expect(reply.items.map { $0["type"] as? String } == ["patient.enrolled"])
                #expect(took < .seconds(10), "the long poll took \(took)")
            }
        }
    }

    @Test("readers see only their teams' events; psychotherapy notes and note text never appear; pages are audited")
    func privacy() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let psychologist = try #require(clinic.members["psychologist"])
            _ = try await clinic.store.addNote(
                patientID: clinic.northPatient, kind: .psychotherapy, body: "SECRET-THERAPY",
                by: .system(actingFor: psychologist))
            let progress = try await clinic.store.addNote(
                patientID: clinic.northPatient, kind: .progress, body: "PROGRESS-TEXT",
                by: .system(actingFor: psychologist))
            let integratorPagesNamingThePatient = SharedCounter()
            try await clinic.app().test(.router) { client in
                for name in ["psychologist", "psychiatrist", "integrator"] {
                    // Other tests' transactions on the cluster may hold the newest events back a moment.
                    var page = try await client.call(.get, "/v1/events?limit=200", token: clinic.tokens[name])
                    func count() {
                        if name == "integrator",
                            page.items.contains(where: { $0["patient_id"] as? String == clinic.northPatient.lower })
                        {
                            integratorPagesNamingThePatient.increment()
                        }
                    }
                    count()
                    _ = try await eventually {
                        if page.items.contains(where: {
                            ($0["details"] as? [String: String])?["note_id"] == progress.lower
                        }) {
                            return true
                        }
                        page = try await client.call(.get, "/v1/events?limit=200", token: clinic.tokens[name])
                        count()
                        return false
                    }
                    #expect(page.status == .ok, "\(name): \(page.text)")
                    #expect(!page.text.contains("SECRET-THERAPY") && !page.text.contains("PROGRESS-TEXT"))
                    #expect(!page.text.contains("psychotherapy"), "\(name) saw a psychotherapy note's event")
                    #expect(page.items.contains { ($0["details"] as? [String: String])?["note_id"] == progress.lower })
                    #expect(page.items.allSatisfy { $0["team_id"] as? String == clinic.north.lower })
                }
                var south = try await client.call(
                    .get, "/v1/events?limit=200", token: clinic.tokens["southPsychiatrist"])
                _ = try await eventually {
                    south = try await client.call(
                        .get, "/v1/events?limit=200", token: clinic.tokens["southPsychiatrist"])
                    return south.items.contains { $0["patient_id"] as? String == clinic.southPatient.lower }
                }
                #expect(south.status == .ok)
                #expect(!south.items.isEmpty)
                #expect(south.items.allSatisfy { $0["team_id"] as? String == clinic.south.lower })
                #expect(!south.text.contains(clinic.northPatient.lower))

                // No clinical role and no events:read scope: refused.
                for name in ["admin", "readOnlyService"] {
                    let refused = try await client.call(.get, "/v1/events", token: clinic.tokens[name])
                    #expect(refused.status == .forbidden, "\(name): \(refused.status)")
                }
                let bad = try await client.call(.get, "/v1/events?after=yesterday", token: clinic.tokens["integrator"])
                #expect(bad.status == .badRequest)
                let tooLong = try await client.call(.get, "/v1/events?wait=61", token: clinic.tokens["integrator"])
                #expect(tooLong.status == .badRequest)
            }
            #expect(integratorPagesNamingThePatient.value >= 1)
            let audited = try await pool.query(
                """
                SELECT count(*) FROM audit_entries WHERE action = 'events.read' AND patient_id = \(clinic.northPatient)
                  AND member_id = \(try #require(clinic.members["integrator"]))
                """)[0].decode(Int.self, at: 0)
            // One entry per answer that named the patient (and none for the others' answers).
            #expect(audited == integratorPagesNamingThePatient.value)
        }
    }
}

extension APIClinic {
    /// The integrator's cursor after every event the North team has so far (other tests'
    /// transactions on the cluster may hold the newest back for a moment).
    func caughtUp(_ client: some TestClientProtocol, _ pool: PQPool) async throws -> String {
        let expected = try await pool.query(
            "SELECT count(*) FROM events WHERE team_id = \(north) AND coalesce(payload->>'kind', '') <> 'psychotherapy'"
        )[0].decode(Int.self, at: 0)
        var cursor: String?
        var seen = 0
        while seen < expected {
            let page = try await client.call(
                .get, "/v1/events?limit=200&wait=5" + (cursor.map { "&after=\($0)" } ?? ""), token: tokens["integrator"]
            )
            guard page.status == .ok else { throw FeedTestError("feed answered \(page.status): \(page.text)") }
            seen += page.items.count
            cursor = page.json["next_cursor"] as? String
        }
        return try #require(cursor)
    }
}

struct FeedTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
