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

/// A team's time zone (docs/time-zones.md), step one: kept, shown, changed by its admins.
@Suite("Team time zones", .timeLimit(.minutes(2)))
struct TimeZoneTests {
    @Test(
        """
        a team is made in a zone (UTC by default), an unknown zone is 422 with close matches, its admins change it (an \
        event, audited), a clinician may not, and every member sees it
        """
    )
    func teamZone() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let admin = clinic.tokens["admin"]
                let made = try await client.call(
                    .post, "/v1/teams", token: admin, json: #"{"name": "East", "time_zone": "Asia/Tokyo"}"#)
                #expect(made.status == .created && made.json["time_zone"] as? String == "Asia/Tokyo", "\(made.text)")
                let plain = try await client.call(.post, "/v1/teams", token: admin, json: #"{"name": "Plain"}"#)
                #expect(plain.json["time_zone"] as? String == "UTC")
                let unknown = try await client.call(
                    .post, "/v1/teams", token: admin, json: #"{"name": "West", "time_zone": "new york"}"#)
                #expect(unknown.status == .unprocessableContent && unknown.json["field"] as? String == "time_zone")
                #expect(
                    (unknown.json["accepted"] as? [String])?.contains("America/New_York") == true, "\(unknown.text)")

                let zone = "/v1/teams/\(clinic.north.lower)/time-zone"
                let byClinician = try await client.call(
                    .put, zone, token: clinic.tokens["psychiatrist"], json: #"{"time_zone": "America/Chicago"}"#)
                #expect(byClinician.status == .forbidden)
                let changed = try await client.call(
                    .put, zone, token: admin, json: #"{"time_zone": "America/Chicago"}"#)
                #expect(
                    changed.status == .ok && changed.json["time_zone"] as? String == "America/Chicago",
                    "\(changed.text)")
                let bad = try await client.call(.put, zone, token: admin, json: #"{"time_zone": "Mars/Olympus"}"#)
                #expect(bad.status == .unprocessableContent)
                let elsewhere = try await client.call(
                    .put, "/v1/teams/\(clinic.south.lower)/time-zone", token: admin,
                    json: #"{"time_zone": "Europe/Oslo"}"#)
                #expect(elsewhere.status == .notFound)

                let seen = try await client.call(
                    .get, "/v1/teams/\(clinic.north.lower)", token: clinic.tokens["socialWorker"])
                #expect(seen.json["time_zone"] as? String == "America/Chicago")
                let events = try await pool.query(
                    PQQuery(
                        """
                        SELECT payload->>'from', payload->>'to' FROM events WHERE type = 'team.time_zone_changed' AND \
                        team_id = $1
                        """,
                        [clinic.north])
                ).map { (try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1)) }
                #expect(events.count == 1 && events.first?.0 == "UTC" && events.first?.1 == "America/Chicago")
                let audited = try await pool.query(
                    "SELECT count(*) FROM audit_entries WHERE action = 'team.time_zone' AND outcome = 'allowed'")[0]
                    .decode(
                        Int.self, at: 0)
                #expect(audited == 1)
            }
        }
    }
}
