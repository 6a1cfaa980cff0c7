import CareDomain
import CareStore
import Foundation
import LocalPostgres
import PQ
import Synchronization
import Testing
import TestSupport

/// The real `care` binary against a live `care-server` (the real binary too) on a test database.
@Suite("The care CLI end to end", .timeLimit(.minutes(5)))
struct CLITests {
    static var care: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("care").path
    }

    struct Run {
        var status: Int32
        var output: String
        var errors: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(output.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
    }

    /// A care-server on a fresh test database, a team with a psychiatrist, a psychologist and a
    /// social worker, and a patient.
    struct Clinic {
        let url: String
        let pool: PQPool
        let store: CareStore
        let server: ServerProcessTests.RunningServer
        let config: String
        var tokens: [String: String] = [:]
        var patient: UUID

        static func start() async throws -> Clinic {
            let database = try await TestDatabase.shared()
            let configuration = try await database.makeDatabase()
            let server = try ServerProcessTests.RunningServer(databaseURL: configuration.conninfo)
            let port = try await server.waitForPort()
            let pool = PQPool(
                configuration: configuration, options: .init(minimumConnections: 0, maximumConnections: 2),
                logger: testLogger())
            let store = CareStore(pool: pool, logger: testLogger())
            let team = try await store.createTeam(name: "CLI team", by: .system())
            var tokens: [String: String] = [:]
            for (name, role) in [
                ("psychiatrist", Role.psychiatrist), ("psychologist", .psychologist), ("socialWorker", .socialWorker),
            ] {
                let member = try await store.createMember(
                    displayName: "CLI \(name)", teamID: team, roles: [role], by: .system())
                tokens[name] = try await store.issueToken(memberID: member, expiresAt: nil, by: .system()).token
            }
            let patient = try await store.createPatient(
                teamID: team, mrn: "CLI-1", displayName: "Casey Lind",
                enrolledOn: Date().addingTimeInterval(-130 * 86_400), by: .system())
            let config = FileManager.default.temporaryDirectory.path + "/care-cli-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            return Clinic(
                url: "http://127.0.0.1:\(port)", pool: pool, store: store, server: server, config: config,
                tokens: tokens, patient: patient)
        }

        /// Puts the fixture patient's team in `zone`; its id.
        @discardableResult
        func setPatientTeamZone(_ zone: String) async throws -> UUID {
            let team = try await pool.query("SELECT team_id FROM patients WHERE id = \(patient)")[0]
                .decode(UUID.self, at: 0)
            _ = try await store.setTimeZone(teamID: team, zone, by: .system())
            return team
        }

        func stop() async throws {
            await pool.close()
            _ = try await server.terminate()
            try? FileManager.default.removeItem(atPath: config)
        }

        /// Runs `care` as `who` (CARE_SERVER and CARE_TOKEN), or with `environment` as given.
        func care(
            _ arguments: [String], as who: String? = nil, stdin: String? = nil,
            environment extra: [String: String] = [:]
        ) async throws -> Run {
            var environment = ProcessInfo.processInfo.environment
            environment["XDG_CONFIG_HOME"] = config
            environment["NO_COLOR"] = "1"
            environment["CARE_SERVER"] = nil
            environment["CARE_TOKEN"] = nil
            environment["COLUMNS"] = nil  // tables uncut unless a test asks
            if let who {
                environment["CARE_SERVER"] = url
                environment["CARE_TOKEN"] = tokens[who]
            }
            for (key, value) in extra { environment[key] = value }
            return try await CLITests.run(CLITests.care, arguments, environment: environment, stdin: stdin)
        }
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String], stdin: String?)
        async throws -> Run
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let output = Pipe(), errors = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        let writer = input.fileHandleForWriting
        if let stdin { writer.write(Data(stdin.utf8)) }
        try writer.close()
        let (out, err) = (output.fileHandleForReading, errors.fileHandleForReading)
        async let outData = LocalPostgres.offload { out.readDataToEndOfFile() }
        async let errData = LocalPostgres.offload { err.readDataToEndOfFile() }
        let (o, e) = try await (outData, errData)
        try await LocalPostgres.offload { process.waitUntilExit() }
        return Run(
            status: process.terminationStatus, output: String(decoding: o, as: UTF8.self),
            errors: String(decoding: e, as: UTF8.self))
    }

    @Test(
        """
        a failed trial: the psychologist and social worker see the handoffs in care queue, acknowledge and complete \
        them; a TMS referral
        """
    )
    func workingDay() async throws {
        let clinic = try await Clinic.start()
        do {
            let patient = clinic.patient.uuidString.lowercased()
            let baseline = try await clinic.care(
                ["score", "add", patient, "--phq9", "2,2,2,2,2,2,2,2,0"], as: "psychiatrist")
            #expect(baseline.status == 0, "\(baseline.errors)")
            let started = try await clinic.care(
                ["trial", "start", patient, "--drug", "sertraline", "--dose", "100", "--start=-120d"],
                as: "psychiatrist")
            #expect(started.status == 0, "\(started.errors)")
            let trial = try #require(started.output.firstMatch(of: /trial ([0-9a-f-]{36})\./)?.1).description
            #expect(started.output.hasPrefix("Started sertraline 100 mg a day for "), "\(started.output)")
            // The same drug again while it runs: refused, naming the running trial by the id care takes.
            let twice = try await clinic.care(
                ["trial", "start", patient, "--drug", "sertraline", "--dose", "150", "--start=-100d"],
                as: "psychiatrist")
            #expect(
                twice.status == 4 && twice.errors.contains("is still running")
                    && twice.errors.contains("(the open one: trial \(trial.prefix(8)))"),
                "\(twice.errors)")
            // Titrated up instead; the list shows the dose now.
            let titrated = try await clinic.care(["trial", "dose", trial, "150", "--from=-60d"], as: "psychiatrist")
            #expect(
                titrated.status == 0 && titrated.output.hasPrefix("sertraline: 100 mg from ")
                    && titrated.output.contains(", then 150 mg from ") && titrated.output.contains("Adequate: yes"),
                "\(titrated.output)\(titrated.errors)")
            let listed = try await clinic.care(["trial", "list", patient], as: "psychiatrist")
            #expect(listed.output.contains("sertraline 150 mg"), "\(listed.output)")
            let notMine = try await clinic.care(["trial", "dose", trial, "200"], as: "psychologist")
            #expect(notMine.status == 3, "\(notMine.errors)")
            let outcome = try await clinic.care(
                ["trial", "outcome", trial, "--result", "non-response", "--adherence", "0.9"], as: "psychiatrist")
            #expect(outcome.status == 0, "\(outcome.errors)")
            #expect(
                outcome.output.contains("counts as failed") && outcome.output.contains("handoffs went to the team"),
                "\(outcome.output)")

            for who in ["psychologist", "socialWorker"] {
                let queue = try await clinic.care(["queue", "--json"], as: who)
                #expect(queue.status == 0, "\(queue.errors)")
                let handoff = try #require(
                    queue.array.first { $0["kind"] as? String == "handoff" }, "\(who): \(queue.output)")
                #expect(handoff["patient"] as? String == "Casey Lind")
                let table = try await clinic.care(["queue"], as: who)
                #expect(
                    table.output.contains("handoff") && table.output.contains("Casey Lind")
                        && table.output.contains("due in"), "\(table.output)")

                let id = try #require(handoff["id"] as? String)
                let task = try #require(handoff["task_id"] as? String)
                #expect(try await clinic.care(["handoff", "ack", id], as: who).status == 0)
                let again = try await clinic.care(["handoff", "ack", id], as: who)
                #expect(again.status == 4, "already acknowledged is a conflict: \(again.errors)")
                #expect(again.errors.split(separator: "\n").count == 1)
                #expect(try await clinic.care(["task", "claim", task], as: who).status == 0)
                let moved = try await clinic.care(["task", "start", task, "--note", "Left a voicemail"], as: who)
                #expect(moved.status == 0, "\(moved.errors)")
                let done = try await clinic.care(["task", "done", task, "--note", "Discussed at the session"], as: who)
                #expect(done.status == 0 && done.output.hasPrefix("Completed "), "\(done.output)\(done.errors)")
                let after = try await clinic.care(["queue", "--json"], as: who)
                #expect(!after.array.contains { $0["task_id"] as? String == task })
                // What was written with the moves is kept: the evidence on the task, each note in the history.
                let shown = try await clinic.care(["task", "show", task], as: who)
                #expect(shown.output.contains("done: Discussed at the session"), "\(shown.output)")
                // A handoff's task names the playbook step that made it.
                #expect(
                    shown.output.contains(
                        who == "psychologist"
                            ? "playbook step: trial-failed.psychotherapy-review"
                            : "playbook step: trial-failed.barriers"),
                    "\(shown.output)")
                let history = try await clinic.care(["patient", "timeline", patient], as: who)
                #expect(
                    history.output.contains("Task started: Left a voicemail")
                        && history.output.contains("Task done: Discussed at the session"), "\(history.output)")
            }

            let referral = try await clinic.care(
                ["refer", patient, "tms", "--to", "Riverside TMS Centre", "--note", "Two adequate trials failed"],
                as: "psychiatrist")
            #expect(referral.status == 0, "\(referral.errors)")
            let referralID = try #require(referral.output.firstMatch(of: /referral ([0-9a-f-]{36})/)?.1).description
            let skipped = try await clinic.care(["referral", "status", referralID, "scheduled"], as: "psychiatrist")
            #expect(skipped.status == 4, "requested cannot jump to scheduled: \(skipped.errors)")
            #expect(
                try await clinic.care(["referral", "status", referralID, "accepted"], as: "psychiatrist").status == 0)
            #expect(
                try await clinic.care(["referral", "status", referralID, "scheduled"], as: "psychiatrist").status == 0)
            let summary = try await clinic.care(["patient", "show", patient, "--json"], as: "psychiatrist")
            #expect(summary.status == 0)
            #expect((summary.object["referrals"] as? [[String: Any]])?.first?["status"] as? String == "scheduled")
            #expect((summary.object["trials"] as? [[String: Any]])?.first?["is_failed"] as? Bool == true)
            let shown = try await clinic.care(["patient", "show", patient], as: "psychiatrist")
            #expect(
                shown.output.contains("Casey Lind") && shown.output.contains("PHQ-9") && shown.output.contains("TMS"),
                "\(shown.output)")
            // A failed trial: what the TRD rules weighed is listed under the line.
            #expect(shown.output.contains("TRD rule: failed adequate trials: 1; classes: "), "\(shown.output)")
            // Thase-Rush's inputs on a line of their own, the classes not said twice.
            #expect(
                shown.output.contains("Thase-Rush: tricyclic failed: no") && !shown.output.contains("classes failed"),
                "\(shown.output)")
            // Each open handoff says what to do (its task's title) and why (its cause).
            let handoffs = try #require(summary.object["open_handoffs"] as? [[String: Any]])
            let titles = (summary.object["open_tasks"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
                $0[$1["id"] as? String ?? ""] = $1["title"] as? String
            }
            #expect(!handoffs.isEmpty)
            for handoff in handoffs {
                let title = try #require(titles[handoff["task_id"] as? String ?? ""])
                let reason = try #require(handoff["reason"] as? String)
                #expect(shown.output.contains("\(title) — \(reason)"), "\(shown.output)")
            }
            // A psychologist cannot make a TMS referral: one line, exit 3 (not allowed).
            let refused = try await clinic.care(["refer", patient, "ect", "--to", "Anywhere"], as: "psychologist")
            #expect(refused.status == 3)
            #expect(
                refused.errors.split(separator: "\n").count == 1 && refused.errors.contains("psychiatrists"),
                "\(refused.errors)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        names as people use them: a patient by part of the name, the MRN or an id's start; several matches are listed \
        (exit 2), none is exit 3; records by the 8 characters tables show
        """
    )
    func names() async throws {
        let clinic = try await Clinic.start()
        do {
            // Two more patients whose names share "Lin" with Casey Lind.
            let team = try await clinic.store.patients(by: .system()).items[0].teamID
            let enrolled = Date().addingTimeInterval(-60 * 86_400)
            let linda = try await clinic.store.createPatient(
                teamID: team, mrn: "CLI-2", displayName: "Linda Park", enrolledOn: enrolled, by: .system())
            _ = try await clinic.store.createPatient(
                teamID: team, mrn: "CLI-3", displayName: "Lin Ortiz", enrolledOn: enrolled, by: .system())
            let casey = clinic.patient.uuidString.lowercased()

            for name in ["casey", "Lind", "cli-1", String(casey.prefix(8)), casey] {
                let shown = try await clinic.care(["patient", "show", name, "--json"], as: "psychiatrist")
                #expect(shown.status == 0 && shown.object["id"] as? String == casey, "\(name): \(shown.errors)")
            }
            // "lin" is part of three names, but a whole word of one only.
            for name in ["lin ortiz", "lin"] {
                let exact = try await clinic.care(["patient", "show", name, "--json"], as: "psychiatrist")
                #expect(exact.object["display_name"] as? String == "Lin Ortiz", "\(name): \(exact.errors)")
            }
            // No failed trial: the TRD line says it, without the rules' inputs under it.
            let fresh = try await clinic.care(["patient", "show", "Lin Ortiz"], as: "psychiatrist")
            #expect(fresh.status == 0 && fresh.output.contains("TRD: no"), "\(fresh.output)")
            #expect(!fresh.output.contains("failed adequate trials:"), "\(fresh.output)")
            let several = try await clinic.care(["patient", "show", "li"], as: "psychiatrist")
            #expect(several.status == 2, "\(several.status) \(several.errors)")
            #expect(
                several.errors.split(separator: "\n").count == 1 && several.errors.contains("matches 3 patients")
                    && several.errors.contains("Linda Park (MRN CLI-2, \(linda.uuidString.lowercased().prefix(8)))"),
                "\(several.errors)")
            // Completion asks the server: the words of the caller's patients' names, and MRNs.
            let completed = try await clinic.care(
                ["---completion", "patient", "show", "--", "positional@0", "3", "2", "care", "patient", "show", "li"],
                as: "psychiatrist")
            #expect(completed.status == 0, "\(completed.errors)")
            #expect(
                Set(completed.output.split(separator: "\n").map(String.init)).isSuperset(of: ["Lind", "Linda", "Lin"]),
                "\(completed.output)")
            let nobody = try await clinic.care(["patient", "show", "Zebedee"], as: "psychiatrist")
            #expect(nobody.status == 3 && nobody.errors.contains("no patient of your teams matches 'Zebedee'"))
            // `care patient NAME` is `care patient show NAME`, even for a name near a command
            // ('Ada' is one letter from 'add'); a mistyped command with its own arguments is
            // still named, and `care patient` alone is its help.
            let bare = try await clinic.care(["patient", "Lin Ortiz"], as: "psychiatrist")
            #expect(bare.status == 0 && bare.output == fresh.output, "\(bare.errors)")
            let nearAdd = try await clinic.care(["patient", "Ada"], as: "psychiatrist")
            #expect(nearAdd.status == 3 && nearAdd.errors.contains("no patient of your teams matches 'Ada'"))
            let mistyped = try await clinic.care(["patient", "timelin", "Lin Ortiz"], as: "psychiatrist")
            #expect(mistyped.status == 64 && mistyped.errors.contains("did you mean 'timeline'?"), "\(mistyped.errors)")
            let group = try await clinic.care(["patient"], as: "psychiatrist")
            #expect(group.status == 0 && group.output.contains("care patient PATIENT is care patient show PATIENT"))

            // Writes take names too; the tables show 8 characters, which name the record.
            #expect(
                try await clinic.care(["score", "add", "Casey", "--phq9", "2,2,2,2,2,2,2,2,0"], as: "psychiatrist")
                    .status == 0)
            let started = try await clinic.care(
                ["trial", "start", "CLI-1", "--drug", "sertraline", "--dose", "100", "--start=-120d"],
                as: "psychiatrist")
            let trial = try #require(started.output.firstMatch(of: /trial ([0-9a-f-]{36})\./)?.1).description
            let outcome = try await clinic.care(
                ["trial", "outcome", String(trial.prefix(8)), "--result", "NON-RESPONSE", "--adherence", "0.9"],
                as: "psychiatrist")
            #expect(outcome.status == 0, "\(outcome.errors)")
            let table = try await clinic.care(["queue"], as: "psychologist")
            let short = try #require(
                table.output.split(separator: "\n").first { $0.contains("handoff") }?.split(separator: " ").first,
                "\(table.output)")
            #expect(short.count == 8, "\(table.output)")
            #expect(!table.output.contains(trial), "full ids only with --wide")
            let acknowledged = try await clinic.care(["handoff", "ack", String(short)], as: "psychologist")
            #expect(acknowledged.status == 0, "\(acknowledged.errors)")
            let wide = try await clinic.care(["queue", "--wide"], as: "psychologist")
            #expect(
                wide.output.contains(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/), "\(wide.output)")
            // Not an id at all, and an id nothing of theirs starts with.
            let notAnID = try await clinic.care(["task", "claim", "call-back"], as: "psychologist")
            #expect(notAnID.status == 64 && notAnID.errors.contains("is not a task id"), "\(notAnID.errors)")
            let unknown = try await clinic.care(["task", "claim", "0000dead"], as: "psychologist")
            #expect(unknown.status == 3 && unknown.errors.contains("no task of your teams"), "\(unknown.errors)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        the daily verbs: enrol, list handoffs, take one in one step, show a task and why, list tasks, trials and \
        referrals, the timeline in words, discharge
        """
    )
    func dailyVerbs() async throws {
        let clinic = try await Clinic.start()
        do {
            let enrolled = try await clinic.care(
                ["patient", "add", "--name", "Frances Okafor", "--mrn", "CLI-9", "--enrolled=-130d"], as: "psychiatrist"
            )
            #expect(enrolled.status == 0 && enrolled.output.contains("Enrolled Frances Okafor"), "\(enrolled.errors)")
            #expect(
                try await clinic.care(["score", "add", "Okafor", "--phq9", "2,2,2,2,2,2,2,2,0"], as: "psychiatrist")
                    .status == 0)
            let started = try await clinic.care(
                ["trial", "start", "Frances", "--drug", "venlafaxine", "--dose", "150", "--start=-100d"],
                as: "psychiatrist")
            let trial = try #require(started.output.firstMatch(of: /trial ([0-9a-f-]{36})\./)?.1).description
            #expect(
                try await clinic.care(
                    ["trial", "outcome", String(trial.prefix(8)), "--result", "non-response", "--adherence", "0.9"],
                    as: "psychiatrist"
                ).status == 0)
            #expect(
                try await clinic.care(["refer", "CLI-9", "TMS", "--to", "Riverside TMS"], as: "psychiatrist").status
                    == 0)

            let waiting = try await clinic.care(["handoff", "list"], as: "socialWorker")
            #expect(waiting.status == 0, "\(waiting.errors)")
            #expect(
                waiting.output.contains("Frances Okafor")
                    && waiting.output.contains("Failed trial: venlafaxine, non-response after"),
                "\(waiting.output)")
            #expect(!waiting.output.contains("trial.failed") && !waiting.output.contains("="), "\(waiting.output)")
            let handoff = try #require(
                waiting.output.split(separator: "\n").first { $0.contains("Failed trial") }?.split(separator: " ")
                    .first, "\(waiting.output)")
            // On a narrow terminal the rows are cut, never wrapped.
            let narrow = try await clinic.care(["handoff", "list"], as: "socialWorker", environment: ["COLUMNS": "72"])
            let rows = narrow.output.split(separator: "\n")
            #expect(rows.count == waiting.output.split(separator: "\n").count, "\(narrow.output)")
            #expect(rows.allSatisfy { $0.count <= 72 } && narrow.output.contains("…"), "\(narrow.output)")
            let list = try await clinic.care(["patients", "--search", "Okafor"], as: "psychiatrist")
            #expect(
                list.output.contains("Frances Okafor") && list.output.contains("16 moderately severe")
                    && list.output.contains("just now"), "\(list.output)")
            let listed = try await clinic.care(["patients", "--search", "Okafor", "--json"], as: "psychiatrist")
            #expect(listed.array.first?["open_items"] as? Int ?? 0 >= 7, "\(listed.output)")
            #expect((listed.array.first?["latest_phq9"] as? [String: Any])?["total"] as? Int == 16)
            let taken = try await clinic.care(["handoff", "take", String(handoff)], as: "socialWorker")
            #expect(taken.status == 0 && taken.output.contains("accepted"), "\(taken.output)\(taken.errors)")
            let shown = try await clinic.care(["task", "show", String(handoff)], as: "socialWorker")
            #expect(
                shown.output.contains("because: Failed trial: venlafaxine")
                    && shown.output.contains("status: accepted"),
                "\(shown.output)\(shown.errors)")
            // `care task ID` is `care task show ID`; a word that cannot start an id is a mistyped command.
            let bare = try await clinic.care(["task", String(handoff)], as: "socialWorker")
            #expect(bare.status == 0 && bare.output == shown.output, "\(bare.errors)")
            let mistyped = try await clinic.care(["task", "ad"], as: "socialWorker")
            #expect(mistyped.status == 64 && mistyped.errors.contains("did you mean 'add'?"), "\(mistyped.errors)")
            let mine = try await clinic.care(["task", "list"], as: "socialWorker")
            #expect(mine.output.contains(String(handoff)), "\(mine.output)")
            // Several at once (the TMS referral's two): every name is resolved first, so one that matches
            // nothing moves none; then each is taken, and done, in turn.
            let referralHandoffs = waiting.output.split(separator: "\n").filter { $0.contains("TMS referral") }
                .compactMap { $0.split(separator: " ").first.map(String.init) }
            #expect(referralHandoffs.count == 2, "\(waiting.output)")
            let unknown = try await clinic.care(["handoff", "take", "ffff0000"] + referralHandoffs, as: "socialWorker")
            #expect(unknown.status == 3 && unknown.output.isEmpty, "\(unknown.output)\(unknown.errors)")
            let stillWaiting = try await clinic.care(["handoff", "list"], as: "socialWorker")
            #expect(referralHandoffs.allSatisfy { stillWaiting.output.contains($0) }, "\(stillWaiting.output)")
            let both = try await clinic.care(["handoff", "take"] + referralHandoffs, as: "socialWorker")
            #expect(
                both.status == 0 && both.output.components(separatedBy: "Took it:").count == 3,
                "\(both.output)\(both.errors)")
            let bothDone = try await clinic.care(
                ["task", "done"] + referralHandoffs + ["--note", "Authorisation filed; transport booked"],
                as: "socialWorker")
            #expect(
                bothDone.status == 0 && bothDone.output.components(separatedBy: "Completed ").count == 3
                    && !bothDone.output.contains("(completed)"),
                "\(bothDone.output)\(bothDone.errors)")
            let theirs = try await clinic.care(["task", "list", "Frances"], as: "psychiatrist")
            #expect(theirs.output.contains("Frances Okafor"), "\(theirs.output)")
            let trials = try await clinic.care(["trial", "list", "Frances"], as: "psychiatrist")
            #expect(trials.output.contains("venlafaxine") && trials.output.contains("non-response"), "\(trials.output)")
            let referrals = try await clinic.care(["referral", "list", "Frances"], as: "psychiatrist")
            #expect(referrals.output.contains("Riverside TMS") && referrals.output.contains("requested"))

            let timeline = try await clinic.care(["patient", "timeline", "Frances"], as: "psychologist")
            #expect(timeline.status == 0, "\(timeline.errors)")
            for words in [
                "CLI psychiatrist (psychiatrist)", "Score: PHQ-9 16", "Trial started: venlafaxine",
                "Trial outcome: venlafaxine, non-response", "Failed trial: venlafaxine",
                "Referral: TMS to Riverside TMS",
                "Handoff acknowledged", "CLI socialWorker (social worker)", "Enrolled",
                "Handoff to the psychologist: Review psychotherapy",
            ] {
                #expect(timeline.output.contains(words), "\(words): \(timeline.output)")
            }
            #expect(!timeline.output.contains("trial.failed") && !timeline.output.contains("_id"), "\(timeline.output)")

            let discharged = try await clinic.care(["patient", "discharge", "Frances"], as: "psychiatrist")
            #expect(
                discharged.status == 0 && discharged.output.contains("Discharged Frances Okafor")
                    && discharged.output.contains("were closed"), "\(discharged.output)\(discharged.errors)")
            let after = try await clinic.care(["handoff", "list", "--json"], as: "psychologist")
            #expect(after.array.isEmpty, "\(after.output)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        mistakes answered kindly: unknown commands and options named first with the nearest, values in any case, days \
        by name, a past due time noted, the dose table's suggestion, profiles, a refused token, a URL that is not a \
        care-server
        """
    )
    func kindMistakes() async throws {
        let clinic = try await Clinic.start()
        do {
            func oneLine(_ run: Run, _ code: Int32, _ words: String..., line: Int = #line) {
                #expect(run.status == code, "line \(line): \(run.status) \(run.errors)")
                #expect(
                    run.errors.split(separator: "\n").count == 1 && run.errors.hasPrefix("care: ")
                        && words.allSatisfy { run.errors.contains($0) }, "line \(line): \(run.errors)")
            }
            oneLine(try await clinic.care(["qeue"], as: "psychiatrist"), 64, "did you mean 'queue'?")
            oneLine(try await clinic.care(["task", "ad", "Casey", "t"], as: "psychiatrist"), 64, "did you mean 'add'?")
            // The unknown option is named before the command's own checks (--for or --mine).
            oneLine(
                try await clinic.care(["task", "add", "Casey", "t", "--fro", "psychologist"], as: "psychiatrist"), 64,
                "unknown option '--fro'", "did you mean '--for'?", "care task add --help")
            oneLine(
                try await clinic.care(["handoff", "reassign", "1234abcd", "--to", "psychologist"], as: "psychiatrist"),
                64, "--reason", "care handoff reassign --help")
            oneLine(try await clinic.care(["refer", "Casey", "TSM", "--to", "X"], as: "psychiatrist"), 64, "'tms'")
            oneLine(
                try await clinic.care(
                    ["trial", "start", "Casey", "--drug", "sertralin", "--dose", "100", "--start", "monday"],
                    as: "psychiatrist"), 2, "sertraline")
            let past = try await clinic.care(
                ["task", "add", "Casey", "Call back", "--for", "SOCIAL-WORKER", "--due", "2026-01-05"],
                as: "psychiatrist")
            #expect(past.status == 0 && past.errors.contains("already past"), "\(past.errors)")
            let yesterday = try await clinic.care(
                ["task", "add", "Casey", "Called back", "--for", "psychologist", "--due", "yesterday"],
                as: "psychiatrist")
            #expect(yesterday.status == 0 && yesterday.errors.contains("already past"), "\(yesterday.errors)")
            let friday = try await clinic.care(
                ["task", "add", "Casey", "Call back", "--for", "psychologist", "--due", "fri"], as: "psychiatrist")
            #expect(friday.status == 0 && friday.errors.isEmpty, "\(friday.errors)")
            oneLine(try await clinic.care(["queue", "--timeout", "0"], as: "psychiatrist"), 64, "--timeout")
            // A date that must be past or today, given as a time to come.
            oneLine(
                try await clinic.care(
                    ["trial", "start", "Casey", "--therapy", "CBT", "--start", "tomorrow"], as: "psychologist"), 64,
                "'tomorrow' is in the future", "today or earlier")

            // Profiles: the first one logged in is used from then on; care profile list|use.
            let login = try await clinic.care(
                ["login", "--server", clinic.url, "--profile", "clinic"], stdin: clinic.tokens["psychologist"]! + "\n")
            #expect(login.status == 0, "\(login.errors)")
            let whoami = try await clinic.care(["whoami", "--json"])
            #expect(whoami.object["display_name"] as? String == "CLI psychologist", "\(whoami.errors)")
            let second = try await clinic.care(
                ["login", "--server", clinic.url, "--profile", "home"], stdin: clinic.tokens["socialWorker"]! + "\n")
            #expect(second.status == 0)
            let listed = try await clinic.care(["profile", "list"])
            #expect(listed.output.contains("*  clinic") && listed.output.contains("home"), "\(listed.output)")
            oneLine(try await clinic.care(["profile", "use", "hom"]), 64, "did you mean 'home'?")
            #expect(try await clinic.care(["profile", "use", "home"]).output.contains("Using profile home"))
            #expect(
                try await clinic.care(["whoami", "--json"]).object["display_name"] as? String == "CLI socialWorker")
            oneLine(try await clinic.care(["queue", "--profile", "clinc"]), 6, "no profile 'clinc'", "'clinic'")

            // A refused token says to log in again.
            oneLine(
                try await clinic.care(
                    ["queue"],
                    environment: ["CARE_SERVER": clinic.url, "CARE_TOKEN": "crt_" + String(repeating: "Q", count: 43)]),
                6, "care login")
            // A URL that answers, but not as a care-server.
            let directory = clinic.config + "/www"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let web = Process()
            web.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            web.arguments = ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory]
            let announced = Pipe()
            web.standardOutput = announced
            web.standardError = FileHandle.nullDevice
            try web.run()
            defer { web.terminate() }
            let banner = try await LocalPostgres.offload { announced.fileHandleForReading.availableData }
            let port = try #require(String(decoding: banner, as: UTF8.self).firstMatch(of: /port (\d+)/)?.1)
            oneLine(
                try await clinic.care(
                    ["queue"],
                    environment: [
                        "CARE_SERVER": "http://127.0.0.1:\(port)", "CARE_TOKEN": clinic.tokens["psychologist"]!,
                    ]),
                1, "does not answer as a care-server", "text/html")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        care today: what others did on my patients since I last looked, safety signals first, remembered per profile; \
        --since looks back
        """
    )
    func today() async throws {
        let clinic = try await Clinic.start()
        do {
            let login = try await clinic.care(
                ["login", "--server", clinic.url], stdin: clinic.tokens["psychologist"]! + "\n")
            #expect(login.status == 0, "\(login.errors)")
            #expect(
                try await clinic.care(["note", "add", "Casey", "--kind", "progress"], stdin: "Mine: not news to me.\n")
                    .status == 0)
            #expect(
                try await clinic.care(["score", "add", "Casey", "--phq9", "2,2,2,2,2,2,2,2,1"], as: "psychiatrist")
                    .status
                    == 0)
            #expect(
                try await clinic.care(
                    ["note", "add", "Casey", "--kind", "social"], as: "socialWorker", stdin: "Housing sorted.\n"
                ).status == 0)
            #expect(
                try await clinic.care(["refer", "Casey", "tms", "--to", "Riverside TMS"], as: "psychiatrist").status
                    == 0)

            // A score recorded today for last week says when it was taken.
            let psychiatrist = try await clinic.pool.query(
                "SELECT id FROM members WHERE display_name = 'CLI psychiatrist'")[0].decode(UUID.self, at: 0)
            let lastWeek = Date().addingTimeInterval(-8 * 86_400)
            _ = try await clinic.store.recordMeasurement(
                patientID: clinic.patient, score: try Score(.phq9, total: 11), takenAt: lastWeek,
                by: .system(actingFor: psychiatrist))

            // The patients list flags a latest PHQ-9 whose item 9 is above 0 (the one recorded above,
            // taken now, is the latest; the one taken last week is older).
            let patients = try await clinic.care(["patients"])
            #expect(
                patients.output.split(separator: "\n").first { $0.contains("Casey Lind") }?.contains("item 9 above 0")
                    == true, "\(patients.output)")
            let listed = try await clinic.care(["patients", "--json"])
            let casey = listed.array.first { $0["display_name"] as? String == "Casey Lind" }
            #expect((casey?["latest_phq9"] as? [String: Any])?["safety_signal"] as? Bool == true, "\(listed.output)")

            // A trial started and titrated is news; one started and marked entered in error is not.
            let started = try await clinic.care(
                ["trial", "start", "Casey", "--drug", "sertraline", "--dose", "50", "--start=-14d"], as: "psychiatrist")
            let trial = try #require(started.output.firstMatch(of: /trial ([0-9a-f-]{36})\./)?.1).description
            #expect(
                try await clinic.care(["trial", "dose", trial, "100", "--from=-7d"], as: "psychiatrist").status == 0)
            let mistaken = try await clinic.care(
                ["trial", "start", "Casey", "--drug", "mirtazapine", "--dose", "15"], as: "psychiatrist")
            let wrong = try #require(mistaken.output.firstMatch(of: /trial ([0-9a-f-]{36})\./)?.1).description
            #expect(
                try await clinic.care(
                    ["entered-in-error", "trial", wrong, "--reason", "Wrong patient"], as: "psychiatrist"
                ).status == 0)

            let first = try await clinic.care(["today"])
            #expect(first.status == 0, "\(first.errors)")
            #expect(
                first.output.contains("Trial started: sertraline 50 mg a day")
                    && first.output.contains("Dose changed: sertraline to 100 mg a day")
                    && !first.output.contains("mirtazapine"), "\(first.output)")
            #expect(
                first.output.contains(
                    "Score: PHQ-9 11 (moderate), taken \(DayText.format(DayText.startOfDay(lastWeek)))"),
                "\(first.output)")
            let lines = first.output.split(separator: "\n").map(String.init)
            // The safety signal first (the urgent assessment it made for me, then the score), then the newest.
            #expect(
                lines.count >= 5 && lines[2].contains("For the psychologist: Urgent safety assessment")
                    && lines[3].contains("item 9 above 0: a safety signal"), "\(first.output)")
            for words in [
                "Casey Lind", "CLI psychiatrist", "Score: PHQ-9 17 (moderately severe)", "Social note: Housing sorted.",
                "Referral: TMS referral to Riverside TMS",
                // A handoff says what to do, then why.
                "For the psychologist: TMS education and continued therapy during the course — Referral: TMS referral",
            ] {
                #expect(first.output.contains(words), "\(words): \(first.output)")
            }
            #expect(!first.output.contains("not news to me"), "my own note is not news to me")
            let json = try await clinic.care(["inbox", "--json", "--since", "yesterday"])
            #expect(
                json.array.prefix(2).compactMap { $0["kind"] as? String } == ["handoff", "safety"]
                    && json.array.prefix(2).allSatisfy { $0["safety_signal"] as? Bool == true }, "\(json.output)")
            let again = try await clinic.care(["today"])
            #expect(
                again.output.contains("nothing new") && again.output.contains("when you last looked"), "\(again.output)"
            )
            let back = try await clinic.care(["today", "--since", "yesterday"])
            #expect(back.output.contains("Housing sorted."), "\(back.output)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        "handoffs belong to their role; a cancelled referral closes its handoffs; corrections and reasons from the CLI")
    func lifecycle() async throws {
        let clinic = try await Clinic.start()
        do {
            let patient = clinic.patient.uuidString.lowercased()
            let referral = try await clinic.care(
                ["refer", patient, "tms", "--to", "Riverside TMS Centre"], as: "psychiatrist")
            #expect(referral.status == 0, "\(referral.errors)")
            let referralID = try #require(referral.output.firstMatch(of: /referral ([0-9a-f-]{36})/)?.1).description
            let authorisation = try await clinic.pool.query(
                """
                SELECT id FROM handoffs WHERE step_key = 'tms.prior-authorisation' AND patient_id = \(clinic.patient)
                """)[0].decode(UUID.self, at: 0).uuidString.lowercased()
            // Another role: refused in one line, exit 3 (not allowed), saying whose it is.
            let refused = try await clinic.care(["handoff", "ack", authorisation], as: "psychologist")
            #expect(refused.status == 3 && refused.errors.split(separator: "\n").count == 1, "\(refused.errors)")
            #expect(
                refused.errors.contains("only a social worker of the team or the care manager"), "\(refused.errors)")
            let acknowledged = try await clinic.care(["handoff", "ack", authorisation], as: "socialWorker")
            #expect(
                acknowledged.status == 0
                    && acknowledged.output.hasPrefix("Acknowledged: Insurance prior authorisation"),
                "\(acknowledged.output)")
            // The transport handoff goes to the psychologist, with a reason.
            let transport = try await clinic.pool.query(
                """
                SELECT id FROM handoffs WHERE step_key = 'tms.transport' AND patient_id = \(clinic.patient)
                """)[0].decode(UUID.self, at: 0).uuidString.lowercased()
            let noReason = try await clinic.care(
                ["handoff", "reassign", transport, "--to", "psychologist"], as: "socialWorker")
            #expect(noReason.status == 64, "\(noReason.errors)")
            let moved = try await clinic.care(
                ["handoff", "reassign", transport, "--to", "psychologist", "--reason", "She drives past the clinic"],
                as: "socialWorker")
            #expect(moved.status == 0 && moved.output.contains("psychologist"), "\(moved.output)\(moved.errors)")
            // A second TMS referral needs a reason (exit 4, a conflict); cancelling the first closes its open handoffs.
            let second = try await clinic.care(["refer", patient, "tms", "--to", "Hilltop TMS"], as: "psychiatrist")
            #expect(second.status == 4 && second.errors.contains("already open"), "\(second.errors)")
            let cancelled = try await clinic.care(
                ["referral", "status", referralID, "cancelled", "--reason", "The patient chose ECT"], as: "psychiatrist"
            )
            #expect(
                cancelled.status == 0
                    && cancelled.output.contains("4 open handoffs it made were closed as superseded"),
                "\(cancelled.output)")
            let queue = try await clinic.care(["queue", "--json"], as: "socialWorker")
            #expect(!queue.array.contains { $0["id"] as? String == authorisation }, "\(queue.output)")
            // Cancelling a task takes a reason; a score entered in error says so.
            let task = try await clinic.care(
                ["task", "add", patient, "Call the insurer", "--for", "social_worker"], as: "psychiatrist")
            let taskID = try #require(task.output.firstMatch(of: /task ([0-9a-f-]{36})/)?.1).description
            #expect(try await clinic.care(["task", "cancel", taskID], as: "socialWorker").status == 64)
            let cancelTask = try await clinic.care(
                ["task", "cancel", taskID, "--reason", "Done by phone already"], as: "socialWorker")
            #expect(cancelTask.status == 0, "\(cancelTask.errors)")
            let score = try await clinic.care(
                ["score", "add", patient, "--phq9", "3,3,3,2,2,2,2,1,0"], as: "psychologist")
            #expect(score.output.contains("PHQ-9 18, moderately severe"), "\(score.output)")
            let scoreID = try #require(score.output.firstMatch(of: /\(([0-9a-f-]{36})\)/)?.1).description
            let marked = try await clinic.care(
                ["entered-in-error", "score", scoreID, "--reason", "Another patient's form"], as: "psychologist")
            #expect(
                marked.status == 0 && marked.output.hasPrefix("Marked the score entered in error."),
                "\(marked.output)\(marked.errors)")
            let future = try await clinic.care(
                ["trial", "start", patient, "--drug", "sertraline", "--dose", "100", "--start", "2999-01-01"],
                as: "psychiatrist")
            #expect(future.status == 2 && future.errors.contains("in the future"), "\(future.errors)")
            let high = try await clinic.care(
                ["trial", "start", patient, "--drug", "sertraline", "--dose", "300", "--start=-10d"], as: "psychiatrist"
            )
            #expect(high.status == 2 && high.errors.contains("confirm_high_dose"), "\(high.errors)")
            let confirmed = try await clinic.care(
                [
                    "trial", "start", patient, "--drug", "sertraline", "--dose", "300", "--start=-10d",
                    "--confirm-high-dose", "Rapid metaboliser",
                ], as: "psychiatrist")
            #expect(confirmed.status == 0, "\(confirmed.errors)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test("a psychotherapy note is seen by its author only; --json parses; the plan is edited with If-Match")
    func notesJSONAndPlan() async throws {
        let clinic = try await Clinic.start()
        do {
            let patient = clinic.patient.uuidString.lowercased()
            let added = try await clinic.care(
                ["note", "add", patient, "--kind", "psychotherapy"], as: "psychologist",
                stdin: "Worked on the core belief of failure.\n")
            #expect(added.status == 0, "\(added.errors)")
            let mine = try await clinic.care(["note", "list", patient, "--json"], as: "psychologist")
            #expect(mine.array.contains { $0["body"] as? String == "Worked on the core belief of failure." })
            // A short note, and an amendment, typed as an argument; text and --file together are refused.
            let typed = try await clinic.care(["note", "add", "Casey", "Sleeping better."], as: "psychiatrist")
            let typedID = try #require(typed.output.firstMatch(of: /note ([0-9a-f-]{36})\./)?.1, "\(typed.errors)")
            let amended = try await clinic.care(
                ["note", "amend", String(typedID.prefix(8)), "Since the dose change."], as: "psychiatrist")
            #expect(amended.status == 0, "\(amended.errors)")
            let bodies = try await clinic.care(["note", "list", patient, "--json"], as: "psychiatrist").array.compactMap
            {
                $0["body"] as? String
            }
            #expect(bodies.contains("Sleeping better.") && bodies.contains("Since the dose change."), "\(bodies)")
            // The amendment names the note it amends as the tables name records: 8 characters.
            let listed = try await clinic.care(["note", "list", patient], as: "psychiatrist")
            #expect(
                listed.output.contains("(amends \(typedID.prefix(8)))") && !listed.output.contains(typedID),
                "\(listed.output)")
            let both = try await clinic.care(
                ["note", "add", "Casey", "Twice.", "--file", "/dev/null"], as: "psychiatrist")
            #expect(both.status == 64 && both.errors.contains("not both"), "\(both.errors)")
            for who in ["psychiatrist", "socialWorker"] {
                let theirs = try await clinic.care(["note", "list", patient, "--json"], as: who)
                #expect(theirs.status == 0)
                #expect(!theirs.output.contains("core belief"), "\(who) saw a psychotherapy note")
                let summary = try await clinic.care(["patient", "show", patient], as: who)
                #expect(!summary.output.contains("core belief"))
            }
            for command in [
                ["whoami", "--json"], ["patients", "--json"], ["queue", "--json"],
                ["patient", "show", patient, "--json"], ["plan", "show", patient, "--json"],
            ] {
                let run = try await clinic.care(command, as: "psychiatrist")
                #expect(run.status == 0 && run.json != nil, "\(command): \(run.output)\(run.errors)")
            }

            // $EDITOR edits the plan; a plan changed meanwhile is not overwritten (exit 4).
            let edit = try await clinic.care(
                ["plan", "edit", patient], as: "psychiatrist",
                environment: ["EDITOR": "sed -i '/^Goals:/a - Back to work part time'"])
            #expect(edit.status == 0 && edit.output.contains("version 2"), "\(edit.output)\(edit.errors)")
            let plan = try await clinic.care(["plan", "show", patient, "--json"], as: "psychiatrist")
            #expect(plan.object["goals"] as? [String] == ["Back to work part time"])
            // The "editor" here saves another change through the API while the CLI waits on it.
            let meddler =
                """
                sh -c 'CARE_TOKEN=\(clinic.tokens["psychologist"]!) \(CLITests.care) plan edit \(patient) </dev/null \
                >/dev/null 2>&1' ; sed -i '/^Problems:/a - Poor sleep'
                """
            let conflict = try await clinic.care(
                ["plan", "edit", patient], as: "psychiatrist",
                environment: ["EDITOR": "EDITOR=\"sed -i '/^Goals:/a - Walk daily'\" \(meddler)"])
            #expect(conflict.status == 4, "\(conflict.output)\(conflict.errors)")
            #expect(
                conflict.errors.contains("+ goal: Walk daily") && conflict.errors.contains("kept in"),
                "\(conflict.errors)")
            let kept = try await clinic.care(["plan", "show", patient, "--json"], as: "psychiatrist")
            #expect(kept.object["problems"] as? [String] == [], "the stale edit was not saved")
            // The kept version is the clinician's alone, and --file brings it back over the current plan.
            let keptPath = try #require(conflict.errors.firstMatch(of: /kept in (\S+);/)?.1).description
            let mode = try FileManager.default.attributesOfItem(atPath: keptPath)[.posixPermissions] as? Int
            #expect(mode == 0o600, "the kept version is \(String(mode ?? 0, radix: 8))")
            let reapplied = try await clinic.care(["plan", "edit", "Casey", "--file", keptPath], as: "psychiatrist")
            #expect(
                reapplied.status == 0 && reapplied.output.contains("version 4"),
                "\(reapplied.output)\(reapplied.errors)")
            let merged = try await clinic.care(["plan", "show", patient, "--json"], as: "psychiatrist")
            #expect(merged.object["problems"] as? [String] == ["Poor sleep"], "\(merged.output)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test("bad input is one line and a documented exit code; login writes a 0600 config that later commands use")
    func errorsAndLogin() async throws {
        let clinic = try await Clinic.start()
        do {
            let patient = clinic.patient.uuidString.lowercased()
            let cases: [([String], String?, Int32)] = [
                (["patient", "show", "nobody-by-this-name"], "psychiatrist", 3),
                (["patient", "show", UUID().uuidString.lowercased()], "psychiatrist", 3),
                (["score", "add", patient, "--phq9", "1,2,3"], "psychiatrist", 64),
                (["score", "add", patient, "--madrs", "99"], "psychiatrist", 2),
                (["trial", "outcome", UUID().uuidString.lowercased(), "--result", "maybe"], "psychiatrist", 64),
                (
                    ["trial", "start", patient, "--drug", "sertraline", "--dose", "50", "--start", "someday"],
                    "psychiatrist", 64
                ),
                (["queue"], nil, 6),
            ]
            for (arguments, who, code) in cases {
                let run = try await clinic.care(arguments, as: who)
                #expect(run.status == code, "\(arguments): \(run.status) \(run.errors)")
                #expect(
                    run.errors.split(separator: "\n").count == 1 && run.errors.hasPrefix("care: "),
                    "\(arguments): \(run.errors)")
                #expect(run.output.isEmpty)
            }
            let unreachable = try await clinic.care(
                ["queue"], environment: ["CARE_SERVER": "http://127.0.0.1:1", "CARE_TOKEN": "crt_x"])
            #expect(
                unreachable.status == 5 && unreachable.errors.split(separator: "\n").count == 1, "\(unreachable.errors)"
            )
            let badToken = try await clinic.care(
                ["queue"],
                environment: ["CARE_SERVER": clinic.url, "CARE_TOKEN": "crt_" + String(repeating: "A", count: 43)])
            #expect(badToken.status == 6, "\(badToken.errors)")

            let login = try await clinic.care(
                ["login", "--server", clinic.url, "--profile", "clinic"], stdin: clinic.tokens["socialWorker"]! + "\n")
            #expect(login.status == 0, "\(login.errors)")
            let path = clinic.config + "/carerelay/config"
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let whoami = try await clinic.care(["whoami", "--profile", "clinic", "--json"])
            #expect(whoami.object["display_name"] as? String == "CLI socialWorker", "\(whoami.output)\(whoami.errors)")
            let wrong = try await clinic.care(
                ["login", "--server", clinic.url], stdin: "crt_" + String(repeating: "B", count: 43) + "\n")
            #expect(wrong.status == 6)
            #expect(try await clinic.care(["whoami", "--profile", "nobody"]).status == 6)
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test("a write whose answer is lost, or that met a 503, is retried with the same Idempotency-Key and applied once")
    func retriedWriteAppliedOnce() async throws {
        let clinic = try await Clinic.start()
        do {
            let port = try #require(URL(string: clinic.url)?.port)
            let proxy = FlakyProxy(upstream: port, dropAnswers: 1)
            let proxyPort = try proxy.start()
            defer { proxy.stop() }
            let patient = clinic.patient.uuidString.lowercased()
            let run = try await clinic.care(
                ["score", "add", patient, "--madrs", "31"],
                environment: [
                    "CARE_SERVER": "http://127.0.0.1:\(proxyPort)", "CARE_TOKEN": clinic.tokens["psychiatrist"]!,
                ])
            #expect(run.status == 0, "\(run.errors)")
            #expect(proxy.keys.count == 2, "one attempt lost its answer, one retry: \(proxy.keys)")
            #expect(Set(proxy.keys).count == 1 && !(proxy.keys.first ?? "").isEmpty, "the retry carries the same key")
            let scores = try await clinic.pool.query(
                "SELECT count(*) FROM measurements WHERE patient_id = \(clinic.patient) AND instrument = 'MADRS'")
            #expect(try scores[0].decode(Int.self, at: 0) == 1)

            // A 503 says when to come back: care waits that long and tries again with the same key.
            let unavailable = FlakyProxy(upstream: port, dropAnswers: 0, unavailable: 1)
            let unavailablePort = try unavailable.start()
            defer { unavailable.stop() }
            let started = ContinuousClock.now
            let retried = try await clinic.care(
                ["score", "add", patient, "--madrs", "22"],
                environment: [
                    "CARE_SERVER": "http://127.0.0.1:\(unavailablePort)", "CARE_TOKEN": clinic.tokens["psychiatrist"]!,
                ])
            #expect(retried.status == 0, "\(retried.errors)")
            #expect(ContinuousClock.now - started >= .seconds(1), "waited as Retry-After asked")
            #expect(unavailable.keys.count == 2 && Set(unavailable.keys).count == 1, "\(unavailable.keys)")
            #expect(
                try await clinic.pool.query(
                    "SELECT count(*) FROM measurements WHERE patient_id = \(clinic.patient) AND total = 22")[0]
                    .decode(Int.self, at: 0) == 1)
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test("care events lists the recent events and --follow prints new ones as they commit")
    func events() async throws {
        let clinic = try await Clinic.start()
        do {
            // Other tests' transactions on the cluster may hold the newest events back a moment.
            var recent = try await clinic.care(["events", "--limit", "5", "--json"], as: "psychiatrist")
            _ = try await eventually {
                if recent.output.contains("patient.enrolled") { return true }
                recent = try await clinic.care(["events", "--limit", "5", "--json"], as: "psychiatrist")
                return false
            }
            #expect(recent.status == 0)
            let lines = recent.output.split(separator: "\n")
            #expect(!lines.isEmpty && lines.count <= 5)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
            #expect(recent.output.contains("patient.enrolled"))

            // --follow, as a process of its own: a score recorded meanwhile shows up.
            let cursor = try #require(
                (try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])?["cursor"] as? String
            )
            var environment = ProcessInfo.processInfo.environment
            environment["CARE_SERVER"] = clinic.url
            environment["CARE_TOKEN"] = clinic.tokens["psychologist"]
            environment["XDG_CONFIG_HOME"] = clinic.config
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLITests.care)
            process.arguments = ["events", "--follow", "--json", "--after", cursor]
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            try await Task.sleep(for: .milliseconds(500))
            #expect(
                try await clinic.care(
                    ["score", "add", clinic.patient.uuidString.lowercased(), "--madrs", "20"], as: "psychiatrist"
                ).status == 0)
            let reader = output.fileHandleForReading
            // If the event never comes, stop the follower after 30 s so the read ends (and the test fails).
            let watchdog = Task { [process] in
                try? await Task.sleep(for: .seconds(30))
                if process.isRunning { process.terminate() }
            }
            defer { watchdog.cancel() }
            let line = try await LocalPostgres.offload { () -> String in
                var text = ""
                while !text.contains("measurement.recorded") {
                    let data = reader.availableData
                    if data.isEmpty { break }
                    text += String(decoding: data, as: UTF8.self)
                }
                return text
            }
            process.terminate()
            #expect(line.contains("measurement.recorded"), "\(line)")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test("care report weekly in every format, a snapshot, and a recommendation that becomes a note and a task")
    func report() async throws {
        let clinic = try await Clinic.start()
        do {
            let patient = clinic.patient.uuidString.lowercased()
            #expect(
                try await clinic.care(["score", "add", patient, "--phq9", "1,1,1,1,1,1,1,1,1"], as: "psychiatrist")
                    .status == 0)
            let md = try await clinic.care(["report", "weekly", "--team", "CLI"], as: "psychiatrist")
            #expect(
                md.status == 0 && md.output.contains("# CLI team: weekly case review")
                    && md.output.contains("Casey Lind"), "\(md.output)\(md.errors)")
            #expect(md.output.contains("Safety signal"))
            let file = clinic.config + "/report.json"
            // Written before by something else, readable by all: the report makes it private.
            _ = FileManager.default.createFile(atPath: file, contents: Data(), attributes: [.posixPermissions: 0o644])
            let json = try await clinic.care(["report", "weekly", "--format", "json", "-o", file], as: "psychologist")
            #expect(json.status == 0 && json.output.isEmpty)
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "the report file is \(String(mode ?? 0, radix: 8))")
            let report =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any]
            #expect((report?["patients"] as? [[String: Any]])?.first?["display_name"] as? String == "Casey Lind")
            let csv = try await clinic.care(
                ["report", "weekly", "--format", "csv", "--week", "2026-W01"], as: "psychologist")
            #expect(csv.status == 0 && csv.output.hasPrefix("rank,first_reason"))
            let html = try await clinic.care(["report", "weekly", "--format", "html"], as: "socialWorker")
            #expect(html.output.hasPrefix("<!DOCTYPE html>"))
            #expect(try await clinic.care(["report", "weekly", "--team", "Nowhere"], as: "psychiatrist").status == 64)

            let kept = try await clinic.care(["report", "snapshot"], as: "psychiatrist")
            #expect(kept.status == 0, "\(kept.errors)")
            let snapshot = try #require(kept.output.firstMatch(of: /snapshot ([0-9a-f-]{36})/)?.1).description
            let snapshots = try await clinic.care(["report", "snapshots"], as: "psychologist")
            #expect(
                snapshots.status == 0 && snapshots.output.contains(String(snapshot.prefix(8))), "\(snapshots.output)")
            let recommended = try await clinic.care(
                [
                    "report", "recommend", snapshot, patient, "--text", "Safety plan with the family",
                    "--task", "Call the family", "--for", "social_worker", "--due", "+2d",
                ], as: "psychiatrist")
            #expect(recommended.status == 0, "\(recommended.errors)")
            let queue = try await clinic.care(["queue", "--json"], as: "socialWorker")
            #expect(
                queue.array.contains { ($0["title"] as? String)?.contains("Call the family") == true },
                "\(queue.output)")
            let notes = try await clinic.care(["note", "list", patient, "--json"], as: "psychologist")
            #expect(notes.array.contains { $0["kind"] as? String == "case-review" })
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test("every command's help has an example; completion scripts for bash, zsh and fish")
    func helpAndCompletion() async throws {
        let commands: [[String]] = [
            ["login"], ["whoami"], ["queue"], ["patients"], ["patient", "show"], ["task", "add"], ["task", "claim"],
            ["task", "start"],
            ["task", "done"], ["task", "cancel"], ["handoff", "ack"], ["note", "list"], ["note", "add"],
            ["note", "amend"],
            ["score", "add"], ["trial", "start"], ["trial", "outcome"], ["refer"], ["referral", "status"],
            ["plan", "show"],
            ["plan", "edit"], ["events"], ["report", "weekly"], ["report", "snapshot"], ["report", "recommend"],
            ["patient", "timeline"], ["today"], ["patient", "add"], ["patient", "discharge"], ["task", "list"],
            ["task", "show"],
            ["handoff", "list"], ["handoff", "take"], ["trial", "list"], ["referral", "list"], ["report", "snapshots"],
            ["patient", "birth-date"], ["patient", "document"], ["referral", "screen"], ["referral", "packet"],
            ["trial", "dose"],
            ["referral", "auth"],
        ]
        for command in commands {
            let help = try await CLITests.run(
                CLITests.care, command + ["--help"], environment: ["NO_COLOR": "1"], stdin: nil)
            #expect(help.status == 0)
            #expect(
                help.output.contains("care " + command.joined(separator: " ")) && help.output.contains("Example"),
                "\(command): \(help.output)")
        }
        // `care help <command>`, which every help page suggests, answers as `--help` does; a
        // mistyped command after it is named like any other.
        let viaHelp = try await CLITests.run(
            CLITests.care, ["help", "score", "add"], environment: ["NO_COLOR": "1"], stdin: nil)
        #expect(viaHelp.status == 0, "\(viaHelp.errors)")
        #expect(viaHelp.output.contains("care score add") && viaHelp.output.contains("Example"), "\(viaHelp.output)")
        let mistyped = try await CLITests.run(
            CLITests.care, ["help", "scor"], environment: ["NO_COLOR": "1"], stdin: nil)
        #expect(mistyped.status == 64 && mistyped.errors.contains("did you mean 'score'?"), "\(mistyped.errors)")
        for shell in ["bash", "zsh", "fish"] {
            let script = try await CLITests.run(
                CLITests.care, ["--generate-completion-script", shell], environment: [:], stdin: nil)
            #expect(script.status == 0 && script.output.contains("queue"), "\(shell)")
            // The domain's values: drugs of the dose table, roles, outcomes, formats; patients asked of the server.
            for word in [
                "sertraline", "social_worker", "stopped-early", "esketamine", "in-course", "csv", "---completion",
            ] {
                #expect(script.output.contains(word), "\(shell): \(word)")
            }
        }
    }

    @Test(
        """
        care referral packet: the social worker sees which criteria are unmet (and no packet is made), then with them \
        recorded writes a payer-ready PDF
        """
    )
    func priorAuthorisationPacket() async throws {
        let clinic = try await Clinic.start()
        do {
            let store = clinic.store
            let patient = clinic.patient
            let psychiatrist = try await clinic.pool.query(
                "SELECT id FROM members WHERE display_name = 'CLI psychiatrist'")[0].decode(UUID.self, at: 0)
            let enrolled = Date().addingTimeInterval(-130 * 86_400)
            try await store.recordTwoFailedTrials(
                patient: patient, enrolled: enrolled, psychiatrist: psychiatrist, adherence: 0.9)
            _ = try await store.recordMeasurement(
                patientID: patient, score: try Score(.phq9, total: 19), takenAt: Date().addingTimeInterval(-3_600),
                by: .system(actingFor: psychiatrist))
            let referral = try await store.makeReferral(
                patientID: patient, kind: .tms, targetClinic: "City TMS", by: .system(actingFor: psychiatrist)
            ).referralID.uuidString.lowercased()
            let file = clinic.config + "/packet.pdf"

            let refused = try await clinic.care(["referral", "packet", referral, "-o", file], as: "socialWorker")
            #expect(refused.status != 0)
            #expect(
                refused.errors.contains("unmet  the TMS contraindication screen done and negative"), "\(refused.errors)"
            )
            #expect(refused.errors.contains("to meet it: record the patient's date of birth"))
            // With the commands that record what is missing.
            for hint in [
                "care patient birth-date PATIENT", "care referral screen HANDOFF",
                "care patient document PATIENT no-psychotherapy",
            ] {
                #expect(refused.errors.contains(hint), "\(hint): \(refused.errors)")
            }
            // The trials criterion names both failed trials, each with its adequacy.
            #expect(
                refused.errors.contains("sertraline (ssri)") && refused.errors.contains("venlafaxine (snri)"),
                "\(refused.errors)")
            #expect(refused.errors.contains("--anyway"))
            #expect(!FileManager.default.fileExists(atPath: file))
            #expect(
                try await clinic.pool.query("SELECT count(*) FROM prior_auth_packets")[0].decode(Int.self, at: 0) == 0)

            // What was missing, recorded with the CLI as the team would: the psychiatrist completes
            // the screening handoff, the social worker records the date of birth and why no
            // psychotherapy was possible. Each refuses what it cannot record first.
            let screening = try await clinic.pool.query(
                PQQuery(
                    """
                    SELECT t.id FROM tasks t JOIN handoffs h ON h.task_id = t.id WHERE h.step_key = \
                    'tms.contraindications' AND t.patient_id = $1
                    """,
                    [patient]))[0].decode(UUID.self, at: 0).uuidString.lowercased()
            let patientID = patient.uuidString.lowercased()
            let wrongItem = try await clinic.care(
                ["referral", "screen", String(screening.prefix(8)), "--present", "interfering-medicines"],
                as: "psychiatrist")
            #expect(
                wrongItem.status == 64
                    && wrongItem.errors.contains("the TMS screen does not ask about interfering-medicines"),
                "\(wrongItem.errors)")
            let screened = try await clinic.care(
                ["referral", "screen", String(screening.prefix(8)), "--none"], as: "psychiatrist")
            #expect(
                screened.status == 0 && screened.output.contains("TMS screen of")
                    && screened.output.contains("no contraindication present"),
                "\(screened.output)\(screened.errors)")
            let again = try await clinic.care(
                ["referral", "screen", String(screening.prefix(8)), "--none"], as: "psychiatrist")
            #expect(again.status == 4, "\(again.errors)")
            let future = try await clinic.care(["patient", "birth-date", patientID, "2990-01-01"], as: "socialWorker")
            #expect(future.status == 64 && future.errors.contains("is in the future"), "\(future.errors)")
            let born = try await clinic.care(["patient", "birth-date", patientID, "1980-01-01"], as: "socialWorker")
            #expect(born.status == 0 && born.output.contains("recorded: 1980-01-01"), "\(born.errors)")
            let documented = try await clinic.care(
                [
                    "patient", "document", patientID, "no-psychotherapy", "Declined therapy after two intake attempts.",
                ], as: "socialWorker")
            #expect(
                documented.status == 0 && documented.output.contains("under no-psychotherapy"), "\(documented.errors)")
            let stored = try await clinic.pool.query(
                PQQuery("SELECT birth_date::text FROM patients WHERE id = $1", [patient]))[0].decode(String.self, at: 0)
            #expect(stored == "1980-01-01")

            // From the social worker's handoff, as care queue shows it (its id names the referral).
            let handoff = try await clinic.pool.query(
                PQQuery(
                    """
                    SELECT t.id FROM tasks t JOIN handoffs h ON h.task_id = t.id WHERE h.step_key = \
                    'tms.prior-authorisation' AND t.patient_id = $1
                    """,
                    [patient]))[0].decode(UUID.self, at: 0).uuidString.lowercased()
            let written = try await clinic.care(
                ["referral", "packet", String(handoff.prefix(8)), "-o", file], as: "socialWorker")
            #expect(written.status == 0, "\(written.errors)")
            #expect(written.errors.contains("every criterion met"), "\(written.errors)")
            let pdf = try #require(FileManager.default.contents(atPath: file))
            #expect(pdf.starts(with: Data("%PDF".utf8)))
            let text = try PriorAuthTests.pdfText(pdf)
            #expect(text.contains("sertraline") && text.contains("Casey Lind"), "\(text.prefix(400))")

            // The payer's answer, recorded from the CLI.
            let noReason = try await clinic.care(["referral", "auth", referral, "denied"], as: "socialWorker")
            #expect(noReason.status != 0 && noReason.errors.contains("--reason"))
            let submitted = try await clinic.care(["referral", "auth", referral, "submitted"], as: "socialWorker")
            #expect(submitted.status == 0 && submitted.output.contains("submitted"), "\(submitted.errors)")
            let denied = try await clinic.care(
                ["referral", "auth", referral, "denied", "--reason", "No SNRI trial documented"], as: "socialWorker")
            #expect(denied.status == 0 && denied.output.contains("an appeal (social worker)"), "\(denied.errors)")
            let approved = try await clinic.care(
                ["referral", "auth", referral, "approved", "--sessions", "36"], as: "socialWorker")
            #expect(
                approved.status != 0 && approved.errors.contains("denied"), "a denied packet is answered by a new one")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        time zones: care reads tomorrow and today on the patient's team's calendar, shows times in the team's zone, \
        and in the member's own with --tz, CARE_TZ or care profile set-tz
        """
    )
    func timeZones() async throws {
        let clinic = try await Clinic.start()
        do {
            let team = try await clinic.setPatientTeamZone("America/New_York")
            let newYork = LocalCalendar(identifier: "America/New_York")
            func shown(_ date: Date, _ zone: String) -> String {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: zone)
                formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
                return formatter.string(from: date)
            }

            // "tomorrow" is New York's tomorrow, due at 23:59 there.
            let added = try await clinic.care(
                ["task", "add", "Casey", "Call about the TMS date", "--for", "social_worker", "--due", "tomorrow"],
                as: "psychiatrist")
            #expect(added.status == 0, "\(added.errors)")
            let taskID = try #require(added.output.firstMatch(of: /Added task ([0-9a-f-]{36})/)?.1).description
            let expected = try #require(TypedDates.due("tomorrow", now: Date(), calendar: newYork))
            let json = try await clinic.care(["task", "show", taskID, "--json"], as: "psychiatrist")
            let dueText = try #require(json.object["due_at"] as? String, "\(json.output)")
            let due = try Date(dueText, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            #expect(due == expected, "\(dueText): the end of tomorrow in New York")
            #expect(shown(due, "America/New_York").contains(" 23:59 E"))

            // Shown in the team's zone, or the member's own.
            let teams = try await clinic.care(["task", "show", taskID], as: "psychiatrist")
            #expect(teams.output.contains("due: \(shown(due, "America/New_York"))"), "\(teams.output)")
            let tokyo = try await clinic.care(["task", "show", taskID, "--tz", "Asia/Tokyo"], as: "psychiatrist")
            #expect(tokyo.output.contains("due: \(shown(due, "Asia/Tokyo"))"), "\(tokyo.output)")
            let london = try await clinic.care(
                ["task", "show", taskID], as: "psychiatrist", environment: ["CARE_TZ": "Europe/London"])
            #expect(london.output.contains("due: \(shown(due, "Europe/London"))"), "\(london.output)")
            let unknown = try await clinic.care(["task", "show", taskID, "--tz", "new york"], as: "psychiatrist")
            #expect(unknown.status == 64 && unknown.output.isEmpty, "\(unknown.output)")
            #expect(
                unknown.errors.split(separator: "\n").count == 1 && unknown.errors.contains("America/New_York"),
                "\(unknown.errors)")
            let whoami = try await clinic.care(["whoami"], as: "psychiatrist")
            #expect(whoami.output.contains("America/New_York"), "\(whoami.output)")

            // A trial started "today" starts on New York's today.
            let started = try await clinic.care(
                ["trial", "start", "Casey", "--therapy", "CBT", "--start", "today"], as: "psychologist")
            #expect(started.status == 0, "\(started.errors)")
            let startedOn = try await clinic.pool.query(
                "SELECT started_on::text FROM trials WHERE patient_id = \(clinic.patient) AND therapy = 'CBT'")[0]
                .decode(String.self, at: 0)
            #expect(startedOn == DayText.format(newYork.today(at: Date())))

            // The member's own zone, kept in the profile.
            let login = try await clinic.care(
                ["login", "--server", clinic.url, "--profile", "clinic"], stdin: clinic.tokens["psychiatrist"]! + "\n")
            #expect(login.status == 0, "\(login.errors)")
            let set = try await clinic.care(["profile", "set-tz", "Asia/Tokyo", "--profile", "clinic"])
            #expect(set.status == 0 && set.output.contains("Asia/Tokyo"), "\(set.errors)")
            let kept = try await clinic.care(["task", "show", taskID, "--profile", "clinic"])
            #expect(kept.output.contains("due: \(shown(due, "Asia/Tokyo"))"), "\(kept.output)\(kept.errors)")
            #expect(try await clinic.care(["profile", "list"]).output.contains("Asia/Tokyo"))
            let badZone = try await clinic.care(["profile", "set-tz", "Mars/Olympus", "--profile", "clinic"])
            #expect(badZone.status == 64, "\(badZone.errors)")
            _ = try await clinic.care(["profile", "set-tz", "team", "--profile", "clinic"])
            let back = try await clinic.care(["task", "show", taskID, "--profile", "clinic"])
            #expect(back.output.contains("due: \(shown(due, "America/New_York"))"), "\(back.output)")

            // A member on two teams 25 hours apart (their dates always differ): a trial's stop
            // "today" is the patient's team's today, found through the trial, not the member's
            // own zone (here the other team's), which care falls back to when no patient says.
            _ = try await clinic.store.setTimeZone(teamID: team, "Pacific/Kiritimati", by: .system())
            let other = try await clinic.store.createTeam(
                name: "Pago Pago team", timeZone: "Pacific/Pago_Pago", by: .system())
            try await clinic.pool.query(
                """
                INSERT INTO memberships (team_id, member_id, role)
                SELECT \(other), member_id, role FROM memberships WHERE team_id = \(team) AND role = 'psychiatrist'
                """)
            let kiritimati = LocalCalendar(identifier: "Pacific/Kiritimati")
            let psychiatrist = try await clinic.pool.query(
                "SELECT member_id FROM memberships WHERE team_id = \(team) AND role = 'psychiatrist'")[0]
                .decode(UUID.self, at: 0)
            let trial = try await clinic.store.startTrial(
                patientID: clinic.patient, kind: .medication, drug: "sertraline", dailyDoseMg: 100,
                startedOn: kiritimati.day(kiritimati.today(at: Date()), adding: -60),
                by: .system(actingFor: psychiatrist))
            let stopped = try await clinic.care(
                ["trial", "outcome", trial.uuidString.lowercased(), "--result", "none", "--stopped", "today"],
                as: "psychiatrist", environment: ["CARE_TZ": "Pacific/Pago_Pago"])
            #expect(stopped.status == 0, "\(stopped.errors)")
            let stoppedOn = try await clinic.pool.query("SELECT stopped_on::text FROM trials WHERE id = \(trial)")[0]
                .decode(String.self, at: 0)
            #expect(stoppedOn == DayText.format(kiritimati.today(at: Date())), "Kiritimati's today")
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        care score add --taken: a day is noon that day on the patient's team's calendar, a local time is that minute \
        there, and a time to come is refused with nothing written
        """
    )
    func scoreTaken() async throws {
        let clinic = try await Clinic.start()
        do {
            try await clinic.setPatientTeamZone("Asia/Tokyo")
            let tokyo = LocalCalendar(identifier: "Asia/Tokyo")
            func scores() async throws -> Int {
                try await clinic.pool.query(
                    "SELECT count(*)::int FROM measurements WHERE patient_id = \(clinic.patient)")[0]
                    .decode(Int.self, at: 0)
            }
            func takenAt(_ output: String) async throws -> Date {
                let id = try #require(output.firstMatch(of: /\(([0-9a-f-]{36})\)/)?.1).description
                return try await clinic.pool.query(
                    "SELECT taken_at FROM measurements WHERE id = \(UUID(uuidString: id)!)")[0]
                    .decode(Date.self, at: 0)
            }
            let before = try await scores()

            // Yesterday: noon yesterday in Tokyo (the day read as care read it, even across midnight there).
            let firstDay = tokyo.today(at: Date())
            let yesterday = try await clinic.care(
                ["score", "add", "Casey", "--madrs", "20", "--taken", "yesterday"], as: "psychiatrist")
            #expect(yesterday.status == 0 && yesterday.output.contains(", taken "), "\(yesterday.errors)")
            let noons = [firstDay, tokyo.today(at: Date())].map {
                tokyo.instant(on: tokyo.day($0, adding: -1), hour: 12, minute: 0)
            }
            #expect(noons.contains(try await takenAt(yesterday.output)))

            // A local time two days ago: that minute in Tokyo.
            let day = tokyo.day(tokyo.today(at: Date()), adding: -2)
            let local = try await clinic.care(
                ["score", "add", "Casey", "--madrs", "18", "--taken", "\(DayText.format(day)) 08:30"],
                as: "psychiatrist")
            #expect(local.status == 0, "\(local.errors)")
            #expect(try await takenAt(local.output) == tokyo.instant(on: day, hour: 8, minute: 30))

            // A time to come: one line, exit 64, nothing sent.
            for future in ["tomorrow", "\(DayText.format(tokyo.day(tokyo.today(at: Date()), adding: 1))) 09:00"] {
                let refused = try await clinic.care(
                    ["score", "add", "Casey", "--madrs", "18", "--taken", future], as: "psychiatrist")
                #expect(refused.status == 64, "\(future): \(refused.output)")
                #expect(
                    refused.errors.split(separator: "\n").count == 1 && refused.errors.contains("future"),
                    "\(refused.errors)")
            }
            // A value that starts with '-' needs no '=': -3d is three days back, noon in Tokyo.
            let dayBefore = tokyo.today(at: Date())
            let threeDays = try await clinic.care(
                ["score", "add", "Casey", "--madrs", "16", "--taken", "-3d"], as: "psychiatrist")
            #expect(threeDays.status == 0, "\(threeDays.errors)")
            let threeNoons = [dayBefore, tokyo.today(at: Date())].map {
                tokyo.instant(on: tokyo.day($0, adding: -3), hour: 12, minute: 0)
            }
            #expect(threeNoons.contains(try await takenAt(threeDays.output)))
            #expect(try await scores() == before + 3)
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }

    @Test(
        """
        care team: every member sees the team; its admin adds a colleague (the token works once handed over), \
        changes roles and takes someone off (their task back to the pool); a non-admin, the integration role and \
        the last admin are refused with nothing changed
        """
    )
    func teamAdmin() async throws {
        var clinic = try await Clinic.start()
        do {
            let team = try await clinic.pool.query("SELECT team_id FROM patients WHERE id = \(clinic.patient)")[0]
                .decode(UUID.self, at: 0)
            let admin = try await clinic.store.createMember(
                displayName: "Dr. Ada Admin", teamID: team, roles: [.psychiatrist, .admin], by: .system())
            clinic.tokens["admin"] = try await clinic.store.issueToken(memberID: admin, expiresAt: nil, by: .system())
                .token
            func members() async throws -> [String: [String]] {
                let shown = try await clinic.care(["team", "--json"], as: "psychologist")
                #expect(shown.status == 0, "\(shown.errors)")
                let listing = try #require((shown.json as? [[String: Any]])?.first)
                let rows = try #require(listing["members"] as? [[String: Any]])
                return Dictionary(
                    uniqueKeysWithValues: rows.map {
                        ($0["display_name"] as? String ?? "", $0["roles"] as? [String] ?? [])
                    })
            }

            // Every member sees who is on the team.
            let table = try await clinic.care(["team"], as: "psychologist")
            #expect(table.status == 0, "\(table.errors)")
            #expect(
                table.output.hasPrefix("CLI team") && table.output.contains("you: psychologist")
                    && table.output.contains("Dr. Ada Admin") && table.output.contains("psychiatrist, admin"),
                "\(table.output)")
            #expect(try await members().count == 4)

            // Not the team's admin: refused, nobody added.
            let notAdmin = try await clinic.care(
                ["team", "add", "Dr. Lee Morgan", "--role", "psychologist"], as: "psychologist")
            #expect(notAdmin.status == 3 && notAdmin.errors.hasPrefix("care: "), "\(notAdmin.errors)")
            // The integration role is the operator's: a usage error before anything is sent.
            let integration = try await clinic.care(["team", "add", "Feed", "--role", "integration"], as: "admin")
            #expect(integration.status == 64 && integration.errors.contains("--role must be"), "\(integration.errors)")
            #expect(try await members().count == 4)

            // The admin adds a colleague; the token printed once works for them.
            let added = try await clinic.care(
                ["team", "add", "Dr. Lee Morgan", "--role", "psychologist", "--email", "lee@clinic.example"],
                as: "admin")
            #expect(added.status == 0, "\(added.errors)")
            #expect(added.output.hasPrefix("Added Dr. Lee Morgan to CLI team as psychologist"), "\(added.output)")
            let token = try #require(added.output.firstMatch(of: /\s(crt_[A-Za-z0-9_-]+)\n/)?.1).description
            let theirs = try await clinic.care(
                ["whoami"], environment: ["CARE_SERVER": clinic.url, "CARE_TOKEN": token])
            #expect(theirs.status == 0 && theirs.output.hasPrefix("Dr. Lee Morgan"), "\(theirs.output)\(theirs.errors)")
            #expect(try await members()["Dr. Lee Morgan"] == ["psychologist"])

            // Roles replaced; a name that fits several members is listed, nothing changed.
            let roles = try await clinic.care(
                ["team", "roles", "Morgan", "--role", "care-manager", "--role", "admin"], as: "admin")
            #expect(roles.status == 0, "\(roles.errors)")
            #expect(roles.output == "Dr. Lee Morgan on CLI team: care manager, admin.\n", "\(roles.output)")
            #expect(Set(try await members()["Dr. Lee Morgan"] ?? []) == ["admin", "care_manager"])
            let several = try await clinic.care(["team", "roles", "CLI", "--role", "psychologist"], as: "admin")
            #expect(
                several.status == 2 && several.errors.contains("matches 3 members of CLI team"), "\(several.errors)")
            let nobody = try await clinic.care(["team", "remove", "Nobody"], as: "admin")
            #expect(nobody.status == 3, "\(nobody.errors)")

            // Taking the social worker off: their own task goes back to the pool, and they no longer
            // reach the patient.
            let task = try await clinic.care(
                ["task", "add", "Casey", "Call the housing office", "--mine"], as: "socialWorker")
            #expect(task.status == 0, "\(task.errors)")
            let removed = try await clinic.care(["team", "remove", "socialWorker"], as: "admin")
            #expect(removed.status == 0, "\(removed.errors)")
            #expect(
                removed.output.hasPrefix("Took CLI socialWorker off CLI team. 1 open task went back to the pools"),
                "\(removed.output)")
            let gone = try await clinic.care(["patient", "show", clinic.patient.uuidString], as: "socialWorker")
            #expect(gone.status == 3, "\(gone.output)\(gone.errors)")
            let pooled = try await clinic.pool.query(
                "SELECT owner_id IS NULL, status FROM tasks WHERE title = 'Call the housing office'")
            #expect(
                try pooled.map { try $0.decode(Bool.self, String.self) }.map { "\($0.0) \($0.1)" } == ["true requested"]
            )

            // The last admin stays.
            #expect(
                try await clinic.care(["team", "roles", "Morgan", "--role", "care-manager"], as: "admin").status == 0)
            let last = try await clinic.care(["team", "remove", "Ada"], as: "admin")
            #expect(last.status == 4 && last.errors.split(separator: "\n").count == 1, "\(last.errors)")
            #expect(Set(try await members()["Dr. Ada Admin"] ?? []) == ["admin", "psychiatrist"])
        } catch {
            try await clinic.stop()
            throw error
        }
        try await clinic.stop()
    }
}
