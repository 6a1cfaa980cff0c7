import ArgumentParser
import CareClient
import Foundation

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "The shared care plan.", subcommands: [Show.self, Edit.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a patient's care plan.", discussion: "Example: care plan show PATIENT")
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        func run() async throws {
            let (plan, _) = try await withClient(server) {
                try await $0.carePlan(patient: try await Names.patient(patient, $0))
            }
            if output.json { return print(try Format.json(plan)) }
            print("\(Terminal.bold("Care plan")), version \(plan.version), updated \(Format.ago(plan.updatedAt))")
            print("Treatment line: \(plan.treatmentLine.isEmpty ? "-" : plan.treatmentLine)")
            print(
                "Goals:" + (plan.goals.isEmpty ? " -" : "\n" + plan.goals.map { "  - " + $0 }.joined(separator: "\n")))
            print(
                "Problems:"
                    + (plan.problems.isEmpty ? " -" : "\n" + plan.problems.map { "  - " + $0 }.joined(separator: "\n")))
        }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Edit a patient's care plan in $EDITOR; saved only if nobody changed it meanwhile.",
            discussion: """
                If the plan changed while you edited, nothing is saved: care shows what changed, keeps your version \
                in a file (readable by you alone), and exits with 4. Bring it back with --file: it opens in the \
                editor over the current version (or is saved as it is when standard input is not a terminal).
                Examples:
                  EDITOR=nano care plan edit PATIENT
                  care plan edit PATIENT --file /tmp/care-plan-1a2b3c4d-v3-9f8e7d.txt
                """)
        @Argument(
            help: "The patient: part of the name, the MRN or the first characters of the id.",
            completion: .custom(Completions.patients)) var patient: String
        @Option(help: "Start from this file (a version kept after a conflict) instead of the current plan.")
        var file: String?
        @OptionGroup var server: ServerOptions

        func run() async throws {
            try await withClient(server) { client in
                let patient = try await Names.patient(patient, client)
                let (base, etag) = try await client.carePlan(patient: patient)
                let path =
                    FileManager.default.temporaryDirectory.path
                    + "/care-plan-\(patient.prefix(8))-v\(base.version)-\(UUID().uuidString.prefix(6)).txt"
                var start = PlanText.render(base, header: true)
                if let file {
                    guard let kept = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw CLIError.usage("cannot read \(file)")
                    }
                    start = PlanText.render(PlanText.parse(kept), header: true, version: base.version)
                }
                try PrivateFile.write(Data(start.utf8), to: path)
                // A kept version given with no terminal to edit on is saved as it is.
                if file == nil || Terminal.standardInputIsTerminal { try Editor.run(path) }
                let edited = PlanText.parse((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
                if edited.goals == base.goals, edited.problems == base.problems,
                    edited.treatmentLine == base.treatmentLine
                {
                    try? FileManager.default.removeItem(atPath: path)
                    print("No change; nothing was saved.")
                    return
                }
                do {
                    let (saved, _) = try await client.saveCarePlan(patient: patient, edited, ifMatch: etag)
                    try? FileManager.default.removeItem(atPath: path)
                    print("Saved the care plan (version \(saved.version)).")
                } catch let error as CareClientError where error.status == 412 {
                    let (current, _) = try await client.carePlan(patient: patient)
                    var lines = [
                        """
                        The care plan changed while you edited it (version \(base.version) → \(current.version)); \
                        nothing was saved. Changed meanwhile:
                        """
                    ]
                    lines += PlanText.changes(from: base, to: current).map { "  " + $0 }
                    lines.append(
                        "Your version is kept in \(path); run care plan edit again and bring your changes over.")
                    FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                    throw CLIError.conflict("care plan not saved: it changed meanwhile")
                }
            }
        }
    }
}

/// The care plan as text to edit: a heading per part, one goal or problem per line.
enum PlanText {
    static func render(_ plan: CarePlan, header: Bool) -> String {
        render(
            PlanBody(goals: plan.goals, problems: plan.problems, treatmentLine: plan.treatmentLine), header: header,
            version: plan.version)
    }

