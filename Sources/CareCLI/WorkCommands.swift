import ArgumentParser
import CareClient
import CareDomain
import CoreFormats
import Foundation

// MARK: Tasks and handoffs

struct TaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Add and work tasks.",
        discussion: """
            A task moves requested -> accepted (claimed) -> in-progress -> completed; done on a task nobody has \
            claimed claims it for you in the same step. Hold and resume it while you wait for something; \
            cancel or fail it with a reason. A handoff's id works wherever a task's does. care task ID is \
            care task show ID.
            """,
        subcommands: [
            List.self, Show.self, Add.self, Move.Claim.self, Move.Start.self, Move.Hold.self, Move.Resume.self,
            Move.Done.self, Move.Cancel.self, Move.Fail.self,
        ], defaultSubcommand: Show.self)

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a task for a patient: for a role's pool, or for me.",
            discussion: """
                Examples:
                  care task add PATIENT "Call about side effects" --for social_worker --due +2d
                  care task add PATIENT "Review labs" --mine --priority urgent
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Argument(help: "What is to be done.") var title: String
        @Option(
            name: .customLong("for"),
            help: "The role whose pool gets it: psychiatrist, psychologist, social_worker, care_manager.",
            completion: Completions.clinicalRoles) var role: String?
        @Flag(help: "Make it mine (owned by me) rather than a pool's.") var mine = false
        @Option(help: "routine, urgent, asap or stat.", completion: Completions.names(TaskPriority.self)) var priority:
            String = "routine"
        @Option(
            parsing: .unconditional,
            help: "When it is due: +4h, +2d, today, tomorrow, a weekday (friday), YYYY-MM-DD or an RFC 3339 time.")
        var due: String?
        @Option(help: "More detail.") var note: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            guard (role == nil) != !mine else { throw usage("give --for ROLE or --mine (one of them)") }
            do {
                _ = try role.map { try named($0, "--for", among: Role.allCases.filter(\.isClinical)) as Role }
                _ = try named(priority, "--priority") as TaskPriority
                _ = try due.map { try parseDue($0) }
            } catch { throw fail(error) }
        }

        func run() async throws {
            let pool: Role? = try role.map { try named($0, "--for", among: Role.allCases.filter(\.isClinical)) }
            let priority: TaskPriority = try named(priority, "--priority")
            let created = try await withClient(server, zones: due != nil) { client -> Created in
                let patientID = try await Names.patient(patient, client)
                // "tomorrow" is the patient's team's tomorrow (docs/time-zones.md).
                let calendar = try await Zones.current.calendar(forPatient: patientID, client)
                var task = NewTask(
                    title: title, description: note, poolRole: pool, priority: priority,
                    dueAt: try due.map { try parseDue($0, calendar: calendar, warn: true) })
                if mine { task.ownerId = UUID(uuidString: try await client.me().id) }
                return try await client.createTask(patient: patientID, task)
            }
            print("Added task \(created.id).")
        }
    }

    enum Move {
        /// Moves each task named, in order: every name is resolved first, so a name that matches
        /// nothing (or several) moves none; then each move is said on its own line as it is made.
        static func run(
            _ server: ServerOptions, _ ids: [String], _ action: String, note: String? = nil, reason: String? = nil,
            done: String
        ) async throws {
            try await withClient(server) { client in
                for id in try await Names.records("task", ids, client) {
                    let task = try await client.task(id, action, note: note, reason: reason)
                    // "Claimed ... (accepted)"; "Completed ..." needs no "(completed)".
                    let status = done.lowercased() == task.status ? "" : " (\(task.status))"
                    print("\(done) \(task.title)\(status).")
                }
            }
        }

        struct Claim: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Take a task from my role's pool.", discussion: "Example: care task claim TASK")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @Option(help: "A note on the task.") var note: String?
            @OptionGroup var server: ServerOptions
            func run() async throws { try await Move.run(server, id, "claim", note: note, done: "Claimed") }
        }

        struct Start: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Start a task (one nobody has claimed becomes mine).",
                discussion: "Example: care task start TASK")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @Option(help: "A note on the task.") var note: String?
            @OptionGroup var server: ServerOptions
            func run() async throws { try await Move.run(server, id, "start", note: note, done: "Started") }
        }

        struct Hold: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put a task on hold while waiting for something.",
                discussion: "Example: care task hold TASK --reason \"Waiting for the GP's letter\"")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @Option(help: "What it waits for.") var reason: String?
            @OptionGroup var server: ServerOptions
            func run() async throws { try await Move.run(server, id, "hold", reason: reason, done: "On hold:") }
        }

        struct Resume: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Take a task off hold.", discussion: "Example: care task resume TASK")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @OptionGroup var server: ServerOptions
            func run() async throws { try await Move.run(server, id, "resume", done: "Resumed") }
        }

        struct Done: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Complete a task (one nobody has claimed becomes mine).",
                discussion:
                    "Example: care task done TASK --note \"Spoke with the pharmacy\"; care task done 1a2b3c4d 5e6f7a8b")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @Option(help: "What was done (kept as the task's evidence).") var note: String?
            @OptionGroup var server: ServerOptions
            func run() async throws { try await Move.run(server, id, "complete", note: note, done: "Completed") }
        }

        struct Cancel: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Cancel a task, saying why.",
                discussion: "Example: care task cancel TASK --reason \"Duplicate\"")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @Option(name: [.customLong("reason"), .customLong("note")], help: "Why (required).") var reason: String
            @OptionGroup var server: ServerOptions
            func validate() throws {
                if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("--reason cannot be empty") }
            }
            func run() async throws { try await Move.run(server, id, "cancel", reason: reason, done: "Cancelled") }
        }

        struct Fail: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Close a task that could not be done, saying why.",
                discussion: "Example: care task fail TASK --reason \"No transport in the area\"")
            @Argument(help: "The task's id, or its first characters (8 are shown); several for the same move.")
            var id: [String]
            @Option(help: "Why (required).") var reason: String
            @OptionGroup var server: ServerOptions
            func validate() throws {
                if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("--reason cannot be empty") }
            }
            func run() async throws { try await Move.run(server, id, "fail", reason: reason, done: "Failed:") }
        }
    }
}

struct HandoffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handoff", abstract: "Handoffs for my roles.",
        discussion:
            "A handoff belongs to its receiving role (the care manager may act on it too). Its id is its task's id.",
        subcommands: [List.self, Ack.self, Take.self, Reassign.self])

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge a handoff for my role (its task stays in the queue to be claimed and done).",
            discussion: "Example: care handoff ack HANDOFF (several: each in turn)")
        @Argument(help: "The handoff's id, or its first characters (care queue shows 8); several for each in turn.")
        var id: [String]
        @OptionGroup var server: ServerOptions

        func run() async throws {
            try await withClient(server) { client in
                for id in try await Names.records("task", id, client, what: "handoff") {
                    let task = try await client.acknowledge(handoff: id)
                    print("Acknowledged: \(task.title) (task \(task.id), \(task.status)).")
                }
            }
        }
    }

    struct Reassign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a handoff to another role, or to a named member of it, with a reason.",
            discussion: """
                The new receiver acknowledges it afresh; the patient's history shows the move.
                Example: care handoff reassign HANDOFF --to psychologist --reason "She writes the work letters"
                """)
        @Argument(help: "The handoff's id, or its first characters.") var id: String
        @Option(
            name: .customLong("to"), help: "psychiatrist, psychologist, social_worker or care_manager.",
            completion: Completions.clinicalRoles) var role: String
        @Option(help: "A member id holding that role (default: the role's pool).") var member: String?
        @Option(help: "Why (required).") var reason: String
        @OptionGroup var server: ServerOptions

        static let receivers: [Role] = Role.allCases.filter(\.isClinical)

        func validate() throws {
            do {
                _ = try named(role, "--to", among: Self.receivers) as Role
                _ = try member.map { try parseID($0, "--member") }
            } catch { throw fail(error) }
            if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("--reason cannot be empty") }
        }

        func run() async throws {
            let reassignment = Reassignment(
                role: try named(role, "--to", among: Self.receivers),
                memberId: try member.map { try parseID($0, "--member") },
                reason: reason)
            let task = try await withClient(server) {
                try await $0.reassign(handoff: try await Names.record("task", id, $0, what: "handoff"), reassignment)
            }
            print(
                """
                Reassigned to the \(Names.role(reassignment.role.rawValue))\(member.map { " (member \($0))" } ?? ""): \
                \(task.title).
                """
            )
        }
    }
}

// MARK: Notes and scores

struct NoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Read, add and amend notes.", subcommands: [List.self, Add.self, Amend.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A patient's notes, newest first (psychotherapy notes only to their author).",
            discussion: "Example: care note list PATIENT --json")
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let notes = try await withClient(server, zones: true) {
                try await $0.notes(patient: try await Names.patient(patient, $0))
            }
            if output.json { return print(try Format.json(notes)) }
            guard !notes.isEmpty else { return print("No notes.") }
            for note in notes {
                var marks = note.amendsId.map { " (amends \(output.id($0)))" } ?? ""
                if note.isAmended == true { marks += Terminal.yellow(" amended") }
                if let error = note.enteredInError { marks += Terminal.red(" entered in error: \(error.reason)") }
                print(
                    Terminal.bold("\(Format.day(note.createdAt)) \(note.kind)")
                        + " by \(note.authorName ?? note.authorId)" + marks + "  " + Terminal.dim(output.id(note.id)))
                print(
                    note.body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(
                        separator: "\n"))
                print("")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a note: as text, from --file, from standard input, or written in $EDITOR.",
            discussion: """
                Psychotherapy notes are shown to their author only.
                Examples:
                  care note add PATIENT "Sleeping better; walks daily."
                  care note add PATIENT                              # opens $EDITOR
                  care note add PATIENT --kind social --file visit.md
                  echo "Sleeping better." | care note add PATIENT
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Argument(help: "The note itself, quoted (a short one); otherwise --file, standard input or $EDITOR.")
        var text: String?
        @Option(help: "progress, psychotherapy or social.", completion: .list(["progress", "psychotherapy", "social"]))
        var kind: String = "progress"
        @Option(help: "Read the note from this file (- for standard input).") var file: String?
        @OptionGroup var server: ServerOptions

        static let kinds: [NoteKind] = [.progress, .psychotherapy, .social]

        func validate() throws {
            do { _ = try named(kind, "--kind", among: Self.kinds) as NoteKind } catch { throw fail(error) }
        }

        func run() async throws {
            let body: String
            do {
                body = try composeText(
                    text, file: file,
                    template: "\n#! Write the \(kind) note above. Lines starting with #! are left out.\n", what: "note")
            } catch { throw fail(error) }
            let kind: NoteKind = try named(kind, "--kind", among: Self.kinds)
            let created = try await withClient(server) {
                try await $0.addNote(patient: try await Names.patient(patient, $0), NewNote(kind: kind, body: body))
            }
            print("Added \(kind.rawValue) note \(created.id).")
        }
    }

    struct Amend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Amend a note (a new note that points at it; notes are never edited).",
            discussion: """
                Examples:
                  care note amend NOTE "Dose was 150 mg, not 100."
                  care note amend NOTE --file correction.md
                """)
        @Argument(help: "The note's id, or its first characters.") var note: String
        @Argument(help: "The amendment itself, quoted; otherwise --file, standard input or $EDITOR.")
        var text: String?
        @Option(help: "Read the amendment from this file (- for standard input).") var file: String?
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let body: String
            do {
                body = try composeText(
                    text, file: file,
                    template: "\n#! Write the amendment above. Lines starting with #! are left out.\n",
                    what: "amendment")
            } catch { throw fail(error) }
            let created = try await withClient(server) {
                try await $0.amend(note: try await Names.record("note", note, $0), body: body)
            }
            print("Amended: note \(created.id).")
        }
    }
}

struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Record rating-scale scores.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a PHQ-9 (item answers), a GAD-7 (item answers) or a MADRS (total).",
            discussion: """
                Examples:
                  care score add PATIENT --phq9 1,2,0,1,1,2,0,1,0
                  care score add PATIENT --madrs 24
                  care score add PATIENT --phq9 2,2,1,1,2,1,1,0,0 --taken yesterday   # a paper form from yesterday
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Option(help: "The nine PHQ-9 answers, 0-3 each, comma-separated.") var phq9: String?
        @Option(help: "The seven GAD-7 answers, 0-3 each, comma-separated.") var gad7: String?
        @Option(help: "The MADRS total, 0-60.") var madrs: Int?
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                """
                When it was taken, if not now: today, yesterday, -3d, a weekday, YYYY-MM-DD (noon that day \
                on the patient's team's calendar; today is now), YYYY-MM-DD HH:MM there, or an RFC 3339 time. Not in \
                the future.
                """,
                valueName: "when")) var taken: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            guard [phq9 != nil, gad7 != nil, madrs != nil].filter({ $0 }).count == 1 else {
                throw usage("give one of --phq9, --gad7 or --madrs")
            }
            // The form only: whether it is in the future is known on the team's calendar.
            if let taken {
                do { _ = try Self.takenAt(taken, now: .distantFuture) } catch { throw fail(error) }
            }
        }

        /// When a score was taken, read on the patient's team's calendar: TypedDates.taken
        /// (docs/time-zones.md), its refusals as one line each.
        static func takenAt(_ text: String, now: Date = Date(), calendar: LocalCalendar = .utc) throws -> Date {
            do throws(TypedDates.TakenRefusal) {
                return try TypedDates.taken(text, now: now, calendar: calendar)
            } catch {
                switch error {
                case .future(let instant):
                    let what = instant.map { Format.whenNamed($0) } ?? "'\(text)'"
                    throw CLIError.usage("--taken: \(what) is in the future; a score is taken now or earlier")
                case .notATime:
                    throw CLIError.usage(
                        """
                        --taken: '\(text)' is not a time: use today, yesterday, -3d, a weekday, YYYY-MM-DD, \
                        YYYY-MM-DD HH:MM (the team's time) or an RFC 3339 time
                        """)
                }
            }
        }

        static func answers(_ text: String, count: Int, name: String) throws -> [Int] {
            let items = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard items.count == count, items.allSatisfy({ $0 != nil && (0...3).contains($0!) }) else {
                throw usage(
                    """
                    --\(name) takes \(count) answers from 0 to 3, comma-separated (e.g. \
                    \(Array(repeating: "1", count: count).joined(separator: ",")))
                    """
                )
            }
            return items.map { $0! }
        }

        func run() async throws {
            let (instrument, items, total): (Instrument, [Int]?, Int?)
            if let phq9 {
                (instrument, items, total) = (.phq9, try Self.answers(phq9, count: 9, name: "phq9"), nil)
            } else if let gad7 {
                (instrument, items, total) = (.gad7, try Self.answers(gad7, count: 7, name: "gad7"), nil)
            } else {
                (instrument, items, total) = (.madrs, nil, madrs)
            }
            var takenAt: Date? = nil
            let created = try await withClient(server, zones: taken != nil) { client in
                let patientID = try await Names.patient(patient, client)
                if let taken {
                    let calendar = try await Zones.current.calendar(forPatient: patientID, client)
                    takenAt = try Self.takenAt(taken, calendar: calendar)
                }
                return try await client.addScore(
                    patient: patientID,
                    NewMeasurement(instrument: instrument, items: items, total: total, takenAt: takenAt))
            }
            let sum = items.map { $0.reduce(0, +) } ?? total ?? 0
            let signal = instrument == .phq9 && (items?.last ?? 0) > 0
            let severity = created.severity.map { ", \($0)" } ?? ""
            let when = takenAt.map { ", taken \(Format.whenNamed($0))" } ?? ""
            let warning = signal ? " " + Terminal.red("Item 9 is positive: a safety signal for the team.") : ""
            print("Recorded \(instrument.rawValue) \(sum)\(severity)\(when) (\(created.id)).\(warning)")
        }
    }
}

// MARK: Trials and referrals

/// `--confirm-high-dose REASON`, for a dose above the dose table's maximum.
struct HighDoseOption: ParsableArguments {
    @Option(
        name: .customLong("confirm-high-dose"),
        help: "Why a dose above the dose table's maximum is right (records it anyway).")
    var reason: String?
}

struct TrialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trial", abstract: "Treatment trials.",
        subcommands: [List.self, Start.self, Dose.self, Outcome.self])

    struct Dose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a running medication trial's daily dose (titration up or down), from a day on.",
            discussion: """
                The new dose holds from --from (today unless given) on; doses recorded from that day on are \
                replaced. Adequacy counts the weeks at or above the dose table's adequate dose.
                Examples:
                  care trial dose TRIAL 100
                  care trial dose TRIAL 150 --from monday
                  care trial dose TRIAL 300 --confirm-high-dose "Rapid metaboliser, level checked"
                """)
        @Argument(help: "The trial's id, or its first characters.") var trial: String
        @Argument(help: "The new daily dose in mg.") var dose: Double
        @Option(
            parsing: .unconditional,
            help: "From when: YYYY-MM-DD, today, yesterday, a weekday, or -3d for three days ago.")
        var from: String = "today"
        @OptionGroup var highDose: HighDoseOption
        @OptionGroup var server: ServerOptions

        func validate() throws {
            if !(dose > 0) { throw usage("the dose must be more than 0 (mg a day)") }
            do { _ = try parseDay(from) } catch { throw fail(error) }
        }

        func run() async throws {
            let changed = try await withClient(server, zones: true) { client in
                let trialID = try await Names.record("trial", trial, client)
                // On the calendar of the patient's team (docs/time-zones.md).
                let calendar = try await Zones.current.calendar(forRecord: "trial", trialID, client)
                return try await client.changeDose(
                    trial: trialID,
                    NewDose(
                        dailyDoseMg: dose, from: try parseDay(from, calendar: calendar),
                        highDoseReason: highDose.reason))
            }
            let steps = (changed.doseSteps ?? []).map { "\($0.dailyDoseMg.plainText) mg from \($0.from)" }
            print(
                "\(changed.drug ?? "The trial"): \(steps.joined(separator: ", then "))."
                    + (changed.adequacy == nil ? "" : " Adequate: \(Format.adequacy(changed))."))
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a medication trial (or --therapy for psychotherapy).",
            discussion: """
                Examples:
                  care trial start PATIENT --drug sertraline --dose 100 --start 2026-11-01
                  care trial start PATIENT --therapy CBT --start today
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Option(help: "The drug (as in the dose table).", completion: Completions.drugs) var drug: String?
        @Option(help: "The daily dose in mg.") var dose: Double?
        @Option(help: "A psychotherapy (e.g. CBT) instead of a drug.") var therapy: String?
        @Flag(help: "An augmentation (with --drug).") var augmentation = false
        @Option(
            parsing: .unconditional,
            help: "When it started: YYYY-MM-DD, today, yesterday, a weekday, or -3d for three days ago.")
        var start: String = "today"
        @OptionGroup var highDose: HighDoseOption
        @OptionGroup var server: ServerOptions

        func validate() throws {
            guard (drug != nil) != (therapy != nil) else { throw usage("give --drug (with --dose) or --therapy") }
            if drug != nil, dose == nil { throw usage("--drug needs --dose (mg a day)") }
            if let dose, dose <= 0 { throw usage("--dose must be more than 0") }
        }

        func run() async throws {
            do { _ = try parseDay(start) } catch { throw fail(error) }
            let kind: TrialKind = therapy != nil ? .psychotherapy : augmentation ? .augmentation : .medication
            let (name, created) = try await withClient(server, zones: true) { client -> (String, Created) in
                let patientID = try await Names.patient(patient, client)
                let calendar = try await Zones.current.calendar(forPatient: patientID, client)
                let created = try await client.startTrial(
                    patient: patientID,
                    NewTrial(
                        kind: kind, drug: drug, dailyDoseMg: dose, startedOn: try parseDay(start, calendar: calendar),
                        therapy: therapy, highDoseReason: highDose.reason))
                return (try await client.patient(patientID).displayName, created)
            }
            let treatment =
                therapy ?? "\(drug?.lowercased() ?? "") \((dose ?? 0).plainText) mg a day"
                + (kind == .augmentation ? " (augmentation)" : "")
            print("Started \(treatment) for \(name): trial \(created.id).")
        }
    }

    struct Outcome: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record how a trial ended; a failed adequate trial makes handoffs for the other roles.",
            discussion: """
                Examples:
                  care trial outcome TRIAL --result non-response --stopped today --adherence 0.9
                  care trial outcome THERAPY-TRIAL --result partial --sessions 12 --reason "Moved out of the area"
                """)
        @Argument(help: "The trial's id, or its first characters.") var trial: String
        @Option(
            help: "non-response, partial, response, intolerance or stopped-early.",
            completion: Completions.names(TrialOutcome.self)) var result: String
        @Option(
            parsing: .unconditional,
            help: "When it stopped: YYYY-MM-DD, today, yesterday, a weekday, or -3d for three days ago.")
        var stopped: String = "today"
        @Option(help: "Share of doses taken, 0 to 1.") var adherence: Double?
        @Option(help: "Psychotherapy sessions attended.") var sessions: Int?
        @Option(help: "Why it stopped.") var reason: String?
        @OptionGroup var server: ServerOptions

        static let aliases: [String: TrialOutcome] = ["partial": .partialResponse, "none": .nonResponse]

        func validate() throws {
            do { _ = try named(result, "--result", aliases: Self.aliases) as TrialOutcome } catch { throw fail(error) }
            if let adherence, !(0...1).contains(adherence) { throw usage("--adherence is a share from 0 to 1") }
            if let sessions, sessions < 0 { throw usage("--sessions cannot be negative") }
        }

        func run() async throws {
            do { _ = try parseDay(stopped) } catch { throw fail(error) }
            let result: TrialOutcome = try named(result, "--result", aliases: Self.aliases)
            let outcome = try await withClient(server, zones: true) { client in
                // On the calendar of the patient's team (docs/time-zones.md).
                let trialID = try await Names.record("trial", trial, client)
                let calendar = try await Zones.current.calendar(forRecord: "trial", trialID, client)
                let recorded = NewOutcome(
                    outcome: result, stoppedOn: try parseDay(stopped, calendar: calendar), adherence: adherence,
                    sessions: sessions, stopReason: reason)
                return try await client.recordOutcome(trial: trialID, recorded)
            }
            var line = "Recorded \(outcome.outcome)."
            if outcome.isFailed {
                line += " The trial counts as failed" + (outcome.adequacy.map { " (\($0.reason))" } ?? "") + "."
            }
            if outcome.trdReached {
                line += " " + Terminal.red("The patient now meets treatment-resistant depression.")
            }
            if !outcome.handoffIds.isEmpty {
                line += " \(Format.count(outcome.handoffIds.count, "handoff")) went to the team."
            }
            if let joined = outcome.joinedHandoffIds, !joined.isEmpty {
                line +=
                    joined.count == 1
                    ? " An open handoff has it as one more cause."
                    : " \(joined.count) open handoffs have it as one more cause."
            }
            print(line)
        }
    }
}

