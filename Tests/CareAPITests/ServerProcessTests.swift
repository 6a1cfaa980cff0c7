import CoreFormats
import CareStore
import Foundation
import LocalPostgres
import PQ
import Synchronization
import Testing
import TestSupport

/// Runs the real `care-server` binary as the README's quick start does: no DATABASE_URL, so it
/// brings up its own private PostgreSQL.
@Suite("care-server with its embedded PostgreSQL", .timeLimit(.minutes(3)))
struct ServerProcessTests {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("care-server")
            .path
    }

    final class RunningServer: Sendable {
        let process: Process
        let output = Mutex("")
        let exited = Mutex<Int32?>(nil)

        /// On the embedded cluster in `dataDirectory`, or on `databaseURL`.
        init(
            dataDirectory: String? = nil, databaseURL: String? = nil, arguments: [String] = [],
            environment extra: [String: String] = [:]
        ) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: ServerProcessTests.binary)
            process.arguments = ["serve", "--port", "0", "--log-level", "info"] + arguments
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = databaseURL
            environment["CARE_DATA_DIR"] = dataDirectory
            // Stopped at once unless a test drains on purpose (DrainTests).
            environment["CARE_DRAIN_SECONDS"] = "0"
            environment.merge(extra) { $1 }
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                self?.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
            process.terminationHandler = { [weak self] process in
                self?.exited.withLock { $0 = process.terminationStatus }
            }
            try process.run()
        }

        /// A server a test did not stop (it failed, or needed no orderly stop) is killed, so it
        /// holds no connections while the other tests run and outlives none of them.
        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }

        /// The port from the "care-server listening" log line.
        func waitForPort(timeout: Duration = .seconds(90)) async throws -> Int {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let text = output.withLock { $0 }
                if let range = text.range(of: #"address=http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    return Int(text[range].split(separator: ":").last!)!
                }
                if exited.withLock({ $0 }) != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw ServerDidNotStart(output: output.withLock { $0 })
        }

        func terminate() async throws -> Int32 {
            process.terminate()  // SIGTERM
            for _ in 0..<300 {
                if let status = exited.withLock({ $0 }) { return status }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw ServerDidNotStart(
                output: "care-server did not stop within 30 s of SIGTERM\n" + output.withLock { $0 })
        }
    }

    struct ServerDidNotStart: Error, CustomStringConvertible {
        var output: String
        var description: String { "care-server did not start:\n\(output)" }
    }

    func get(_ url: String) async throws -> (Int, String) {
        let answer = try await HTTP.send("GET", url)
        return (answer.status, answer.text)
    }

    @Test("with no DATABASE_URL it initdb's a private cluster on a Unix socket, serves, and stops it on SIGTERM")
    func embeddedLifecycle() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build care-server first (swift build)")
        let base =
            FileManager.default.temporaryDirectory.path + "/carerelay-embedded-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dataDirectory = base + "/db"

        let server = try RunningServer(dataDirectory: dataDirectory)
        let port = try await server.waitForPort()
        let (status, body) = try await get("http://127.0.0.1:\(port)/ready")
        #expect(status == 200, "\(body)")
        #expect(FileManager.default.fileExists(atPath: dataDirectory + "/data/PG_VERSION"))
        #expect(FileManager.default.fileExists(atPath: dataDirectory + "/data/postmaster.pid"))

        // Unix socket only, and the schema is in the database it made for itself.
        let connection = try await PQConnection.connect(
            PQConfiguration.unixSocket(directory: dataDirectory + "/run", database: "carerelay", user: "postgres"))
        let listen = try await connection.query("SHOW listen_addresses")
        #expect(try listen[0].decode(String.self, at: 0) == "")
        let applied = try await connection.query("SELECT count(*) FROM care_schema_migrations")
        #expect(try applied[0].decode(Int.self, at: 0) >= 1)
        // Requests log in as care_server and the server's own work as care_service, never as
        // the superuser or the owner, whose tables are care_owner's (docs/operations.md).
        let logins = try await connection.query(
            """
            SELECT DISTINCT usename::text FROM pg_stat_activity WHERE datname = 'carerelay' AND pid <> pg_backend_pid()
                AND backend_type = 'client backend'
            """
        ).column(String.self)
        #expect(logins.sorted() == ["care_server", "care_service"], "\(logins)")
        let owners = try await connection.query(
            "SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'public'"
        ).column(String.self)
        #expect(owners == ["care_owner"], "\(owners)")
        await connection.close()

        #expect(try await server.terminate() == 0)
        // The escalation job ran against the migrated schema without failing, and a clean start
        // and stop logs no error (a statement that shutdown cancels is not one).
        let firstLog = server.output.withLock { $0 }
        #expect(!firstLog.contains("escalation job failed"), "\(firstLog)")
        #expect(!firstLog.split(separator: "\n").contains { $0.contains(" error ") }, "\(firstLog)")
        #expect(
            !FileManager.default.fileExists(atPath: dataDirectory + "/data/postmaster.pid"),
            "the private PostgreSQL was left running")

        // A second start reuses the cluster: no new initdb, same data.
        let again = try RunningServer(dataDirectory: dataDirectory)
        let secondPort = try await again.waitForPort()
        #expect(try await get("http://127.0.0.1:\(secondPort)/ready").0 == 200)
        #expect(!again.output.withLock { $0 }.contains("creating private PostgreSQL cluster"))
        #expect(try await again.terminate() == 0)
        // A start on a current schema says nothing about the migrations table existing already.
        let secondLog = again.output.withLock { $0 }
        #expect(!secondLog.contains("already exists, skipping"), "\(secondLog)")
        #expect(!secondLog.split(separator: "\n").contains { $0.contains(" error ") }, "\(secondLog)")
    }
}

