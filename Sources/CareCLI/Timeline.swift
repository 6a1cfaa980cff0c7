import ArgumentParser
import CareClient
import CareDomain
import CoreFormats
import Foundation

/// `care patient timeline PATIENT`: the patient's history in words, with who did what
/// (docs/cli.md). Events name records by id; the patient's summary, scores, notes and team
/// members name them in words.
struct Timeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A patient's history in words, newest first, with who did what.",
        discussion: """
            Examples:
              care patient timeline Ada
              care patient timeline DEMO-1002 --limit 200 --json
            """)
    @Argument(
        help: "The patient: part of the name, the MRN or the first characters of the id.",
        completion: .custom(Completions.patients)) var patient: String
    @Option(help: "How many events, newest first.") var limit: Int = 50
    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ReadOptions

    struct Line: Encodable {
        var at: Date
        var who: String?
        var what: String
        var type: String
        var eventId: Int64
    }

    func validate() throws {
        guard (1...1000).contains(limit) else { throw usage("--limit is from 1 to 1000") }
    }

    func run() async throws {
        let lines = try await withClient(server, zones: true) { client -> [Line] in
            let id = try await Names.patient(patient, client)
            async let summary = client.patient(id)
            async let events = client.history(patient: id, limit: limit)
            async let scores = client.measurements(id)
            async let notes = client.notes(patient: id)
            let known = try await summary
            let members = try await client.members(team: known.teamId)
            let words = TimelineWords(
                summary: known, scores: try await scores, notes: try await notes, members: members)
            return try await events.map { event in
                Line(
                    at: event.occurredAt, who: event.actorId.map(words.person), what: words.sentence(event),
                    type: event.type, eventId: event.id)
            }
        }
        if output.json { return print(try Format.json(lines)) }
        guard !lines.isEmpty else { return print("Nothing recorded yet.") }
        var table = Table(headers: ["WHEN", "WHO", "WHAT"])
        for line in lines {
            table.add([Format.when(line.at), line.who ?? "CareRelay", line.what])
        }
        print(table.render())
    }
}

/// Events in a clinician's words.
struct TimelineWords {
    let summary: Summary
    let scores: [String: CareWire.Measurement]
    let notes: [String: Note]
    let members: [String: Member]

    init(summary: Summary, scores: [CareWire.Measurement], notes: [Note], members: [Member]) {
        self.summary = summary
        self.scores = Dictionary(scores.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.notes = Dictionary(notes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.members = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// "Dr. Rao (psychiatrist)".
    func person(_ id: String) -> String {
        guard let member = members[id] else { return "a former member" }
        let roles = member.roles.filter { $0 != "admin" }.map(Names.role)
        return member.displayName + (roles.isEmpty ? "" : " (\(roles.joined(separator: ", ")))")
    }

    func trial(_ id: String?) -> String {
        guard let id, let trial = summary.trials.first(where: { $0.id == id }) else { return "a trial" }
        return trial.treatment
    }

    func referral(_ id: String?) -> String {
        guard let id, let referral = summary.referrals.first(where: { $0.id == id }) else { return "a referral" }
        return "\(referral.kind.uppercased()) to \(referral.targetClinic)"
    }

    func role(_ name: String?) -> String { Names.role(name ?? "another role") }

    func sentence(_ event: PatientEvent) -> String {
        let p = event.payload
        guard let type = EventType(rawValue: event.type) else { return event.type }
        let name = type.inWords
        switch type {
        case .measurementRecorded:
            guard let score = p["measurement_id"].flatMap({ scores[$0] }) else {
                return "\(name): \(p["instrument"] ?? "")"
            }
            return "\(name): \(score.instrument) \(score.total)" + (score.severity.map { " (\($0))" } ?? "")
                + (p["safety_signal"] == "true" ? ", item 9 above 0" : "")
        case .trialStarted, .trialFailed, .trialEnteredInError, .trialOutcomeEnteredInError:
            return "\(name): \(trial(p["trial_id"]))"
        case .trialDoseChanged:
            let dose = p["daily_dose_mg"].map { text in Double(text)?.plainText ?? text }
            return "\(name): \(trial(p["trial_id"]))" + (dose.map { " to \($0) mg a day" } ?? "")
        case .trialOutcomeRecorded:
            let outcome = p["outcome"].flatMap(TrialOutcome.init(rawValue:))?.inWords ?? p["outcome"] ?? ""
            return "\(name): \(trial(p["trial_id"])), \(outcome)"
                + (p["adequate"] == "false" ? " (not an adequate trial)" : "")
        case .trdReached:
            return "\(name): \(p["failed_trials"] ?? "?") failed adequate trials in \(p["classes"] ?? "?") classes"
        case .referralMade, .referralEnteredInError:
            return "\(name): \(referral(p["referral_id"]))"
        case .referralStatusChanged:
            return "\(name): \(referral(p["referral_id"])) is \(p["to"] ?? p["status"] ?? "moved")"
                + (p["reason"].map { " (\($0))" } ?? "")
        case .patientStatusChanged:
            return "\(name): \(p["from"] ?? "?") to \(p["to"] ?? "?")" + (p["reason"].map { " (\($0))" } ?? "")
        case .noteAdded, .noteAmended:
            let note = p["note_id"].flatMap { notes[$0] }
            let first = note?.body.split(separator: "\n").first.map(String.init) ?? ""
            let kind = note?.kind ?? p["kind"] ?? ""
            return "\(name == "Note" ? "\(kind.capitalized) note" : name)"
                + (first.isEmpty ? "" : ": " + (first.count > 80 ? String(first.prefix(79)) + "…" : first))
        case .handoffCreated:
            let title = p["task_id"].flatMap { id in summary.openTasks.first { $0.id == id }?.title }
            return "Handoff to the \(role(p["role"]))" + (title.map { ": \($0)" } ?? "")
        case .handoffReassigned:
            return "\(name) to the \(role(p["to_role"] ?? p["role"]))" + (p["reason"].map { " (\($0))" } ?? "")
        case .carePlanUpdated:
            return "\(name)" + (p["version"].map { " (version \($0))" } ?? "")
        case .taskCancelled, .taskFailed, .taskHeld:
            return name + (p["reason"].map { ": \($0)" } ?? "")
        case .taskClaimed, .taskStarted, .taskResumed, .taskCompleted:
            return name + (p["note"].map { ": \($0)" } ?? "")
        default:
            return name
        }
    }
}