struct Refer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refer a patient for TMS, ECT or esketamine (psychiatrists), or elsewhere.",
        discussion:
            "Example: care refer PATIENT tms --to \"Riverside TMS Centre\" --note \"Two adequate trials failed\"")
    @Argument(
        help: "The patient: part of the name, the MRN or the first characters of the id.",
        completion: .custom(Completions.patients)) var patient: String
    @Argument(help: "tms, ect, esketamine or other.", completion: Completions.names(ReferralKind.self)) var kind: String
    @Option(name: .customLong("to"), help: "The clinic or service.") var clinic: String
    @Option(help: "A note for the referral.") var note: String?
    @Option(help: "Why a second open referral of the same kind (a second clinic, say).") var reason: String?
    @OptionGroup var server: ServerOptions

    func validate() throws {
        do { _ = try named(kind, "the kind") as ReferralKind } catch { throw fail(error) }
    }

    func run() async throws {
        let referral = NewReferral(kind: try named(kind, "the kind"), targetClinic: clinic, note: note, reason: reason)
        let created = try await withClient(server) {
            try await $0.refer(patient: try await Names.patient(patient, $0), referral)
        }
        let handoffs = created.handoffIds?.count ?? 0
        print(
            "Referred for \(referral.kind.rawValue.uppercased()): referral \(created.id)."
                + (handoffs > 0 ? " \(Format.count(handoffs, "handoff")) went to the team." : ""))
    }
}