    static func render(_ plan: PlanBody, header: Bool, version: Int) -> String {
        var lines: [String] = []
        if header {
            lines += [
                "# Care plan, version \(version). Edit and save; lines starting with # are left out.",
                "# One goal or problem per line, under its heading.", "",
            ]
        }
        lines +=
            ["Treatment line:", plan.treatmentLine, "", "Goals:"] + plan.goals.map { "- " + $0 } + ["", "Problems:"]
            + plan.problems.map { "- " + $0 }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parse(_ text: String) -> PlanBody {
        var section = ""
        var treatment: [String] = []
        var goals: [String] = []
        var problems: [String] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            switch line.lowercased() {
            case "treatment line:": section = "treatment"; continue
            case "goals:": section = "goals"; continue
            case "problems:": section = "problems"; continue
            default: break
            }
            guard !line.isEmpty else { continue }
            let item = line.hasPrefix("- ") ? String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces) : line
            switch section {
            case "treatment": treatment.append(line)
            case "goals": goals.append(item)
            case "problems": problems.append(item)
            default: break
            }
        }
        return .init(goals: goals, problems: problems, treatmentLine: treatment.joined(separator: " "))
    }

    static func changes(from old: CarePlan, to new: CarePlan) -> [String] {
        var lines: [String] = []
        if old.treatmentLine != new.treatmentLine {
            lines.append("treatment line: \"\(old.treatmentLine)\" → \"\(new.treatmentLine)\"")
        }
        for (name, before, after) in [("goal", old.goals, new.goals), ("problem", old.problems, new.problems)] {
            for removed in before where !after.contains(removed) { lines.append("- \(name): \(removed)") }
            for added in after where !before.contains(added) { lines.append("+ \(name): \(added)") }
        }
        return lines.isEmpty ? ["(the order of items only)"] : lines
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The event log of my teams, oldest first; --follow waits for new events.",
        discussion: """
            With --json, one JSON object per line (also with --follow).
            Examples:
              care events --limit 20
              care events --follow --json | jq -c 'select(.type == "handoff.created")'
            """)
    @Option(help: "Start after this cursor (each --json line has one).") var after: String?
    @Option(help: "Without --follow: the most recent events to show.") var limit: Int = 50
    @Flag(help: "Keep waiting for new events (Ctrl-C stops).") var follow = false
    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ReadOptions

    func validate() throws {
        guard (1...1000).contains(limit) else { throw usage("--limit must be from 1 to 1000") }
    }

    func show(_ items: [FeedItem]) throws {
        for item in items {
            if output.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .custom { date, encoder in
                    var container = encoder.singleValueContainer()
                    try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
                }
                print(String(decoding: try encoder.encode(item), as: UTF8.self))
            } else {
                let details = item.details.filter { $0.key != "patient_id" && $0.key != "team_id" }.sorted {
                    $0.key < $1.key
                }.map { "\($0.key)=\($0.value)" }
                print(
                    "\(Format.seconds(item.occurredAt))  "
                        + """
                        \(Terminal.bold(item.type))  \(item.patientId.map { "patient " + $0 } ?? "")  \
                        \(details.joined(separator: " "))
                        """
                )
            }
        }
        fflush(nil)  // every stream: a piped --follow shows each event as it comes
    }

    func run() async throws {
        try await withClient(server, zones: true) { client in
            var cursor = after
            if follow {
                while !Task.isCancelled {
                    let page = try await client.events(after: cursor, limit: 200, wait: 30)
                    try show(page.items)
                    cursor = page.nextCursor
                }
                return
            }
            var recent: [FeedItem] = []
            while true {
                let page = try await client.events(after: cursor, limit: 200)
                recent = Array((recent + page.items).suffix(limit))
                cursor = page.nextCursor
                if page.items.count < 200 { break }
            }
            if recent.isEmpty && !output.json { print("No events.") }
            try show(recent)
        }
    }
}
