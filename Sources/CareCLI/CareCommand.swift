import ArgumentParser
import CareClient
import CareDomain
import Foundation

/// `care`: the team member's client. It talks to care-server's HTTP API only and never links
/// libpq.
public struct CareCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "care",
        abstract: "CareRelay's command-line client for psychiatrists, psychologists and social workers.",
        discussion: """
            Start with: care login --server http://127.0.0.1:8080   (then care queue)
            CARE_SERVER and CARE_TOKEN override the saved profile; --profile (or CARE_PROFILE) picks one.
            Read commands take --json. Colour only on a terminal, never with NO_COLOR set.
            Shell completion: care --generate-completion-script bash|zsh|fish

            Exit codes:
              0   success
              1   the server failed, or answered what care does not understand
              2   the input was refused (400, 413, 422), or a name matched several patients or records (listed)
              3   not found or not allowed (403, 404), or a name matched nothing of your teams
              4   conflict: changed meanwhile or already done (409, 412, 428)
              5   the server is unreachable
              6   not logged in, or the token was refused (401)
              64  usage: bad arguments
            """,
        version: CareClient.version,
        subcommands: [
            Login.self, ProfileCommand.self, WhoAmI.self, Today.self, Queue.self, Patients.self, PatientCommand.self,
            TaskCommand.self,
            HandoffCommand.self,
            NoteCommand.self, ScoreCommand.self, TrialCommand.self, Refer.self, ReferralCommand.self,
            EnteredInErrorCommand.self, PlanCommand.self, Events.self,
            ReportCommand.self, TeamCommand.self,
        ]
    )

    public init() {}
}

// MARK: Login and who I am

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a server and token as a profile (~/.config/carerelay/config, mode 0600).",
        discussion: """
            The token is read from a prompt (not echoed) or from standard input, and checked with the server.
            Examples:
              care login --server http://127.0.0.1:8080
              echo "$TOKEN" | care login --server https://care.example.org --profile clinic
            """)

    @Option(help: "The care-server URL, e.g. http://127.0.0.1:8080.") var server: String
    @Option(help: "The profile name (default: the profile in use; the first one logged in is used from then on).")
    var profile: String?

    func run() async throws {
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme),
            url.host != nil
        else {
            throw fail(CLIError.usage("'\(server)' is not an http or https URL"))
        }
        let token: String
        if Terminal.standardInputIsTerminal {
            guard let typed = getpass("Token (crt_...): ") else { throw fail(CLIError.usage("no token given")) }
            token = String(cString: typed).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            token = Terminal.readStandardInput().trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard token.hasPrefix("crt_") else { throw fail(CLIError.usage("a token starts with crt_")) }
        let client = CareClient(server: url, token: token)
        let me: Me
        do {
            me = try await client.me()
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw fail(error)
        }
        let name: String
        do {
            var config = try Config.load()
            name = profile ?? config.current ?? "default"
            guard name != Config.settings else { throw CLIError.usage("'\(Config.settings)' cannot name a profile") }
            config.profiles[name] = ["server": url.absoluteString, "token": token]
            if config.current == nil { config.current = name }
            try config.save()
        } catch {
            throw fail(error)
        }
        print("Logged in to \(url.absoluteString) as \(me.displayName) (profile \(name), saved in \(Config.path)).")
    }
}

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whoami", abstract: "Who the token speaks for, with teams and roles.",
        discussion: "Example: care whoami --json")
    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ReadOptions

    func run() async throws {
        let me = try await withClient(server, zones: true) { try await $0.me() }
        if output.json { return print(try Format.json(me)) }
        print(
            "\(Terminal.bold(me.displayName))\(me.isServiceAccount ? " (service account)" : "")  \(Terminal.dim(me.id))"
        )
        for team in me.teams {
            print(
                """
                  \(team.name): \(team.roles.joined(separator: ", ")), \(team.timeZone ?? "UTC")  \
                \(Terminal.dim(team.id))
                """
            )
        }
        if !me.scopes.isEmpty { print("  scopes: \(me.scopes.joined(separator: ", "))") }
        print(
            "  times shown in \(Zones.current.display.identifier == "GMT" ? "UTC" : Zones.current.display.identifier)")
    }
}

// MARK: The queue

struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "My tasks and handoffs: overdue first, then by priority and due time.",
        discussion: """
            Handoffs (tasks another role's event made for mine) are marked; acknowledge them with care handoff ack ID.
            Examples:
              care queue
              care queue --json | jq '.[] | select(.kind == "handoff")'
            """)
    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ReadOptions

    struct Row: Encodable {
        var kind: String
        var id: String
        var taskId: String
        var patientId: String
        var patient: String?
        var title: String
        var priority: String
        var status: String
        var dueAt: Date?
        var overdue: Bool
    }

    static let priorityRank = ["stat": 0, "asap": 1, "urgent": 2, "routine": 3]

    func run() async throws {
        let rows = try await withClient(server) { client -> [Row] in
            async let tasks = client.queue()
            async let handoffs = client.handoffs()
            let (myTasks, myHandoffs) = try await (tasks, handoffs)
            let open = myHandoffs.filter { $0.acknowledgedAt == nil }
            let byTask = Dictionary(open.map { ($0.taskId, $0) }, uniquingKeysWith: { first, _ in first })
            let names =
                myTasks.isEmpty && open.isEmpty
                ? [:]
                : try await Names.patientNames(client)
            let now = Date()
            var rows = myTasks.map { task -> Row in
                let handoff = byTask[task.id]
                return Row(
                    kind: handoff == nil ? "task" : "handoff", id: handoff?.id ?? task.id, taskId: task.id,
                    patientId: task.patientId,
                    patient: names[task.patientId], title: handoff.map { "\(task.title) — \($0.reason)" } ?? task.title,
                    priority: task.priority, status: task.status, dueAt: task.dueAt ?? handoff?.dueAt,
                    overdue: (task.dueAt ?? .distantFuture) < now)
            }
            // Handoffs whose task is not in my queue (someone else claimed it): still mine to acknowledge.
            let listed = Set(myTasks.map(\.id))
            for handoff in open where !listed.contains(handoff.taskId) {
                rows.append(
                    Row(
                        kind: "handoff", id: handoff.id, taskId: handoff.taskId, patientId: handoff.patientId,
                        patient: names[handoff.patientId],
                        title: handoff.reason, priority: "routine", status: "acknowledge", dueAt: handoff.dueAt,
                        overdue: handoff.dueAt < now))
            }
            return rows.sorted { a, b in
                if a.overdue != b.overdue { return a.overdue }
                let (pa, pb) = (Self.priorityRank[a.priority] ?? 9, Self.priorityRank[b.priority] ?? 9)
                if pa != pb { return pa < pb }
                return (a.dueAt ?? .distantFuture) < (b.dueAt ?? .distantFuture)
            }
        }
        if output.json { return print(try Format.json(rows)) }
        guard !rows.isEmpty else { return print("Nothing in your queue.") }
        var table = Table(headers: ["ID", "KIND", "PRIORITY", "DUE", "PATIENT", "WHAT"])
        for row in rows {
            let priority =
                ["stat", "asap"].contains(row.priority)
                ? Terminal.red(row.priority) : row.priority == "urgent" ? Terminal.yellow(row.priority) : row.priority
            table.add([
                output.id(row.id), row.kind == "handoff" ? Terminal.bold("handoff") : "task", priority,
                Format.due(row.dueAt),
                row.patient ?? String(row.patientId.prefix(8)), row.title,
            ])
        }
        print(table.render())
    }
}

// MARK: Patients

struct Patients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The patients of my teams: latest PHQ-9 with its band, TRD, open items.",
        discussion: """
            Examples:
              care patients
              care patients --search lind --json
            """)
    @Option(help: "Part of a name or MRN.") var search: String?
    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ReadOptions

    func run() async throws {
        let patients = try await withClient(server) { try await $0.patients(search: search) }
        if output.json { return print(try Format.json(patients)) }
        guard !patients.isEmpty else {
            return print(search == nil ? "No patients on your teams." : "No patient matches '\(search!)'.")
        }
        var table = Table(headers: ["ID", "NAME", "MRN", "PHQ-9", "TRD", "OPEN", "STATUS"])
        for patient in patients {
            let score =
                patient.latestPhq9.map {
                    "\($0.total) \($0.severity), \(Format.ago($0.takenAt))"
                        + ($0.safetySignal == true ? ", " + Terminal.red("item 9 above 0") : "")
                } ?? "-"
            table.add([
                output.id(patient.id), patient.displayName, patient.mrn, score,
                patient.isTrd == true ? Terminal.red("yes") : "no", String(patient.openItems ?? 0),
                patient.status.replacingOccurrences(of: "-", with: " "),
            ])
        }
        print(table.render())
    }
}

struct PatientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient", abstract: "One patient.",
        discussion: "care patient PATIENT is care patient show PATIENT.",
        subcommands: [Show.self, Timeline.self, Add.self, Discharge.self, BirthDate.self, Document.self],
        defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                """
                A patient's plan, scores, response, TRD status and stage with reasons, trials, referrals, open work \
                and recent notes.
                """,
            discussion: "Example: care patient show 647bc1f0-2c1a-4a0e-9a51-6f3f4f0a9b7e")
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var id: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let summary = try await withClient(server) { try await Names.summary(id, $0) }
            if output.json { return print(try Format.json(summary)) }
            print(PatientView.render(summary, ids: output.id))
        }
    }
}