extension ServerProcessTests {
    @Test("SIGTERM lets a request in flight finish and commit before the server stops")
    func gracefulShutdownDrains() async throws {
        let base = FileManager.default.temporaryDirectory.path + "/carerelay-drain-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dataDirectory = base + "/db"
        let server = try RunningServer(dataDirectory: dataDirectory)
        let port = try await server.waitForPort()

        let configuration = PQConfiguration.unixSocket(
            directory: dataDirectory + "/run", database: "carerelay", user: "postgres")
        let pool = PQPool(
            configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 2),
            logger: testLogger())
        let store = CareStore(pool: pool, logger: testLogger())
        let team = try await store.createTeam(name: "Drain", by: .system())
        let psychiatrist = try await store.createMember(
            displayName: "Dr. Rao", teamID: team, roles: [.psychiatrist], by: .system())
        let token = try await store.issueToken(memberID: psychiatrist, expiresAt: nil, by: .system()).token
        let patient = try await store.createPatient(
            teamID: team, mrn: "D-1", displayName: "Dana", enrolledOn: Date(timeIntervalSince1970: 1_788_220_800),
            by: .system())
        let trial = try await store.startTrial(
            patientID: patient, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
            startedOn: Date(timeIntervalSince1970: 1_788_307_200), by: .system(actingFor: psychiatrist))
        await pool.close()

        // Hold the trial's row lock so the request waits in the middle of its transaction.
        let blocker = try await PQConnection.connect(configuration)
        try await blocker.execute("BEGIN")
        try await blocker.query("SELECT 1 FROM trials WHERE id = \(trial) FOR UPDATE")
        let request = Task { () -> (Int, String) in
            let answer = try await HTTP.send(
                "POST", "http://127.0.0.1:\(port)/v1/trials/\(trial.uuidString.lowercased())/outcome", token: token,
                json: #"{"outcome": "non-response", "stopped_on": "2026-10-21", "adherence": 0.9}"#)
            return (answer.status, answer.text)
        }
        // Wait until the request is in its transaction, waiting for the lock (a fixed delay was
        // not always enough for it to get there on a loaded machine).
        let watcher = try await PQConnection.connect(configuration)
        for _ in 0..<200 {
            let waiting = try await watcher.query(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0].decode(Int.self, at: 0)
            if waiting > 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        await watcher.close()
        server.process.terminate()  // SIGTERM while the request waits
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.exited.withLock { $0 } == nil, "the server stopped with a request in flight")
        try await blocker.execute("COMMIT")

        let (status, body) = try await request.value
        #expect(status == 201, "\(body)")
        #expect(try await server.terminate() == 0)
        await blocker.close()
        // It committed: the outcome is in the database (the cluster is stopped; start it to look).
        let again = try RunningServer(dataDirectory: dataDirectory)
        _ = try await again.waitForPort()
        let check = try await PQConnection.connect(configuration)
        let outcome = try await check.query("SELECT outcome, is_failed FROM trials WHERE id = \(trial)")
        let (recorded, failed) = try outcome[0].decode(String?.self, Bool.self)
        #expect(recorded == "non-response" && failed)
        await check.close()
        #expect(try await again.terminate() == 0)
    }
}

