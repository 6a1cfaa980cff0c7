import CareStore
import CoreFormats
import Foundation
import PQ
import Synchronization
import Testing
import TestSupport

/// deploy/backup and deploy/restore (care-server backup / restore) on the embedded setup of the
/// quick start (docs/operations.md, "Backup and restore").
@Suite("Backups that have been restored", .timeLimit(.minutes(4)))
struct BackupTests {
    /// Runs care-server with `arguments` to its end; its exit status and output.
    static func careServer(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> (
        status: Int32, output: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServerProcessTests.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        environment.merge(extra) { $1 }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = Mutex("")
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        let exited = Mutex<Int32?>(nil)
        process.terminationHandler = { process in exited.withLock { $0 = process.terminationStatus } }
        try process.run()
        #expect(try await eventually(120) { exited.withLock { $0 } != nil })
        pipe.fileHandleForReading.readabilityHandler = nil
        return (exited.withLock { $0 } ?? -1, output.withLock { $0 })
    }

    final class Load: Sendable {
        let finished = Atomic(false)
        let acknowledged = Mutex<[UUID]>([])
    }

    @Test(
        """
        a backup of a serving database under writes restores into a fresh cluster: every write acknowledged before it \
        began is there, each patient's events, handoffs and audit entries exactly, and care-server serves it
        """
    )
    func backupUnderWritesRestores() async throws {
        let base =
            FileManager.default.temporaryDirectory.path + "/carerelay-backup-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let original = base + "/original"
        let restored = base + "/restored"
        let dump = base + "/carerelay.dump"

        let server = try ServerProcessTests.RunningServer(dataDirectory: original)
        let port = try await server.waitForPort()
        let source = PQPool(
            configuration: PQConfiguration.unixSocket(
                directory: original + "/run", database: "carerelay", user: "postgres"),
            options: .init(minimumConnections: 0, maximumConnections: 2), logger: testLogger())
        let store = CareStore(pool: source, logger: testLogger())
        let team = try await store.createTeam(name: "Backed up", by: .system())
        let member = try await store.createMember(
            displayName: "Dr. Backup", teamID: team, roles: [.psychiatrist], by: .system())
        let token = try await store.issueToken(memberID: member, expiresAt: nil, by: .system()).token
        let api = "http://127.0.0.1:\(port)/v1"

        // Before the backup: patients with a TMS referral each (its event and four handoffs).
        var referred: [String] = []
        for n in 0..<5 {
            let created = try await HTTP.send(
                "POST", api + "/patients", token: token,
                json:
                    #"""
                    {"team_id": "\#(team.lowercasedString)", "mrn": "B-\#(n)", "display_name": "Patient \#(n)", \#
                    "enrolled_on": "2026-11-02"}
                    """#
            )
            #expect(created.status == 201, "\(created.body)")
            let patient = try #require(created.body["id"] as? String)
            let referral = try await HTTP.send(
                "POST", api + "/patients/\(patient)/referrals", token: token,
                json: #"{"kind": "tms", "target_clinic": "Riverside TMS"}"#)
            #expect(referral.status == 201, "\(referral.body)")
            referred.append(patient)
        }

        // Writes go on while the backup runs: a patient a request, each one transaction.
        let load = Load()
        let writer = Task {
            var n = 0
            while !load.finished.load(ordering: .acquiring) {
                n += 1
                let created = try await HTTP.send(
                    "POST", api + "/patients", token: token,
                    json:
                        #"""
                        {"team_id": "\#(team.lowercasedString)", "mrn": "L-\#(n)", "display_name": "Load \#(n)", \#
                        "enrolled_on": "2026-11-02"}
                        """#
                )
                guard created.status == 201, let text = created.body["id"] as? String, let id = UUID(uuidString: text)
                else {
                    throw BackupTestError("a write failed: \(created.status) \(created.body)")
                }
                load.acknowledged.withLock { $0.append(id) }
            }
        }
        #expect(try await eventually(60) { load.acknowledged.withLock { $0.count } >= 10 })
        let beforeBackup = Set(load.acknowledged.withLock { $0 })
        let backup = try await Self.careServer(["backup", "--data-dir", original, "--output", dump])
        let duringBackup = load.acknowledged.withLock { $0.count }
        load.finished.store(true, ordering: .releasing)
        try await writer.value
        #expect(backup.status == 0, "\(backup.output)")
        #expect(backup.output.contains("Backed up to \(dump)"))
        #expect(duringBackup > beforeBackup.count, "the writes went on while the backup ran")

        // Into a fresh cluster, which care-server makes.
        let restore = try await Self.careServer(["restore", dump, "--data-dir", restored])
        #expect(restore.status == 0, "\(restore.output)")
        // care-server starts on the restored copy (restore stopped the cluster it started).
        let again = try ServerProcessTests.RunningServer(dataDirectory: restored)
        let againPort = try await again.waitForPort()
        let target = PQPool(
            configuration: PQConfiguration.unixSocket(
                directory: restored + "/run", database: "carerelay", user: "postgres"),
            options: .init(minimumConnections: 0, maximumConnections: 2), logger: testLogger())

        // Checked in SQL before anything reads the restored copy (a read would audit).
        func ids(_ pool: PQPool, _ sql: PQQuery) async throws -> Set<String> {
            Set(try await pool.query(sql).column(String.self))
        }
        let patients = try await ids(target, "SELECT id::text FROM patients")
        for id in beforeBackup.map(\.lowercasedString) + referred {
            #expect(patients.contains(id), "patient \(id), acknowledged before the backup began, is missing")
        }
        #expect(patients.isSubset(of: try await ids(source, "SELECT id::text FROM patients")))
        for patient in patients {
            for table in ["events", "handoffs", "audit_entries"] {
                let query = PQQuery("SELECT id::text FROM \(table) WHERE patient_id = $1::uuid", [patient])
                let there = try await ids(target, query)
                let here = try await ids(source, query)
                #expect(there == here, "\(table) of patient \(patient): \(there.count) restored, \(here.count) kept")
            }
        }
        let handoffs = try await target.query(
            "SELECT count(*) FROM handoffs WHERE patient_id = ANY(\(referred.compactMap { UUID(uuidString: $0) }))")[0]
            .decode(
                Int.self, at: 0)
        #expect(handoffs == 5 * 4)
        await target.close()
        await source.close()
        #expect(try await server.terminate() == 0)

        // care-server serves the restored copy: the token, the roles and row-level security
        // came back, and new writes get new ids.
        let restoredAPI = "http://127.0.0.1:\(againPort)/v1"
        #expect(try await HTTP.send("GET", "http://127.0.0.1:\(againPort)/ready").status == 200)
        let read = try await HTTP.send("GET", restoredAPI + "/patients/\(referred[0])", token: token)
        #expect(read.status == 200, "\(read.body)")
        let written = try await HTTP.send(
            "POST", restoredAPI + "/patients", token: token,
            json:
                #"""
                {"team_id": "\#(team.lowercasedString)", "mrn": "AFTER-1", "display_name": "After", "enrolled_on": \#
                "2026-11-02"}
                """#
        )
        #expect(written.status == 201, "\(written.body)")
        #expect(try await again.terminate() == 0)

        // Restoring over a database that has tables is refused.
        let twice = try await Self.careServer(["restore", dump, "--data-dir", restored])
        #expect(twice.status != 0)
        #expect(twice.output.contains("restore into a fresh one"), "\(twice.output)")
    }
}

extension BackupTests {
    @Test(
        """
        with a DATABASE_URL (one host): backed up as the schema owner, restored into an empty database as its owner, \
        with the same rows, policies, grants and functions
        """
    )
    func backupAndRestoreByURL() async throws {
        let database = try await TestDatabase.shared()
        try await database.roles()
        let sourceName = try await database.makeDatabaseNamed(prefix: "backup_source", owner: DatabaseRoles.owner)
        let targetName = try await database.makeDatabaseNamed(prefix: "backup_target", owner: DatabaseRoles.owner)
        let owner = database.configuration(database: sourceName, user: DatabaseRoles.owner)
        let migrations = PQPool(configuration: owner, options: .init(maximumConnections: 1), logger: testLogger())
        try await Migrator(migrations: Migration.embedded()).migrate(migrations)
        await migrations.close()
        let source = PQPool(
            configuration: database.configuration(database: sourceName), options: .init(maximumConnections: 2),
            logger: testLogger())
        let store = CareStore(pool: source, logger: testLogger())
        let team = try await store.createTeam(name: "By URL", by: .system())
        let member = try await store.createMember(
            displayName: "Dr. URL", teamID: team, roles: [.psychiatrist], by: .system())
        _ = try await store.issueToken(memberID: member, expiresAt: nil, by: .system())
        let patient = try await store.createPatient(
            teamID: team, mrn: "U-1", displayName: "Uma", enrolledOn: Date(), by: .system())
        _ = try await store.makeReferral(
            patientID: patient, kind: .ect, targetClinic: "Hillside ECT", by: .system(actingFor: member))
        // An audit entry as a request would leave (the system's own writes are not audited).
        try await source.query(
            """
            INSERT INTO audit_entries (member_id, action, patient_id, resource, outcome)
            VALUES (\(member), 'patient.read', \(patient), '/v1/patients', 'allowed')
            """)

        let file =
            FileManager.default.temporaryDirectory.path + "/carerelay-url-\(UInt32.random(in: 0...UInt32.max)).dump"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let backup = try await Self.careServer(
            ["backup", "--output", file], environment: ["DATABASE_URL": owner.conninfo])
        #expect(backup.status == 0, "\(backup.output)")
        let restore = try await Self.careServer(
            ["restore", file],
            environment: [
                "DATABASE_URL": database.configuration(database: targetName, user: DatabaseRoles.owner).conninfo
            ])
        #expect(restore.status == 0, "\(restore.output)")

        let target = PQPool(
            configuration: database.configuration(database: targetName), options: .init(maximumConnections: 2),
            logger: testLogger())
        let checks: [PQQuery] = [
            "SELECT count(*) FROM patients", "SELECT count(*) FROM events", "SELECT count(*) FROM handoffs",
            "SELECT count(*) FROM audit_entries", "SELECT count(*) FROM api_tokens",
            "SELECT count(*) FROM care_schema_migrations", "SELECT count(*) FROM pg_policies",
            "SELECT count(*) FROM pg_proc WHERE prosecdef",
            "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee IN ('care_app', 'care_service')",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'care_owner'",
        ]
        for check in checks {
            let kept = try await source.query(check)[0].decode(Int.self, at: 0)
            let restored = try await target.query(check)[0].decode(Int.self, at: 0)
            #expect(kept == restored, "\(check.sql): \(kept) kept, \(restored) restored")
            #expect(kept > 0, "\(check.sql)")
        }
        await target.close()
        await source.close()
    }
}

struct BackupTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
