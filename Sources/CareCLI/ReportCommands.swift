import ArgumentParser
import CareClient
import CareDomain
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "The weekly case-review report.",
        subcommands: [Weekly.self, Snapshot.self, Snapshots.self, Recommend.self])

    /// A team given by id or by (part of) its name, among my teams.
    static func team(_ given: String?, _ client: CareClient) async throws -> Team {
        let teams = try await client.me().teams
        if let given {
            if let exact = teams.first(where: {
                $0.id == given.lowercased() || $0.name.lowercased() == given.lowercased()
            }) {
                return exact
            }
            let partial = teams.filter { $0.name.lowercased().contains(given.lowercased()) }
            if partial.count == 1 { return partial[0] }
            throw CLIError.usage(
                partial.isEmpty
                    ? "none of your teams is '\(given)' (care whoami lists them)"
                    : "'\(given)' matches several teams: \(partial.map(\.name).joined(separator: ", "))")
        }
        guard teams.count == 1 else {
            throw CLIError.usage(
                "you are on several teams: give --team (one of: \(teams.map(\.name).joined(separator: ", ")))")
        }
        return teams[0]
    }

    /// The ISO week given, or this week on the team's calendar (docs/time-zones.md).
    static func week(_ given: String?, zone: String? = nil) throws -> String {
        guard let given else {
            var calendar = Calendar(identifier: .iso8601)
            calendar.timeZone = zone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: Date())
            return String(format: "%04d-W%02d", parts.yearForWeekOfYear!, parts.weekOfYear!)
        }
        guard given.wholeMatch(of: /\d{4}-W\d{2}/) != nil else {
            throw CLIError.usage("'\(given)' is not an ISO week such as 2026-W48")
        }
        return given
    }

    static func write(_ data: Data, to output: String?) throws {
        if let output {
            try PrivateFile.write(data, to: output)
            FileHandle.standardError.write(Data("Wrote \(output).\n".utf8))
        } else {
            FileHandle.standardOutput.write(data)
        }
    }

    struct Weekly: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The team's weekly report: who needs a decision, and why.",
            discussion: """
                Examples:
                  care report weekly --team North --format md
                  care report weekly --team North --week 2026-W48 --format html -o review.html
                  care report weekly --format csv > caseload.csv
                """)
        @Option(help: "The team (id or name); may be left out if you are on one team.") var team: String?
        @Option(help: "The ISO week, e.g. 2026-W48 (default: this week).") var week: String?
        @Option(help: "html, md, json or csv.", completion: Completions.formats) var format: String = "md"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            guard ["html", "md", "json", "csv"].contains(format) else {
                throw usage("--format must be html, md, json or csv")
            }
        }

        func run() async throws {
            let data = try await withClient(server) { client -> Data in
                let team = try await ReportCommand.team(team, client)
                let week = try ReportCommand.week(week, zone: team.timeZone)
                return try await client.send(
                    .GET, "v1/teams/\(team.id)/reports/weekly/\(week)", query: ["format": format]
                ).body
            }
            do { try ReportCommand.write(data, to: output) } catch { throw fail(error) }
        }
    }

    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep this week's report exactly as shown (for the meeting's record); prints the snapshot's id.",
            discussion: "Example: care report snapshot --team North")
        @Option(help: "The team (id or name).") var team: String?
        @Option(help: "The ISO week (default: this week).") var week: String?
        @OptionGroup var server: ServerOptions

        func run() async throws {
            let kept = try await withClient(server) { client -> CareWire.Snapshot in
                let team = try await ReportCommand.team(team, client)
                let week = try ReportCommand.week(week, zone: team.timeZone)
                let answer = try await client.send(.POST, "v1/teams/\(team.id)/reports/weekly/\(week)/snapshots")
                return try CareClient.decoder.decode(CareWire.Snapshot.self, from: answer.body)
            }
            print("Kept the \(kept.isoWeek) report as snapshot \(kept.id).")
        }
    }

    struct Recommend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                """
                Record a recommendation from the meeting against a snapshot: a case-review note, and a task for a role.
                """,
            discussion: """
                Example:
                  care report recommend SNAPSHOT PATIENT --text "Augment with aripiprazole" --task "Start aripiprazole \
                2 mg" --for psychiatrist --due +7d
                """)
        @Argument(help: "The snapshot's id or its first characters (care report snapshot prints it).") var snapshot:
            String
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Option(help: "The recommendation.") var text: String
        @Option(help: "A task to make of it.") var task: String?
        @Option(
            name: .customLong("for"), help: "The role whose pool gets the task.", completion: Completions.clinicalRoles)
        var role: String?
        @Option(parsing: .unconditional, help: "When the task is due: +4h, +2d, tomorrow, a weekday, YYYY-MM-DD.")
        var due: String?
        @OptionGroup var server: ServerOptions

        func validate() throws {
            if task != nil, role == nil {
                throw usage("--task needs --for ROLE (psychiatrist, psychologist, social_worker or care_manager)")
            }
            if task == nil, role != nil || due != nil { throw usage("--for and --due go with --task") }
        }

        func run() async throws {
            let made = try await withClient(server, zones: due != nil) { client -> Recommendation in
                let role: Role? = try role.map { try named($0, "--for", among: Role.allCases.filter(\.isClinical)) }
                let patientID = try await Names.patient(patient, client)
                let calendar = try await Zones.current.calendar(forPatient: patientID, client)
                let body = NewRecommendation(
                    patientId: try parseID(patientID, "the patient"), text: text,
                    task: try task.map {
                        NewRecommendation.Task(
                            title: $0, role: role!,
                            dueAt: try due.map { try parseDue($0, calendar: calendar, warn: true) })
                    })
                let snapshot = try await Names.record("snapshot", snapshot, client)
                return try await client.post("v1/report-snapshots/\(snapshot)/recommendations", body)
            }
            print("Recorded: case-review note \(made.noteId)" + (made.taskId.map { ", task \($0)" } ?? "") + ".")
        }
    }
}