extension ServerProcessTests {
    func post(_ url: String, token: String, json: String) async throws -> (Int, [String: Any]) {
        let answer = try await HTTP.send("POST", url, token: token, json: json)
        return (answer.status, answer.body)
    }

    @Test(
        """
        a server killed (SIGKILL) mid-delivery leaves it to another server, which sends it once its lease lapses; \
        SIGTERM answers long polls at once
        """
    )
    func killedMidDelivery() async throws {
        let base = FileManager.default.temporaryDirectory.path + "/carerelay-kill-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let dataDirectory = base + "/db"
        defer {
            // The first server started the cluster and was killed, so nobody stopped it.
            try? LocalPostgres(directory: dataDirectory).stop(mode: "immediate")
            try? FileManager.default.removeItem(atPath: base)
        }
        let arguments = ["--webhook-allow-network", "127.0.0.0/8", "--webhook-timeout", "4", "--webhook-lease", "6"]
        // The receiver kills the first server as its first attempt arrives (so the server dies
        // while it waits for the answer, however slow this machine is: the kill does not wait
        // for the test to notice the request), holds that request open, and takes the next.
        let firstServer = ProcessID()
        let receiver = Receiver { number in
            if number == 1 {
                let pid = firstServer.value.load(ordering: .acquiring)
                if pid > 0 { kill(pid, SIGKILL) }
                try? await Task.sleep(for: .seconds(30))
            }
            return .noContent
        }
        try await receiver.run { url in
            let first = try RunningServer(dataDirectory: dataDirectory, arguments: arguments)
            firstServer.value.store(first.process.processIdentifier, ordering: .releasing)
            let firstPort = try await first.waitForPort()
            let configuration = PQConfiguration.unixSocket(
                directory: dataDirectory + "/run", database: "carerelay", user: "postgres")
            let pool = PQPool(
                configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 2),
                logger: testLogger())
            let store = CareStore(pool: pool, logger: testLogger())
            let team = try await store.createTeam(name: "Kill", by: .system())
            let integration = try await store.createMember(
                displayName: "EHR", teamID: team, roles: [.integration], isServiceAccount: true, by: .system())
            let token = try await store.issueToken(
                memberID: integration, scopes: [.eventsRead, .webhooksManage], expiresAt: nil, by: .system()
            ).token
            let (created, body) = try await post(
                "http://127.0.0.1:\(firstPort)/v1/webhooks", token: token,
                json: #"{"url": "\#(url)", "event_types": ["patient.enrolled"]}"#)
            #expect(created == 201, "\(body)")
            _ = try await store.createPatient(
                teamID: team, mrn: "K-1", displayName: "Kim", enrolledOn: Date(), by: .system())

            // The first server claims the delivery and sends it; it dies while the receiver holds the request.
            #expect(try await eventually { receiver.requests.count == 1 })
            #expect(try await eventually { first.exited.withLock { $0 } != nil })
            let claimed = try await pool.query("SELECT status, attempts FROM webhook_deliveries")[0].decode(
                String.self, Int.self)
            #expect(claimed == ("sending", 1))

            // Another server on the same database takes it once the lease lapses.
            let second = try RunningServer(dataDirectory: dataDirectory, arguments: arguments)
            let secondPort = try await second.waitForPort()
            #expect(try await eventually(30) { receiver.successes.count == 1 })
            let ids = receiver.requests.map { $0.headers["webhook-id"] ?? "" }
            #expect(ids.count == 2 && Set(ids).count == 1, "the same webhook-id both times: \(ids)")
            #expect(
                try await eventually {
                    try await pool.query("SELECT status, attempts FROM webhook_deliveries")[0].decode(
                        String.self, Int.self) == ("succeeded", 2)
                })

            // A long poll in flight answers (200, no events) as soon as the server is told to stop.
            let (_, page) = try await get("http://127.0.0.1:\(secondPort)/v1/events?limit=200", token: token)
            let cursor = try #require(page["next_cursor"] as? String)
            let clock = ContinuousClock()
            let poll = Task { () -> (Int, Duration) in
                let began = clock.now
                let (status, _) = try await get(
                    "http://127.0.0.1:\(secondPort)/v1/events?after=\(cursor)&wait=60", token: token)
                return (status, clock.now - began)
            }
            try await Task.sleep(for: .seconds(1))
            await pool.close()
            second.process.terminate()  // SIGTERM
            let (status, took) = try await poll.value
            #expect(status == 200)
            #expect(took < .seconds(15), "the long poll held the shutdown for \(took)")
            #expect(try await second.terminate() == 0)
        }
    }

    @Test("two care-server processes on one database send each webhook delivery once")
    func twoProcessesShareDeliveries() async throws {
        let base = FileManager.default.temporaryDirectory.path + "/carerelay-two-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dataDirectory = base + "/db"
        let receiver = Receiver { _ in
            try? await Task.sleep(for: .milliseconds(Int.random(in: 0...15)))
            return .noContent
        }
        try await receiver.run { url in
            let arguments = ["--webhook-allow-network", "127.0.0.0/8"]
            let first = try RunningServer(dataDirectory: dataDirectory, arguments: arguments)
            let port = try await first.waitForPort()
            // The second reuses the cluster the first started; both send webhooks.
            let second = try RunningServer(dataDirectory: dataDirectory, arguments: arguments)
            _ = try await second.waitForPort()
            let configuration = PQConfiguration.unixSocket(
                directory: dataDirectory + "/run", database: "carerelay", user: "postgres")
            let pool = PQPool(
                configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 2),
                logger: testLogger())
            let store = CareStore(pool: pool, logger: testLogger())
            let team = try await store.createTeam(name: "Two", by: .system())
            let integration = try await store.createMember(
                displayName: "EHR", teamID: team, roles: [.integration], isServiceAccount: true, by: .system())
            let token = try await store.issueToken(
                memberID: integration, scopes: [.webhooksManage], expiresAt: nil, by: .system()
            ).token
            let (created, body) = try await post(
                "http://127.0.0.1:\(port)/v1/webhooks", token: token,
                json: #"{"url": "\#(url)", "event_types": ["patient.enrolled"]}"#)
            #expect(created == 201, "\(body)")
            for index in 0..<30 {
                _ = try await store.createPatient(
                    teamID: team, mrn: "T-\(index)", displayName: "Patient \(index)", enrolledOn: Date(), by: .system())
            }
            #expect(try await eventually(40) { receiver.successes.count >= 30 })
            #expect(
                try await eventually {
                    try await pool.query("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'")[0]
                        .decode(Int.self, at: 0) == 30
                })
            try await Task.sleep(for: .milliseconds(500))
            let ids = receiver.requests.map { $0.headers["webhook-id"] ?? "" }
            #expect(ids.count == 30 && Set(ids).count == 30, "\(ids.count) requests, \(Set(ids).count) distinct")
            await pool.close()
            #expect(try await second.terminate() == 0)
            #expect(try await first.terminate() == 0)
        }
    }

    func get(_ url: String, token: String) async throws -> (Int, [String: Any]) {
        let answer = try await HTTP.send("GET", url, token: token)
        return (answer.status, answer.body)
    }
}

