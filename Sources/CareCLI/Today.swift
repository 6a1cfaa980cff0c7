import ArgumentParser
import CareClient
import CoreFormats
import Foundation

/// `care today`: what changed on my patients since I last looked (docs/cli.md, "What's new").
struct Today: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "today", abstract: "What changed on my patients since I last looked; safety signals first.",
        discussion: """
            New handoffs for my roles, scores, failed trials, treatment resistance, referrals and their \
            moves, notes by others. A safety signal comes first, in red: a score with item 9 above 0, and \
            the urgent safety assessment it made for my role. When I last looked is kept per profile (the first \
            time: the last 24 hours); --since looks further back and does not move it.
            Examples:
              care today
              care today --since yesterday
              care inbox --since 2026-11-28 --json
            """,
        aliases: ["inbox"])
    @Option(
        parsing: .unconditional,
        help: "From this day: YYYY-MM-DD, yesterday, a weekday or -3d (otherwise since I last looked).")
    var since: String?
    @OptionGroup var server: ServerOptions
    @OptionGroup var output: ReadOptions

    func validate() throws {
        do { _ = try since.map { try parseDay($0) } } catch { throw fail(error) }
    }

    func run() async throws {
        let now = Date()
        let connection: Connection
        var config: Config
        do {
            connection = try Connection.resolve(profile: server.profile)
            config = try Config.load()
        } catch { throw fail(error) }
        let seenKey = "last_looked"
        let remembered = config.profiles[connection.profile]?[seenKey].flatMap { Timestamp.parse($0, rfc3339: true) }
        var from = remembered ?? now.addingTimeInterval(-86_400)
        let items = try await withClient(server, zones: true) { client in
            // From midnight of that day on the member's teams' calendar (docs/time-zones.md).
            if let since {
                let calendar = Zones.current.calendar
                from = calendar.midnight(of: try parseDay(since, calendar: calendar).date)
            }
            return try await client.inbox(since: from)
        }
        // Remembered only when looked at as usual, and only for a saved profile.
        if since == nil, config.profiles[connection.profile] != nil {
            config.profiles[connection.profile]?[seenKey] = Timestamp.iso8601(now, fractionDigits: 3, rounding: .down)
            do { try config.save() } catch { throw fail(error) }
        }
        if output.json { return print(try Format.json(items)) }
        let heading =
            "Since \(Format.whenNamed(from))" + (since == nil && remembered != nil ? " (when you last looked)" : "")
        guard !items.isEmpty else { return print("\(heading): nothing new on your patients.") }
        print(Terminal.bold("\(heading): \(items.count) change\(items.count == 1 ? "" : "s")"))
        var table = Table(headers: ["WHEN", "PATIENT", "WHO", "WHAT"])
        for item in items {
            table.add([
                Format.when(item.occurredAt), item.patientName, item.actorName ?? "CareRelay",
                item.kind == "safety" || item.safetySignal == true ? Terminal.red(item.what) : item.what,
            ])
        }
        print(table.render())
    }
}
