import ArgumentParser
import CareClient
import CareDomain
import Foundation

// The daily verbs that are not a table of their own (docs/cli.md): enrol and discharge a
// patient; list tasks, trials, referrals, handoffs and snapshots; show one task; take a handoff.

extension PatientCommand {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Enrol a patient on one of my teams.",
            discussion: """
                Examples:
                  care patient add --name "Frances Okafor" --mrn DEMO-1006
                  care patient add --name "Gus Lee" --mrn 88-1201 --team North --enrolled 2026-11-02
                """)
        @Option(help: "The patient's name as the team uses it.") var name: String
        @Option(help: "The medical record number.") var mrn: String
        @Option(help: "The team (name or id); may be left out if you are on one team.") var team: String?
        @Option(parsing: .unconditional, help: "When they were enrolled: YYYY-MM-DD, today, yesterday or -3d.")
        var enrolled: String = "today"
        @OptionGroup var server: ServerOptions

        func validate() throws {
            if name.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("--name cannot be empty") }
            if mrn.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("--mrn cannot be empty") }
            do { _ = try parseDay(enrolled) } catch { throw fail(error) }
        }

        func run() async throws {
            let created = try await withClient(server) { client -> Created in
                let team = try await ReportCommand.team(team, client)
                guard let teamID = UUID(uuidString: team.id) else { throw CLIError.usage("team \(team.id) has no id") }
                // The team's today (docs/time-zones.md).
                let day = try parseDay(
                    enrolled, calendar: LocalCalendar(identifier: team.timeZone ?? TeamTimeZone.utc))
                return try await client.post(
                    "v1/patients", NewPatient(teamId: teamID, mrn: mrn, displayName: name, enrolledOn: day))
            }
            print("Enrolled \(name) (MRN \(mrn)): patient \(Names.short(created.id)).")
        }
    }

    struct Discharge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Discharge a patient: their open handoffs and tasks are closed with that reason.",
            discussion: "Example: care patient discharge Bruno")
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let (name, moved) = try await withClient(server) { client -> (String, Moved) in
                let id = try await Names.patient(patient, client)
                let summary = try await client.patient(id)
                return (summary.displayName, try await client.movePatient(id, to: PatientStatus.discharged.rawValue))
            }
            let closed = moved.supersededHandoffIds.count + (moved.cancelledTaskIds?.count ?? 0)
            print(
                "Discharged \(name)."
                    + (closed > 0
                        ? " \(Format.count(closed, "open handoff or task", plural: "open handoffs and tasks")) "
                            + (closed == 1 ? "was closed." : "were closed.") : ""))
        }
    }
}

extension PatientCommand {
    struct BirthDate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "birth-date",
            abstract: "Record (or clear) a patient's date of birth, which payers' age criteria read.",
            discussion: """
                Examples:
                  care patient birth-date Ada 1984-03-02
                  care patient birth-date Ada --clear
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Argument(help: "The date of birth, YYYY-MM-DD.") var date: String?
        @Flag(help: "Clear the recorded date of birth.") var clear = false
        @OptionGroup var server: ServerOptions

        func validate() throws {
            switch (date, clear) {
            case (nil, false): throw usage("give the date of birth (YYYY-MM-DD), or --clear")
            case (.some, true): throw usage("give a date or --clear, not both")
            case (let date?, false):
                guard let day = Day.parse(date) else { throw usage("'\(date)' is not a date: use YYYY-MM-DD") }
                if day > Date() { throw usage("'\(date)' is in the future: a date of birth is today or earlier") }
            case (nil, true): break
            }
        }

        func run() async throws {
            let (name, recorded) = try await withClient(server) { client -> (String, BirthDateRecorded) in
                let id = try await Names.patient(patient, client)
                let summary = try await client.patient(id)
                return (summary.displayName, try await client.setBirthDate(patient: id, clear ? nil : date))
            }
            print(
                recorded.birthDate.map { "Date of birth of \(name) recorded: \($0)." }
                    ?? "Date of birth of \(name) cleared.")
        }
    }

    struct Document: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Document a statement a payer's criteria read (a prior-authorisation packet shows it).",
            discussion: """
                The key says what it is filed under: rapid-response (the need for a rapid response), \
                anaesthesia-workup (ECT's anaesthesia work-up), no-psychotherapy (why no psychotherapy was \
                possible), oral-antidepressant (esketamine's), certified-centre, or a key a payer's criteria set \
                names. The newest statement of a key is the one read.
                Examples:
                  care patient document Ada no-psychotherapy "Declined CBT twice; no therapist within 60 miles"
                  care patient document Eli rapid-response --file statement.txt
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Argument(
            help: "What it is filed under: rapid-response, anaesthesia-workup, no-psychotherapy, ...",
            completion: .list([
                "rapid-response", "anaesthesia-workup", "no-psychotherapy", "oral-antidepressant", "certified-centre",
            ])) var key: String
        @Argument(help: "The statement; left out, it is read from --file, piped input or $EDITOR.") var text: String?
        @Option(help: "Read the statement from this file ('-' for standard input).") var file: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            guard key.wholeMatch(of: /[a-z][a-z0-9-]{0,63}/) != nil else {
                throw usage("'\(key)' is not a key: lower-case letters, digits and '-', e.g. no-psychotherapy")
            }
            if text != nil, file != nil { throw usage("give the statement as text or with --file, not both") }
        }

        func run() async throws {
            let statement: String
            do {
                statement = try composeText(text, file: file, what: "statement")
            } catch { throw fail(error) }
            let (name, recorded) = try await withClient(server) { client -> (String, StatementRecorded) in
                let id = try await Names.patient(patient, client)
                let summary = try await client.patient(id)
                return (
                    summary.displayName,
                    try await client.documentForPriorAuth(patient: id, key: key, text: statement)
                )
            }
            print("Documented for \(name) under \(recorded.key) (statement \(Names.short(recorded.id))).")
        }
    }
}