struct ReferralCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "referral", abstract: "Referrals.",
        subcommands: [List.self, Status.self, Screen.self, Packet.self, Auth.self])

    struct Screen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Complete a TMS or ECT screening handoff: which contraindications are present (psychiatrists).",
            discussion: """
                The TMS screen asks about metal-or-implanted-device, seizure-history, seizure-threshold-medicines \
                and pregnancy; the ECT work-up about cardiac-or-anaesthetic-risk, interfering-medicines and \
                pregnancy. Every question is answered: --none says none is present, --present names those that are \
                (the rest are absent). The handoff's task is completed, and the payer's criteria read the screen.
                Examples:
                  care referral screen 317043f6 --none
                  care referral screen 317043f6 --present seizure-history --note "One febrile seizure, aged 3"
                """)
        @Argument(help: "The screening handoff's id, or its first characters.") var id: String
        @Flag(help: "No contraindication is present.") var none = false
        @Option(
            help: "A contraindication that is present (repeat it, or separate with commas).",
            completion: .list(ContraindicationItem.allCases.map(\.rawValue))) var present: [String] = []
        @Option(help: "A note kept with the screen.") var note: String?
        @Option(help: "tms or ect (default: the kind of the patient's open TMS or ECT referral).") var treatment:
            String?
        @OptionGroup var server: ServerOptions

        /// As typed, in any case, with '_' for '-'.
        var found: [String] {
            present.flatMap { $0.split(separator: ",") }.map {
                String($0.trimmingCharacters(in: .whitespaces).lowercased().map { $0 == "_" ? "-" : $0 })
            }
        }

        func validate() throws {
            if none == !present.isEmpty { throw usage("give --none, or --present with what is present") }
            let known = ContraindicationItem.allCases.map(\.rawValue)
            for item in found where !known.contains(item) {
                throw usage(
                    "'\(item)' is not a question of a screen"
                        + (nearest(item, among: known).map { " (did you mean '\($0)'?)" } ?? "")
                        + "; they are \(known.joined(separator: ", "))")
            }
            if let treatment, ScreenTreatment(rawValue: treatment.lowercased()) == nil {
                throw usage("--treatment is tms or ect")
            }
        }

        func run() async throws {
            let (name, recorded) = try await withClient(server) { client -> (String, ScreenRecorded) in
                let task = try await client.task(
                    try await Names.record("task", id, client, what: "screening handoff"))
                let summary = try await client.patient(task.patientId)
                let kind =
                    try treatment.flatMap { ScreenTreatment(rawValue: $0.lowercased()) }
                    ?? Self.screened(task, summary.displayName, referrals: summary.referrals)
                let asked = ContraindicationItem.asked(for: kind).map(\.rawValue)
                if let stray = found.first(where: { !asked.contains($0) }) {
                    throw CLIError.usage(
                        """
                        the \(kind.spoken) screen does not ask about \(stray); it asks about \
                        \(asked.joined(separator: ", "))
                        """
                    )
                }
                let answers = Dictionary(uniqueKeysWithValues: asked.map { ($0, found.contains($0)) })
                return (
                    summary.displayName, try await client.completeScreen(task: task.id, answers: answers, note: note)
                )
            }
            let findings = recorded.findings.compactMap(ContraindicationItem.init(rawValue:)).map(\.question)
            print(
                "\(recorded.treatment.uppercased()) screen of \(name) recorded: "
                    + (findings.isEmpty
                        ? "no contraindication present" : "present: \(findings.joined(separator: "; "))")
                    + "; the handoff is done.")
        }

        /// The treatment a screening handoff is for: the kind of the patient's open TMS or ECT
        /// referral, or when both are open, the one its cause names.
        static func screened(_ task: TaskItem, _ name: String, referrals: [Referral]) throws -> ScreenTreatment {
            let open = Set(
                referrals.filter { !["declined", "cancelled", "completed"].contains($0.status) }.compactMap {
                    ScreenTreatment(rawValue: $0.kind)
                })
            if open.count == 1, let only = open.first { return only }
            let causes = (task.causes ?? []).map { $0.summary.uppercased() }
            let named = open.filter { kind in causes.contains { $0.contains("\(kind.spoken) REFERRAL") } }
            if named.count == 1, let only = named.first { return only }
            throw CLIError.usage(
                open.isEmpty
                    ? "\(name) has no open TMS or ECT referral; give --treatment tms or ect"
                    : "\(name) has open TMS and ECT referrals; give --treatment tms or ect")
        }
    }

    struct Auth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record where the referral's prior authorisation stands with the payer.",
            discussion: """
                Moves the referral's latest packet: submitted, then approved (with --sessions) or denied (with \
                --reason, the payer's). A denial gives the psychiatrist a peer-to-peer review and the social worker \
                an appeal; answer it with a new packet (care referral packet).
                Examples:
                  care referral auth REFERRAL submitted
                  care referral auth REFERRAL approved --sessions 36
                  care referral auth REFERRAL denied --reason "No trial of an SNRI documented"
                """)
        @Argument(help: "The referral's id, or its first characters.") var id: String
        @Argument(help: "submitted, approved or denied.") var status: String
        @Option(help: "Approved: the sessions the payer authorised.") var sessions: Int?
        @Option(help: "Denied: the payer's reason.") var reason: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            guard ["submitted", "approved", "denied"].contains(status) else {
                throw usage("the status is submitted, approved or denied")
            }
            if status == "approved", sessions == nil { throw usage("an approval needs --sessions N") }
            if status == "denied", (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw usage("a denial needs --reason (the payer's)")
            }
        }

        func run() async throws {
            let move = try await withClient(server) { client -> PriorAuthMoveOut in
                let referral = try await Packet.referral(id, client)
                guard let latest = try await client.priorAuthPackets(referral: referral).first else {
                    throw CLIError.conflict(
                        """
                        no packet has been made for this referral: make one with care referral packet \(id) -o \
                        packet.pdf
                        """
                    )
                }
                return try await client.movePriorAuth(
                    packet: latest.id, PriorAuthStatusChange(status: status, sessions: sessions, reason: reason))
            }
            var line = "Prior authorisation \(move.status) (packet \(move.packetId.prefix(8)))."
            if !move.handoffIds.isEmpty {
                line += " Handoffs made: a peer-to-peer review (psychiatrist) and an appeal (social worker)."
            }
            print(line)
        }
    }

    struct Packet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The payer's prior-authorisation packet for a TMS, ECT or esketamine referral.",
            discussion: """
                Checks the referral against the payer's criteria first and says what is unmet and what to record; \
                with every criterion met (or --anyway) it makes the packet, keeps it, and writes it.
                Examples:
                  care referral packet REFERRAL -o packet.pdf
                  care referral packet REFERRAL --check
                  care referral packet REFERRAL --anyway -o packet.html
                """)
        @Argument(help: "The referral's id, or the prior-authorisation handoff it made (or their first characters).")
        var id: String
        @Flag(help: "Include the team's notes (never psychotherapy notes); by default a packet holds no notes.")
        var includeNotes = false
        @Option(name: .shortAndLong, help: "Write to this file (.pdf, .html or .json decides the format).") var output:
            String?
        @Option(help: "pdf, html or json (default: from the file's extension, else pdf).") var format: String?
        @Option(
            help:
                """
                The payer's criteria set, by name (care-server lists a team's: GET \
                /v1/teams/{id}/prior-auth-criteria); default: the treatment's.
                """
        )
        var payer: String?
        @Flag(help: "Only say what is met and what is missing; make no packet.") var check = false
        @Flag(help: "Make the packet even if criteria are unmet (it says which).") var anyway = false
        @OptionGroup var server: ServerOptions

        var chosenFormat: String {
            if let format { return format }
            let suffix = output.map { URL(fileURLWithPath: $0).pathExtension.lowercased() } ?? ""
            return ["html", "json"].contains(suffix) ? suffix : "pdf"
        }

        func validate() throws {
            guard ["pdf", "html", "json"].contains(chosenFormat) else { throw usage("--format is pdf, html or json") }
            if !check, output == nil, chosenFormat == "pdf", isatty(STDOUT_FILENO) == 1 {
                throw usage("a PDF is not written to a terminal: give -o packet.pdf (or --format html)")
            }
        }

        func run() async throws {
            let written = try await withClient(server) { client -> (PriorAuthCheckOut, PriorAuthPacketRef?, Data?) in
                let referral = try await Self.referral(id, client)
                let verdict = try await client.priorAuthCheck(referral: referral, criteriaSet: payer)
                guard !check, verdict.allMet || anyway else { return (verdict, nil, nil) }
                let packet = try await client.makePriorAuthPacket(
                    referral: referral, criteriaSet: payer, includeNotes: includeNotes)
                return (verdict, packet, try await client.priorAuthPacket(packet.id, format: chosenFormat))
            }
            let (verdict, packet, data) = written
            let lines = Self.describe(verdict)
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            guard let packet, let data else {
                if check { return }
                throw fail(
                    CLIError.conflict(
                        """
                        \(verdict.unmet) of the payer's criteria \(verdict.unmet == 1 ? "is" : "are") unmet: record \
                        what is missing (above), or give --anyway to make the packet as it stands
                        """
                    ))
            }
            do { try ReportCommand.write(data, to: output) } catch { throw fail(error) }
            FileHandle.standardError.write(
                Data("Packet \(packet.id.prefix(8)) kept (care referral packet shows what it says).\n".utf8))
        }

        /// The referral an id names: a referral's, or a handoff's (a task) whose patient has one open
        /// TMS, ECT or esketamine referral: the social worker starts from the handoff in care queue.
        static func referral(_ id: String, _ client: CareClient) async throws -> String {
            do {
                return try await Names.record("referral", id, client)
            } catch CLIError.notFound {
                let task = try await client.task(
                    try await Names.record("task", id, client, what: "referral or handoff"))
                let summary = try await client.patient(task.patientId)
                let open = summary.referrals.filter {
                    ["tms", "ect", "esketamine"].contains($0.kind)
                        && !["declined", "cancelled", "completed"].contains($0.status)
                }
                guard open.count == 1 else {
                    throw CLIError.ambiguous(
                        open.isEmpty
                            ? "\(summary.displayName) has no open TMS, ECT or esketamine referral"
                            : """
                            \(summary.displayName) has \(open.count) open referrals: \
                            \(open.map { "\(Names.short($0.id)) \($0.kind.uppercased())" }.joined(separator: ", ")); \
                            give the referral's id
                            """
                    )
                }
                return open[0].id
            }
        }

        /// Each criterion on a line, met or not, with what to record when not.
        static func describe(_ verdict: PriorAuthCheckOut) -> [String] {
            var lines = [
                Terminal.bold("\(verdict.treatment.uppercased()) prior authorisation (\(verdict.criteriaSet)): ")
                    + (verdict.allMet ? Terminal.green("every criterion met") : Terminal.red("\(verdict.unmet) unmet"))
            ]
            func add(_ criterion: PriorAuthCriterionOut, depth: Int) {
                let indent = String(repeating: "  ", count: depth + 1)
                lines.append(
                    indent + (criterion.isMet ? Terminal.green("met    ") : Terminal.red("unmet  "))
                        + criterion.statement)
                // Every line of evidence: each trial that counts, or what was found short of it.
                for line in criterion.evidence { lines.append(indent + "       " + Terminal.dim(line)) }
                if let remedy = criterion.toMeet, !criterion.isMet, criterion.parts == nil {
                    lines.append(indent + "       to meet it: " + remedy)
                }
                for part in criterion.parts ?? [] { add(part, depth: depth + 1) }
            }
            for criterion in verdict.criteria { add(criterion, depth: 0) }
            lines += hints(for: verdict)
            return lines
        }

        /// The commands that record what an unmet criterion asks for (docs/cli.md, "Prior
        /// authorisation"), read from its remedy's words.
        static func hints(for verdict: PriorAuthCheckOut) -> [String] {
            func remedies(_ criteria: [PriorAuthCriterionOut]) -> [String] {
                criteria.flatMap { ($0.isMet ? [] : [$0.toMeet ?? ""]) + remedies($0.parts ?? []) }
            }
            let unmet = remedies(verdict.criteria).joined(separator: "\n")
            var hints: [String] = []
            if unmet.contains("date of birth") { hints.append("care patient birth-date PATIENT YYYY-MM-DD") }
            if unmet.contains("screen") {
                hints.append("care referral screen HANDOFF --none (or --present ITEM), the psychiatrist")
            }
            if unmet.contains("psychotherapy trial") {
                hints.append("care trial start PATIENT --therapy CBT --start DAY (then care trial outcome)")
            }
            if unmet.contains("reason there was none") {
                hints.append("care patient document PATIENT no-psychotherapy \"why none was possible\"")
            }
            if unmet.contains("document ") {
                hints.append("care patient document PATIENT KEY \"TEXT\" (the key in brackets above)")
            }
            return hints.isEmpty ? [] : ["  record them with:"] + hints.map { "    " + $0 }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a referral: requested, accepted, scheduled, in-course, completed, declined or cancelled.",
            discussion: """
                Declined or cancelled, its open handoffs are closed as superseded.
                Example: care referral status REFERRAL cancelled --reason "The patient chose ECT"
                """)
        @Argument(help: "The referral's id, or its first characters.") var id: String
        @Argument(help: "The new status.", completion: Completions.names(ReferralStatus.self)) var status: String
        @Option(help: "Why (kept with the referral).") var reason: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            do { _ = try named(status, "the status") as ReferralStatus } catch { throw fail(error) }
        }

        func run() async throws {
            let change = ReferralStatusChange(status: try named(status, "the status"), reason: reason)
            let moved = try await withClient(server) {
                try await $0.moveReferral(try await Names.record("referral", id, $0), change)
            }
            let closed = moved.supersededHandoffIds.count
            let verb = closed == 1 ? "was" : "were"
            print(
                "Referral \(id) is \(change.status.rawValue)."
                    + (closed > 0
                        ? " \(Format.count(closed, "open handoff")) it made \(verb) closed as superseded." : ""))
        }
    }
}