enum PatientView {
    static func render(_ s: Summary, ids: (String) -> String = { $0 }) -> String {
        var lines: [String] = []
        lines.append(
            """
            \(Terminal.bold(s.displayName))  MRN \(s.mrn)  \(s.status == "enrolled" ? "" : "\(s.status), ")enrolled \
            \(s.enrolledOn)  \(Terminal.dim(s.id))
            """
        )
        lines.append("")
        lines.append(Terminal.bold("Plan") + " (version \(s.carePlan.version))")
        lines.append("  Treatment line: \(s.carePlan.treatmentLine.isEmpty ? "-" : s.carePlan.treatmentLine)")
        for goal in s.carePlan.goals { lines.append("  goal: \(goal)") }
        for problem in s.carePlan.problems { lines.append("  problem: \(problem)") }
        lines.append("")
        lines.append(Terminal.bold("Scores"))
        for instrument in Set(s.scores.map(\.instrument)).sorted() {
            let scores = s.scores.filter { $0.instrument == instrument }.sorted { $0.takenAt < $1.takenAt }
            let maximum = ["PHQ-9": 27, "GAD-7": 21, "MADRS": 60][instrument] ?? 27
            let latest = scores.last!
            lines.append(
                """
                  \(instrument)  \(Format.sparkline(scores.map(\.total), maximum: maximum))  \
                \(scores.map { String($0.total) }.joined(separator: " → "))
                """
                    + """
                      latest \(latest.total)\(latest.severity.map { " (\($0))" } ?? "") \
                    \(Format.ago(latest.takenAt))
                    """
                    + (scores.contains(where: \.safetySignal) ? Terminal.red("  safety signal") : ""))
        }
        if let response = s.response {
            lines.append(
                """
                  Response: \(response.category) (\(Wording.change(response.improvement)) than baseline)
                """
            )
        }
        lines.append("")
        lines.append(
            Terminal.bold("TRD") + ": " + (s.trd.isTrd ? Terminal.red("yes") : "no")
                + """
                 — \(s.trd.failedTrials) failed adequate trial\(s.trd.failedTrials == 1 ? "" : "s") in \
                \(s.trd.distinctClasses) class\(s.trd.distinctClasses == 1 ? "" : "es"); \
                Thase-Rush stage \(s.thaseRush.stage)
                """
                + (s.maudsley.map { "; Maudsley \($0.total) (\($0.band))" } ?? ""))
        // What the rules weighed, once there is something to weigh: with no failed adequate
        // trial the line above says it all.
        // One line for each rule; a Thase-Rush input that repeats a TRD one (the classes) is said once.
        if s.trd.failedTrials > 0 {
            func said(_ inputs: [RuleInput]) -> String {
                inputs.map { "\($0.name): \($0.value.isEmpty ? "none" : $0.value)" }.joined(separator: "; ")
            }
            let classes = s.trd.inputs.first { $0.name == "classes" }?.value
            lines.append("  TRD rule: " + said(s.trd.inputs))
            lines.append(
                "  Thase-Rush: "
                    + said(s.thaseRush.inputs.filter { !($0.name == "classes failed" && $0.value == classes) }))
        }
        if !s.trials.isEmpty {
            lines.append("")
            var table = Table(headers: [
                "TRIAL", "KIND", "DRUG OR THERAPY", "STARTED", "STOPPED", "OUTCOME", "ADEQUATE",
            ])
            for trial in s.trials {
                table.add([
                    ids(trial.id), trial.kind, Format.treatment(trial), trial.startedOn, trial.stoppedOn ?? "-",
                    trial.outcome.map { trial.isFailed ? Terminal.red($0) : $0 } ?? "ongoing",
                    Format.adequacy(trial),
                ])
            }
            lines.append(table.render())
        }
        if !s.referrals.isEmpty {
            lines.append("")
            var table = Table(headers: ["REFERRAL", "KIND", "TO", "STATUS", "MADE"])
            for referral in s.referrals {
                table.add([
                    ids(referral.id), referral.kind.uppercased(), referral.targetClinic, referral.status,
                    Format.ago(referral.createdAt),
                ])
            }
            lines.append(table.render())
        }
        if !s.openTasks.isEmpty || !s.openHandoffs.isEmpty {
            lines.append("")
            var table = Table(headers: ["OPEN", "ID", "WHO", "DUE", "WHAT"])
            // A handoff says what to do (its task's title) and why (its cause), as the queue does.
            let titles = Dictionary(s.openTasks.map { ($0.id, $0.title) }, uniquingKeysWith: { first, _ in first })
            for handoff in s.openHandoffs {
                let what = titles[handoff.taskId].map { "\($0) — \(handoff.reason)" } ?? handoff.reason
                table.add(["handoff", ids(handoff.id), handoff.role, Format.due(handoff.dueAt), what])
            }
            let handoffTasks = Set(s.openHandoffs.map(\.taskId))
            for task in s.openTasks where !handoffTasks.contains(task.id) {
                table.add([
                    "task", ids(task.id), task.poolRole ?? "owner", Format.due(task.dueAt),
                    "\(task.title) (\(task.status))",
                ])
            }
            lines.append(table.render())
        }
        if !s.recentNotes.isEmpty {
            lines.append("")
            lines.append(Terminal.bold("Recent notes"))
            for note in s.recentNotes {
                let first = note.body.split(separator: "\n").first.map(String.init) ?? ""
                lines.append(
                    """
                      \(Format.ago(note.createdAt)), \(note.kind): \
                    \(first.count > 100 ? String(first.prefix(99)) + "…" : first)  \(Terminal.dim(ids(note.id)))
                    """
                )
            }
        }
        return lines.joined(separator: "\n")
    }
}