extension TaskCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open tasks: a patient's, or (with no patient) mine and my roles' pools.",
            discussion: """
                Examples:
                  care task list
                  care task list Ada --wide
                """)
        @Argument(help: "A patient (part of the name, the MRN or an id's start); mine when left out.")
        var patient: String?
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let (tasks, names) = try await withClient(server) { client -> ([TaskItem], [String: String]) in
                if let patient {
                    let summary = try await Names.summary(patient, client)
                    return (summary.openTasks, [summary.id: summary.displayName])
                }
                let tasks = try await client.queue()
                return (tasks, try await Names.patientNames(client))
            }
            if output.json { return print(try Format.json(tasks)) }
            guard !tasks.isEmpty else { return print("No open tasks.") }
            var table = Table(headers: ["ID", "PRIORITY", "DUE", "STATUS", "PATIENT", "FOR", "WHAT"])
            for task in tasks {
                table.add([
                    output.id(task.id), task.priority, Format.due(task.dueAt), task.status,
                    names[task.patientId] ?? Names.short(task.patientId),
                    Names.role(task.poolRole ?? "owner"), task.title,
                ])
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand, ShowsByDefault {
        /// The first characters of an id (docs/cli.md, "Naming records").
        static func couldName(_ word: String) -> Bool {
            word.count >= 4 && word.allSatisfy { $0.isHexDigit || $0 == "-" }
        }

        static let configuration = CommandConfiguration(
            abstract: "One task (or handoff): what, whose, due, status, and why it exists.",
            discussion: "Example: care task show 1a2b3c4d")
        @Argument(help: "The task's id, or its first characters (8 are shown).") var id: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let task = try await withClient(server, zones: true) {
                try await $0.task(try await Names.record("task", id, $0))
            }
            if output.json { return print(try Format.json(task)) }
            var lines = [Terminal.bold(task.title) + "  " + Terminal.dim(output.id(task.id))]
            lines.append(
                "  status: \(task.status), priority \(task.priority)" + (task.statusReason.map { " (\($0))" } ?? ""))
            lines.append(
                "  for: "
                    + (task.poolRole.map { "the \(Names.role($0)) pool" } ?? "its owner"))
            if let due = task.dueAt { lines.append("  due: \(Format.whenNamed(due)) (\(Format.due(due)))") }
            if let evidence = task.evidence { lines.append("  done: \(evidence)") }
            if let step = task.step { lines.append("  playbook step: \(step)") }
            for cause in task.causes ?? [] {
                lines.append("  because: \(cause.summary)" + (cause.withdrawnAt == nil ? "" : " (withdrawn)"))
            }
            print(lines.joined(separator: "\n"))
        }
    }
}