// MARK: Corrections

struct EnteredInErrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entered-in-error",
        abstract: "Mark a score, trial, trial outcome, referral or note entered in error.",
        discussion: """
            The record stays, marked, in the history and the audit trail; summaries, rules and the report \
            leave it out, and the open handoffs it caused are closed as superseded. By whoever recorded it or a \
            psychiatrist; a note only by its author. An outcome marked in error leaves the trial ongoing, to \
            record again.
            Examples:
              care entered-in-error score SCORE --reason "Another patient's form"
              care entered-in-error outcome TRIAL --reason "Recorded on the wrong trial"
            """)
    @Argument(help: "score, trial, outcome, referral or note.") var record: String
    @Argument(help: "The record's id or its first characters (for outcome: the trial's).") var id: String
    @Option(help: "Why (required).") var reason: String
    @OptionGroup var server: ServerOptions

    static let paths = [
        "score": "measurements", "trial": "trials", "outcome": "trials", "referral": "referrals", "note": "notes",
    ]

    func validate() throws {
        guard Self.paths[record] != nil else {
            throw usage("the record must be score, trial, outcome, referral or note")
        }
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw usage("--reason cannot be empty") }
    }

    func run() async throws {
        let kinds = [
            "score": "measurement", "trial": "trial", "outcome": "trial", "referral": "referral", "note": "note",
        ]
        let correction = try await withClient(server) { client -> Correction in
            let id = try await Names.record(kinds[record]!, id, client, what: record == "outcome" ? "trial" : record)
            let path = "\(Self.paths[record]!)/\(id)" + (record == "outcome" ? "/outcome" : "")
            return try await client.markEnteredInError(path, reason: reason)
        }
        var line = "Marked the \(record) entered in error."
        if !correction.supersededHandoffIds.isEmpty {
            let closed = correction.supersededHandoffIds.count
            let verb = closed == 1 ? "was" : "were"
            line += " \(Format.count(closed, "open handoff")) it caused \(verb) closed as superseded."
        }
        if correction.trdWithdrawn {
            line += " " + Terminal.yellow("The patient no longer meets treatment-resistant depression.")
        }
        print(line)
    }
}