@Suite("The care client")
struct ClientBinaryTests {
    @Test("the care binary does not link libpq")
    func careDoesNotLinkLibPQ() async throws {
        let care = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "care"
        ).path
        #expect(FileManager.default.isExecutableFile(atPath: care), "build care first (swift build)")
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [care]
        let pipe = Pipe()
        ldd.standardOutput = pipe
        try ldd.run()
        let reader = pipe.fileHandleForReading
        let libraries = String(
            decoding: try await LocalPostgres.offload { reader.readDataToEndOfFile() }, as: UTF8.self)
        #expect(libraries.contains("libc.so"), "ldd printed: \(libraries)")
        #expect(!libraries.contains("libpq"))
    }
}

@Suite("care-server admin", .timeLimit(.minutes(3)))
struct AdminCommandTests {
    struct Run {
        var status: Int32
        var output: String
    }

    /// Runs `care-server admin ...` against `database` and waits for it.
    func admin(_ arguments: [String], database: String) async throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServerProcessTests.binary)
        process.arguments = ["admin"] + arguments + ["--database-url", database]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let exited = SharedCounter()
        process.terminationHandler = { _ in exited.increment() }
        try process.run()
        let reader = pipe.fileHandleForReading
        let data = try await LocalPostgres.offload { reader.readDataToEndOfFile() }
        while exited.value == 0 { try await Task.sleep(for: .milliseconds(20)) }
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    func json(_ run: Run) throws -> [String: Any] {
        let lines = run.output.split(separator: "\n")
        #expect(lines.count == 1, "expected one JSON object, got: \(run.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    }

    @Test("seed-synthetic makes a caseload with history the report can be built from")
    func seedSynthetic() async throws {
        let database = try await TestDatabase.shared()
        let url = try await database.makeDatabase().conninfo
        let seeded = try json(
            try await admin(["seed-synthetic", "--patients", "40", "--weeks", "60", "--json"], database: url))
        let rows = try #require(seeded["rows"] as? [String: Int])
        #expect(rows["patients"] == 40)
        for table in ["measurements", "notes", "trials", "handoffs", "tasks", "events"] {
            #expect((rows[table] ?? 0) > 0, "\(table)")
        }
        let teamText = try #require(seeded["team_id"] as? String)
        let team = try #require(UUID(uuidString: teamText))
        let pool = PQPool(configuration: PQConfiguration(url))
        let store = CareStore(pool: pool, logger: testLogger())
        let review = try await store.weeklyReview(teamID: team, week: ISOWeek(containing: Date()), by: .system())
        #expect(review.patients.count > 30 && review.patients.filter { $0.assessment.response != nil }.count > 20)
        #expect(!review.listed.isEmpty && review.listed.allSatisfy { !$0.assessment.reasons.isEmpty })
        // Psychotherapy notes were made, and stay out of the report.
        let therapy = try await pool.query("SELECT count(*) FROM notes WHERE kind = 'psychotherapy'")[0].decode(
            Int.self, at: 0)
        #expect(therapy > 0)
        await pool.close()
        // Bad sizes: a non-zero exit, nothing made.
        let refused = try await admin(["seed-synthetic", "--patients", "0", "--json"], database: url)
        #expect(refused.status != 0)
    }

    @Test(
        """
        seed-demo makes the demo team once, with its care manager as its admin; run again, fresh tokens, and the \
        earlier ones nobody used revoked
        """
    )
    func seedDemo() async throws {
        let database = try await TestDatabase.shared()
        let url = try await database.makeDatabase().conninfo
        let pool = PQPool(configuration: PQConfiguration(url))
        let store = CareStore(pool: pool, logger: testLogger())
        let first = try json(try await admin(["seed-demo", "--json"], database: url))
        func token(_ seeded: [String: Any], _ name: String) -> String {
            (seeded["members"] as? [[String: Any]])?.first { $0["name"] as? String == name }?["token"] as? String ?? ""
        }
        // A tester logs in as the care manager; the other four tokens are never used.
        #expect(try await store.authenticate(token: token(first, "Dev Patel")) != nil)
        let second = try json(try await admin(["seed-demo", "--json"], database: url))
        #expect(first["revoked_unused_tokens"] as? Int == 0 && second["revoked_unused_tokens"] as? Int == 4)
        #expect(try await store.authenticate(token: token(first, "Dev Patel")) != nil, "the one in use stays")
        #expect(try await store.authenticate(token: token(first, "Dr. Asha Rao")) == nil)
        #expect(try await store.authenticate(token: token(first, "Demo integration")) == nil)
        #expect(try await store.authenticate(token: token(second, "Dr. Asha Rao")) != nil)
        #expect(first["created"] as? Bool == true && second["created"] as? Bool == false)
        #expect(first["team_id"] as? String == second["team_id"] as? String)
        #expect((first["patients"] as? [String])?.count == 5 && (second["patients"] as? [String])?.count == 5)
        for seeded in [first, second] {
            let members = try #require(seeded["members"] as? [[String: Any]])
            #expect(members.count == 5)
            let admins = members.filter { ($0["roles"] as? [String])?.contains("admin") == true }
            #expect(admins.map { $0["name"] as? String } == ["Dev Patel"])
            #expect(admins.first?["roles"] as? [String] == ["care_manager", "admin"])
        }
        let tokens = { (seeded: [String: Any]) in
            Set((seeded["members"] as? [[String: Any]] ?? []).compactMap { $0["token"] as? String })
        }
        #expect(tokens(first).count == 5 && tokens(first).isDisjoint(with: tokens(second)))
        // What the server reads: the care manager is the team's admin.
        let roles = try await pool.query(
            """
            SELECT m.role FROM memberships m JOIN members p ON p.id = m.member_id
            WHERE p.email = 'dev.patel@demo.carerelay.example' ORDER BY m.role
            """
        ).column(String.self)
        await pool.close()
        #expect(roles == ["admin", "care_manager"])
    }

    @Test("create a team, a member, a service account and a token, revoke it: one JSON object each")
    func adminFlow() async throws {
        let database = try await TestDatabase.shared()
        let url = try await database.makeDatabase().conninfo

        let team = try json(try await admin(["create-team", "--name", "North", "--json"], database: url))
        let teamID = try #require(team["team_id"] as? String)
        #expect(UUID(uuidString: teamID) != nil && teamID == teamID.lowercased())

        let member = try json(
            try await admin(
                [
                    "create-member", "--team", teamID, "--name", "Dr. Rao", "--role", "psychiatrist", "--role",
                    "care_manager", "--json",
                ], database: url))
        let token = try #require(member["token"] as? String)
        #expect(token.hasPrefix("crt_"))
        #expect((member["roles"] as? [String]).map(Set.init) == ["psychiatrist", "care_manager"])

        let service = try json(
            try await admin(
                ["create-service-account", "--team", teamID, "--name", "EHR", "--scope", "events:read", "--json"],
                database: url))
        #expect((service["token"] as? String)?.hasPrefix("crt_") == true)

        let memberID = try #require(member["member_id"] as? String)
        let second = try json(
            try await admin(["create-token", "--member", memberID, "--days", "0", "--json"], database: url))
        let tokenID = try #require(second["token_id"] as? String)
        #expect(second["expires_at"] == nil)

        // The operator finds a member's tokens (never the tokens themselves) before revoking one.
        func tokens(_ arguments: [String]) async throws -> [[String: Any]] {
            let listed = try await admin(["tokens", "--json"] + arguments, database: url)
            #expect(listed.status == 0, "\(listed.output)")
            return try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
        }
        let raos = try await tokens(["--member", memberID])
        #expect(Set(raos.compactMap { $0["token_id"] as? String }).count == 2, "\(raos)")
        #expect(raos.allSatisfy { $0["state"] as? String == "active" && $0["member"] as? String == "Dr. Rao" })
        #expect(raos.contains { $0["prefix"] as? String == String(token.prefix(12)) })
        #expect(!raos.contains { ($0["prefix"] as? String)?.count != 12 }, "only a prefix is shown")
        #expect(try await tokens(["--team", teamID]).count == 3, "the team's member and its service account")

        let revoked = try json(try await admin(["revoke-token", "--token-id", tokenID, "--json"], database: url))
        #expect(revoked["revoked"] as? Bool == true && revoked["token_id"] as? String == tokenID)
        #expect(try await tokens(["--member", memberID]).count == 1)
        let everything = try await tokens(["--member", memberID, "--all"])
        #expect(
            everything.filter { $0["state"] as? String == "revoked" }.map { $0["token_id"] as? String } == [tokenID])
        let text = try await admin(["tokens", "--team", teamID], database: url)
        #expect(
            text.status == 0 && text.output.contains("Dr. Rao")
                && text.output.contains("EHR (service account), member "))
        #expect(!text.output.contains(token), "a token itself is never printed")

        // Someone leaving: every token of the member at once; the service account's stays.
        let leaving = try json(try await admin(["revoke-token", "--member", memberID, "--json"], database: url))
        #expect((leaving["token_ids"] as? [String])?.count == 1 && leaving["member_id"] as? String == memberID)
        #expect(try await tokens(["--member", memberID]).isEmpty)
        #expect(try await tokens(["--team", teamID]).count == 1)
        let again = try await admin(["revoke-token", "--member", memberID], database: url)
        #expect(again.status == 0 && again.output.contains("no token left"), "\(again.output)")
        let both = try await admin(["revoke-token", "--member", memberID, "--token-id", tokenID], database: url)
        #expect(both.status != 0, "one token or one member")
        // Taken off the team by the operator: no membership left.
        let off = try json(
            try await admin(["remove-member", "--team", teamID, "--member", memberID, "--json"], database: url))
        #expect(off["member_id"] as? String == memberID && (off["released_task_ids"] as? [String]) == [])
        let offAgain = try await admin(["remove-member", "--team", teamID, "--member", memberID], database: url)
        #expect(offAgain.status != 0 && offAgain.output.contains("not found"), "\(offAgain.output)")
        let nobody = try await admin(["revoke-token", "--member", UUID().uuidString, "--json"], database: url)
        #expect(nobody.status != 0 && nobody.output.contains("not found"), "\(nobody.output)")

        // Every team, for the operator who needs a team's id at night.
        let listed = try await admin(["teams", "--json"], database: url)
        let teams = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
        #expect(teams.count == 1, "\(listed.output)")
        #expect(teams.first?["team_id"] as? String == teamID && teams.first?["time_zone"] as? String == "UTC")
        // Dr. Rao was taken off above: the service account is left.
        #expect(teams.first?["members"] as? Int == 1 && teams.first?["patients"] as? Int == 0)
        let teamsText = try await admin(["teams"], database: url)
        #expect(teamsText.status == 0 && teamsText.output.contains("\(teamID)  North"), "\(teamsText.output)")

        // Bad input: one readable line and a non-zero exit, nothing half-made.
        let duplicate = try await admin(["create-team", "--name", "North", "--json"], database: url)
        #expect(duplicate.status != 0)
        #expect(
            duplicate.output.trimmingCharacters(in: .whitespacesAndNewlines)
                == "Error: a team named North already exists")
        let unknownTeam = try await admin(
            ["create-member", "--team", UUID().uuidString, "--name", "X", "--role", "psychologist", "--json"],
            database: url)
        #expect(unknownTeam.status != 0 && unknownTeam.output.contains("not found"))
        let pool = PQPool(configuration: PQConfiguration(url))
        let members = try await pool.query("SELECT count(*) FROM members").column(Int.self)
        #expect(members == [2])
        let raoTeams = try await pool.query(
            "SELECT count(*) FROM memberships WHERE member_id = \(UUID(uuidString: memberID)!)"
        ).column(Int.self)
        #expect(raoTeams == [0])
        // Back on the team, by the operator (a member moving teams keeps who they are).
        let back = try json(
            try await admin(
                ["set-roles", "--team", teamID, "--member", memberID, "--role", "psychologist", "--json"], database: url
            ))
        #expect(back["roles"] as? [String] == ["psychologist"], "\(back)")
        let rejoined = try await pool.query(
            "SELECT role FROM memberships WHERE member_id = \(UUID(uuidString: memberID)!)"
        ).column(String.self)
        #expect(rejoined == ["psychologist"])
        await pool.close()
    }
}