extension HandoffCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Handoffs for my roles that nobody has acknowledged yet.",
            discussion: "Example: care handoff list")
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let (handoffs, names) = try await withClient(server) { client -> ([Handoff], [String: String]) in
                let open = try await client.handoffs().filter { $0.acknowledgedAt == nil }
                return (open, try await Names.patientNames(client))
            }
            if output.json { return print(try Format.json(handoffs)) }
            guard !handoffs.isEmpty else { return print("No handoffs waiting for your roles.") }
            var table = Table(headers: ["ID", "DUE", "FOR", "PATIENT", "WHY"])
            for handoff in handoffs {
                table.add([
                    output.id(handoff.id), Format.due(handoff.dueAt),
                    Names.role(handoff.role),
                    names[handoff.patientId] ?? Names.short(handoff.patientId), handoff.reason,
                ])
            }
            print(table.render())
        }
    }

    struct Take: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge a handoff for my role and claim its task, in one step.",
            discussion: "Example: care handoff take 1a2b3c4d (several: care handoff take 1a2b3c4d 5e6f7a8b)")
        @Argument(help: "The handoff's id, or its first characters; several to take each in turn.") var id: [String]
        @OptionGroup var server: ServerOptions

        func run() async throws {
            try await withClient(server) { client in
                for id in try await Names.records("task", id, client, what: "handoff") {
                    _ = try await client.acknowledge(handoff: id)
                    let task = try await client.task(id, "claim")
                    print("Took it: \(task.title) (task \(Names.short(task.id)), \(task.status)).")
                }
            }
        }
    }
}

extension TrialCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A patient's treatment trials, oldest first, with their adequacy.",
            discussion: "Example: care trial list Ada")
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let summary = try await withClient(server) { try await Names.summary(patient, $0) }
            if output.json { return print(try Format.json(summary.trials)) }
            guard !summary.trials.isEmpty else { return print("No trials recorded for \(summary.displayName).") }
            var table = Table(headers: ["ID", "KIND", "DRUG OR THERAPY", "STARTED", "STOPPED", "OUTCOME", "ADEQUATE"])
            for trial in summary.trials {
                table.add([
                    output.id(trial.id), trial.kind, Format.treatment(trial), trial.startedOn, trial.stoppedOn ?? "-",
                    trial.outcome.map { trial.isFailed ? Terminal.red($0) : $0 } ?? "ongoing",
                    Format.adequacy(trial),
                ])
            }
            print(table.render())
        }
    }
}

extension ReferralCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A patient's referrals and where each stands.", discussion: "Example: care referral list Ada")
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let summary = try await withClient(server) { try await Names.summary(patient, $0) }
            if output.json { return print(try Format.json(summary.referrals)) }
            guard !summary.referrals.isEmpty else { return print("No referrals for \(summary.displayName).") }
            var table = Table(headers: ["ID", "KIND", "TO", "STATUS", "MADE"])
            for referral in summary.referrals {
                table.add([
                    output.id(referral.id), referral.kind.uppercased(), referral.targetClinic, referral.status,
                    Format.ago(referral.createdAt),
                ])
            }
            print(table.render())
        }
    }
}

extension ReportCommand {
    struct Snapshots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The snapshots kept of a week's report.",
            discussion: "Example: care report snapshots --team North --week 2026-W48")
        @Option(help: "The team (id or name); may be left out if you are on one team.") var team: String?
        @Option(help: "The ISO week (default: this week).") var week: String?
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let kept = try await withClient(server, zones: true) { client -> [CareWire.Snapshot] in
                let team = try await ReportCommand.team(team, client)
                let week = try ReportCommand.week(week, zone: team.timeZone)
                return try await client.all("v1/teams/\(team.id)/reports/weekly/\(week)/snapshots", limit: 200)
            }
            if output.json { return print(try Format.json(kept)) }
            guard !kept.isEmpty else { return print("No snapshot kept of that week's report.") }
            var table = Table(headers: ["ID", "WEEK", "TAKEN", "RECOMMENDATIONS"])
            for snapshot in kept {
                table.add([
                    output.id(snapshot.id), snapshot.isoWeek, Format.when(snapshot.takenAt),
                    String(snapshot.recommendations ?? 0),
                ])
            }
            print(table.render())
        }
    }
}
