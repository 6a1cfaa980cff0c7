import CareStore
import CoreFormats
import Foundation
import LocalPostgres
import PQ
import Testing
import TestSupport

/// The weekly report read on a real streaming standby (pg_basebackup of a primary of the
/// test's own), as `--report-database-url` does with CloudNativePG's -ro service
/// (docs/operations.md, "Reports from a replica").
@Suite("Reports from a replica", .timeLimit(.minutes(3)))
struct ReplicaTests {
    @Test(
        """
        GET weekly report reads the standby (a paused replay hides a new patient), snapshots write to the primary, the \
        read is audited there, and a lost standby falls back to the primary
        """
    )
    func reportReadsTheStandby() async throws {
        let primary = try await TestDatabase.makePrivateCluster()
        defer { primary.destroy() }
        let standby = try LocalPostgres(
            directory: (primary.directory as NSString).deletingLastPathComponent
                + "/standby-\(UInt32.random(in: 0...UInt32.max))",
            settings: ["fsync": "off"], logger: testLogger("carerelay.test.standby"))
        defer { standby.destroy() }
        try await LocalPostgres.offload { try standby.startAsStandby(of: primary) }

        let admin = try await PQConnection.connect(PQConfiguration(primary.conninfo()))
        try await admin.execute("CREATE DATABASE care")
        await admin.close()
        let server = try ServerProcessTests.RunningServer(
            databaseURL: primary.conninfo(database: "care"),
            environment: ["REPORT_DATABASE_URL": standby.conninfo(database: "care")])
        let port = try await server.waitForPort()

        let pool = PQPool(
            configuration: PQConfiguration(primary.conninfo(database: "care")),
            options: .init(minimumConnections: 0, maximumConnections: 2), logger: testLogger())
        let replica = PQPool(
            configuration: PQConfiguration(standby.conninfo(database: "care")),
            options: .init(minimumConnections: 0, maximumConnections: 1), logger: testLogger())
        let store = CareStore(pool: pool, logger: testLogger())
        let team = try await store.createTeam(name: "Replica", by: .system())
        let member = try await store.createMember(
            displayName: "Dr. Replica", teamID: team, roles: [.psychiatrist], by: .system())
        let token = try await store.issueToken(memberID: member, expiresAt: nil, by: .system()).token
        let first = try await store.createPatient(
            teamID: team, mrn: "R-1", displayName: "Rey First", enrolledOn: Date(), by: .system())

        /// Waits until the standby has replayed everything the primary has committed so far.
        func caughtUp() async throws -> Bool {
            let target = try await pool.query("SELECT pg_current_wal_lsn()::text")[0].decode(String.self, at: 0)
            return try await eventually(30) {
                try await replica.query("SELECT pg_last_wal_replay_lsn() >= \(target)::pg_lsn")[0].decode(
                    Bool.self, at: 0)
            }
        }
        let iso = Calendar(identifier: .iso8601)
        let parts = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: Date())
        let week = String(format: "%04d-W%02d", parts.yearForWeekOfYear!, parts.weekOfYear!)
        let report = "http://127.0.0.1:\(port)/v1/teams/\(team.lowercasedString)/reports/weekly/\(week)"
        func listed() async throws -> Set<String> {
            let answer = try await HTTP.send("GET", report, token: token)
            #expect(answer.status == 200, "\(answer.body)")
            return Set((answer.body["patients"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        }
        func audited(_ patient: UUID, _ action: String = "report.weekly") async throws -> Int {
            try await pool.query(
                """
                SELECT count(*) FROM audit_entries WHERE patient_id = \(patient) AND action = \(action) AND outcome = \
                'allowed'
                """
            )[0].decode(Int.self, at: 0)
        }

        #expect(try await caughtUp())
        #expect(try await listed() == [first.lowercasedString])
        #expect(try await audited(first) == 1, "the read is audited on the primary")

        // The standby stops replaying: what the primary commits now is not in the report.
        try await replica.query("SELECT pg_wal_replay_pause()")
        #expect(
            try await eventually {
                try await replica.query("SELECT pg_get_wal_replay_pause_state()")[0].decode(String.self, at: 0)
                    == "paused"
            })
        let second = try await store.createPatient(
            teamID: team, mrn: "R-2", displayName: "Sol Second", enrolledOn: Date(), by: .system())
        #expect(try await listed() == [first.lowercasedString], "read on the standby, which has not seen R-2")
        #expect(try await audited(first) == 2)

        // A snapshot is kept on the primary, from the primary's facts.
        let kept = try await HTTP.send("POST", report + "/snapshots", token: token, json: "{}")
        #expect(kept.status == 201, "\(kept.body)")
        let snapshots = try await pool.query("SELECT count(*) FROM report_snapshots WHERE team_id = \(team)")[0].decode(
            Int.self, at: 0)
        #expect(snapshots == 1)
        #expect(try await audited(second, "report.snapshot") >= 1, "the snapshot read R-2 on the primary")
        #expect(try await audited(second) == 0)

        // Replay resumes: the report catches up.
        try await replica.query("SELECT pg_wal_replay_resume()")
        #expect(try await caughtUp())
        #expect(try await listed() == [first.lowercasedString, second.lowercasedString])

        // The standby goes away: the report is read on the primary, and the server says so.
        await replica.close()
        try await LocalPostgres.offload { try standby.stop(mode: "immediate") }
        #expect(try await listed() == [first.lowercasedString, second.lowercasedString])
        #expect(server.output.withLock { $0 }.contains("report replica cannot be reached"))
        await pool.close()
        #expect(try await server.terminate() == 0)
    }
}