/// Issue 14, "retry-safe at the commit boundary": a write's answer commits with it.
@Suite("The commit boundary", .timeLimit(.minutes(3)))
struct CommitBoundaryTests {
    @Test("a write's answer is kept with its Idempotency-Key in the change's own transaction, and replayed as sent")
    func answerInTheSameTransaction() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.app().test(.router) { client in
                let first = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: clinic.tokens["psychologist"],
                    json: #"{"kind": "progress", "body": "Kept with its key"}"#, headers: [.idempotencyKey: "same-txn"])
                #expect(first.status == .created)
                let noteID = try #require(first.json["id"] as? String)
                // The key's row was last written by the transaction that wrote the note.
                let (keyWriter, noteWriter) = try await pool.query(
                    """
                    SELECT (SELECT xmin::text FROM idempotency_keys WHERE key = 'same-txn'), (SELECT xmin::text FROM
                        notes WHERE id = \(noteID)::uuid)
                    """)[0].decode(String.self, String.self)
                #expect(keyWriter == noteWriter)
                let replay = try await client.call(
                    .post, "/v1/patients/\(clinic.northPatient.lower)/notes", token: clinic.tokens["psychologist"],
                    json: #"{"kind": "progress", "body": "Kept with its key"}"#, headers: [.idempotencyKey: "same-txn"])
                #expect(
                    replay.status == .created && replay.body == first.body
                        && replay.headers[.idempotentReplayed] == "true")
                #expect(replay.headers[.location] == first.headers[.location])
            }
        }
    }

    @Test(
        """
        a server killed after COMMIT, its answer lost on the way: a retry with the same key on another server gets the \
        original answer at once
        """
    )
    func killedAfterCommit() async throws {
        let database = try await TestDatabase.shared()
        let configuration = try await database.makeDatabase()
        let first = try ServerProcessTests.RunningServer(databaseURL: configuration.conninfo)
        let firstPort = try await first.waitForPort()
        let pool = PQPool(
            configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 2),
            logger: testLogger())
        let store = CareStore(pool: pool, logger: testLogger())
        let team = try await store.createTeam(name: "Boundary", by: .system())
        let member = try await store.createMember(
            displayName: "Dr. Boundary", teamID: team, roles: [.psychiatrist], by: .system())
        let token = try await store.issueToken(memberID: member, expiresAt: nil, by: .system()).token
        let patient = try await store.createPatient(
            teamID: team, mrn: "B-1", displayName: "Bea", enrolledOn: Date(), by: .system())
        let path = "/v1/patients/\(patient.lowercasedString)/referrals"
        let body = #"{"kind": "tms", "target_clinic": "Riverside TMS"}"#

        // The proxy forwards the write and loses the answer; then the server dies.
        let proxy = FlakyProxy(upstream: firstPort, dropAnswers: 1)
        let proxyPort = try proxy.start()
        defer { proxy.stop() }
        do {
            _ = try await Self.post("http://127.0.0.1:\(proxyPort)\(path)", token: token, key: "kill-1", json: body)
            Issue.record("the proxy was to lose the answer")
        } catch {
            // The answer was lost on the way; the write reached the server.
        }
        #expect(
            try await pool.query("SELECT count(*) FROM referrals WHERE patient_id = \(patient)")[0].decode(
                Int.self, at: 0) == 1)
        kill(first.process.processIdentifier, SIGKILL)
        #expect(try await eventually { first.exited.withLock { $0 } != nil })

        let second = try ServerProcessTests.RunningServer(databaseURL: configuration.conninfo)
        let secondPort = try await second.waitForPort()
        let (status, headers, answer) = try await Self.post(
            "http://127.0.0.1:\(secondPort)\(path)", token: token, key: "kill-1", json: body)
        #expect(
            status == 201 && headers["Idempotent-Replayed"] == "true",
            "\(status) \(String(decoding: answer, as: UTF8.self))")
        let referral = try #require(
            (try JSONSerialization.jsonObject(with: answer) as? [String: Any])?["id"] as? String)
        let stored = try await pool.query("SELECT id FROM referrals WHERE patient_id = \(patient)").column(UUID.self)
        #expect(stored.map(\.lowercasedString) == [referral], "the write happened once, and the answer names it")
        #expect(
            try await pool.query("SELECT count(*) FROM handoffs WHERE patient_id = \(patient)")[0].decode(
                Int.self, at: 0) == 4)
        await pool.close()
        _ = try await second.terminate()
    }

    static func post(_ url: String, token: String, key: String, json: String) async throws -> (
        Int, HTTP.Headers, Data
    ) {
        let answer = try await HTTP.send("POST", url, token: token, json: json, key: key)
        return (answer.status, answer.headers, answer.data)
    }
}

/// A process id that a receiver's handler reads (0 until it is set).
final class ProcessID: Sendable {
    let value = Atomic<Int32>(0)
}
