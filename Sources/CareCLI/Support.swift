import ArgumentParser
import CareClient
import CareDomain
import CoreFormats
import Foundation
import Synchronization

/// Exit codes (also in `care --help`):
///   0 success · 1 the server failed or answered what the client did not understand ·
///   2 the server refused the input (400, 413, 422) · 3 not found or not allowed (403, 404) ·
///   4 conflict: changed meanwhile or already done (409, 412, 428) · 5 the server is unreachable ·
///   6 not logged in, or the token was refused (401) · 64 usage (bad arguments)
enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case notLoggedIn(String)
    case client(CareClientError)
    case conflict(String)
    /// A name or id prefix that matches several things (they are listed).
    case ambiguous(String)
    /// A name or id prefix that matches nothing the caller may see.
    case notFound(String)

    var description: String {
        switch self {
        case .usage(let text), .notLoggedIn(let text), .conflict(let text), .ambiguous(let text), .notFound(let text):
            text
        case .client(.problem(401, _, let detail)):
            """
            \(detail): the token was refused; log in again with care login --server URL (care profile list shows yours)
            """
        case .client(let error): error.description
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: 64
        case .notLoggedIn: 6
        case .conflict: 4
        case .ambiguous: 2
        case .notFound: 3
        case .client(let error):
            switch error {
            case .unreachable: 5
            case .unexpected: 1
            case .problem(let status, _, _):
                switch status {
                case 401: 6
                case 403, 404: 3
                case 409, 412, 428: 4
                case 400, 413, 415, 422: 2
                default: 1
                }
            }
        }
    }
}

/// What every command that talks to the server takes.
struct ServerOptions: ParsableArguments {
    @Option(help: "The profile in ~/.config/carerelay/config to use (default: CARE_PROFILE, else the one in use).")
    var profile: String?
    @Option(help: "Seconds to wait for the server's answer.") var timeout: Int = 30
    @Option(
        name: .customLong("tz"),
        help:
            """
            Show times in this zone instead of the team's: an IANA name (America/Los_Angeles), local (this machine's) \
            or team. CARE_TZ, or care profile set-tz, keeps it.
            """
    )
    var timeZone: String?
}

/// The calendars a command reads and shows times on (docs/time-zones.md). What a clinician types
/// ("tomorrow", "+2d", "friday", a date) is read on the patient's team's calendar; times are shown
/// in the team's zone unless the member names their own (--tz, CARE_TZ, the profile's time_zone).
struct Zones: Sendable {
    /// Each of the member's teams' calendar, by team id.
    var teams: [String: LocalCalendar] = [:]
    /// The zone times are shown in.
    var display = TimeZone(identifier: "UTC")!

    /// The command's zones, once withClient has asked the server (a `care` process runs one
    /// command; its output is printed after the client is gone).
    static var current: Zones { shared.withLock { $0 } }
    private static let shared = Mutex(Zones())
    static func use(_ zones: Zones) { shared.withLock { $0 = zones } }

    /// The calendar the member's teams share (most members are on one team); when their teams are
    /// in different zones and no patient says which, the member's own zone (--tz, CARE_TZ, the
    /// profile's), else UTC.
    var calendar: LocalCalendar {
        Set(teams.values.map(\.name)).count == 1 ? teams.values.first! : LocalCalendar(display)
    }

    /// The calendar of a patient's team (asked of the server only when the member's teams differ).
    func calendar(forPatient id: String, _ client: CareClient) async throws -> LocalCalendar {
        guard Set(teams.values.map(\.name)).count > 1 else { return calendar }
        return teams[try await client.patient(id).teamId] ?? .utc
    }

    /// The calendar of the patient a record (`trial`, `task`, ...) belongs to.
    func calendar(forRecord kind: String, _ id: String, _ client: CareClient) async throws -> LocalCalendar {
        guard Set(teams.values.map(\.name)).count > 1,
            let patient = try await client.resolve(kind: kind, prefix: id).first(where: { $0.id == id })?.patientId
        else { return calendar }
        return try await calendar(forPatient: patient, client)
    }

    /// A zone as the member names it: an IANA name, "local" (this machine's zone) or "team" (nil:
    /// the team's). Anything else is a usage error with close matches.
    static func named(_ text: String, _ source: String) throws -> TimeZone? {
        let typed = text.trimmingCharacters(in: .whitespaces)
        switch typed.lowercased() {
        case "team", "": return nil
        case "local": return TimeZone.current
        default:
            do { return TimeZone(identifier: try TeamTimeZone.validate(typed, field: source))! } catch {
                let close = error.accepted.isEmpty ? "" : " (did you mean \(error.accepted.joined(separator: ", "))?)"
                throw CLIError.usage(
                    """
                    \(source): '\(typed)' is not a time zone; give an IANA name such as America/New_York, local or \
                    team\(close)
                    """
                )
            }
        }
    }

    /// The member's teams' zones (from /v1/me) and the zone to show times in.
    static func resolve(_ client: CareClient, chosen: (text: String, source: String)?) async throws -> Zones {
        let own = try chosen.flatMap { try named($0.text, $0.source) }
        var zones = Zones()
        for team in try await client.me().teams {
            zones.teams[team.id] = LocalCalendar(identifier: team.timeZone ?? TeamTimeZone.utc)
        }
        zones.display = own ?? zones.calendar.zone
        return zones
    }
}

struct ReadOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table (for scripts).")
    var json = false
    @Flag(help: "Full ids in tables (otherwise their first 8 characters, which every command accepts).")
    var wide = false

    /// An id as tables show it.
    func id(_ id: String) -> String { wide ? id : Names.short(id) }
}

/// Runs `body` with a client for the chosen profile; any failure becomes one line on stderr
/// and the documented exit code. `zones`: the command reads typed dates or shows times, so the
/// member's teams' zones are asked for first (one GET /v1/me; docs/time-zones.md).
func withClient<T>(_ options: ServerOptions, zones: Bool = false, _ body: (CareClient) async throws -> T)
    async throws -> T
{
    do {
        let connection = try Connection.resolve(profile: options.profile)
        guard connection.token != nil else {
            throw CLIError.notLoggedIn(
                """
                no token for profile '\(connection.profile)': run care login --server \
                \(connection.server.absoluteString)
                """
            )
        }
        guard (1...3600).contains(options.timeout) else { throw CLIError.usage("--timeout is 1 to 3600 seconds") }
        let client = CareClient(server: connection.server, token: connection.token, timeout: .seconds(options.timeout))
        do {
            let environment = ProcessInfo.processInfo.environment
            let chosen =
                options.timeZone.map { ($0, "--tz") }
                ?? environment["CARE_TZ"].flatMap { $0.isEmpty ? nil : ($0, "CARE_TZ") }
                ?? connection.timeZone.map { ($0, "time_zone in profile \(connection.profile)") }
            if zones {
                Zones.use(try await Zones.resolve(client, chosen: chosen))
            } else if let chosen {
                _ = try Zones.named(chosen.0, chosen.1)
            }
            let value = try await body(client)
            await client.shutdown()
            return value
        } catch {
            await client.shutdown()
            throw error
        }
    } catch {
        throw fail(error)
    }
}

/// Prints the one-line error and returns the exit code to throw.
func fail(_ error: any Error) -> ExitCode {
    let cliError: CLIError
    switch error {
    case let error as CLIError: cliError = error
    case let error as CareClientError: cliError = .client(error)
    case let error as ExitCode: return error
    default: cliError = .client(.unexpected("\(error)"))
    }
    Terminal.error(cliError.description)
    return ExitCode(cliError.exitCode)
}

enum Terminal {
    static let environment = ProcessInfo.processInfo.environment
    static var colour: Bool {
        isatty(STDOUT_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    }

    static func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
    static func bold(_ text: String) -> String { paint(text, "1") }
    static func dim(_ text: String) -> String { paint(text, "2") }
    static func red(_ text: String) -> String { paint(text, "31") }
    static func yellow(_ text: String) -> String { paint(text, "33") }
    static func green(_ text: String) -> String { paint(text, "32") }

    static func error(_ text: String) {
        let line = "care: " + text.replacingOccurrences(of: "\n", with: " ") + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Reads standard input to its end.
    static func readStandardInput() -> String {
        String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }

    static var standardInputIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// The width tables are cut to: COLUMNS if set, else the terminal's; nil when piped.
    static var width: Int? {
        if let columns = environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        guard isatty(STDOUT_FILENO) == 1 else { return nil }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}

/// Aligned columns; widths count what is seen, not colour codes.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    mutating func add(_ row: [String]) { rows.append(row) }

    /// Aligned columns, cut to `width` (the terminal's, or COLUMNS) by shortening the last
    /// column with an ellipsis, at a word's end where one is near: a row is never wrapped.
    /// Piped output (no terminal, no COLUMNS) is not cut.
    func render(width maximum: Int? = Terminal.width) -> String {
        func width(_ text: String) -> Int { text.replacing(/\u{1B}\[[0-9;]*m/, with: "").count }
        var widths = headers.map(width)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], width(cell))
            }
        }
        // What the columns before the last take, with their separators.
        let before = widths.dropLast().reduce(0, +) + 2 * max(widths.count - 1, 0)
        let room = maximum.map { max($0 - before, 12) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                guard index == cells.count - 1 else {
                    return cell + String(repeating: " ", count: widths[index] - width(cell))
                }
                guard let room, width(cell) > room else { return cell }
                return Self.cut(cell.replacing(/\u{1B}\[[0-9;]*m/, with: ""), to: room)
            }.joined(separator: "  ")
        }
        return ([Terminal.bold(line(headers))] + rows.map(line)).joined(separator: "\n")
    }

    /// `text` in `room` characters, ending with "…", at a word's end if one is in the last third.
    static func cut(_ text: String, to room: Int) -> String {
        let kept = text.prefix(room - 1)
        if let space = kept.lastIndex(of: " "), kept.distance(from: kept.startIndex, to: space) > (room * 2) / 3 {
            return String(kept[..<space]) + "…"
        }
        return String(kept) + "…"
    }
}

enum Format {
    /// A trial's adequacy in its table's words: "yes (...)", "no (...)", or for a trial still
    /// running that has not reached it, "not yet (...)": it may still get there.
    static func adequacy(_ trial: Trial) -> String {
        guard let adequacy = trial.adequacy else { return "-" }
        let verdict = adequacy.isAdequate ? "yes" : trial.outcome == nil && trial.stoppedOn == nil ? "not yet" : "no"
        return "\(verdict) (\(adequacy.reason))"
    }

    /// "sertraline 100 mg" (the dose of its last step), "CBT".
    static func treatment(_ trial: Trial) -> String {
        trial.treatment + (trial.doseSteps?.last.map { " \($0.dailyDoseMg.plainText) mg" } ?? "")
    }

    /// "1 handoff", "3 handoffs"; `plural` when it is not the noun and an s.
    static func count(_ n: Int, _ noun: String, plural: String? = nil) -> String {
        "\(n) \(n == 1 ? noun : plural ?? noun + "s")"
    }

    /// "due in 2 d", "3 h overdue", "due now"; "" without a time.
    static func due(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "" }
        let seconds = date.timeIntervalSince(now)
        if abs(seconds) < 60 { return "due now" }
        let span = span(abs(seconds))
        return seconds > 0 ? "due in \(span)" : Terminal.red("\(span) overdue")
    }

    /// "5 min ago", "2 d ago".
    static func ago(_ date: Date, now: Date = Date()) -> String {
        let seconds = now.timeIntervalSince(date)
        return seconds < 60 ? "just now" : "\(span(seconds)) ago"
    }

    static func span(_ seconds: Double) -> String {
        switch seconds {
        case ..<3600: "\(Int(seconds / 60)) min"
        case ..<(48 * 3600): "\(Int(seconds / 3600)) h"
        default: "\(Int(seconds / 86_400)) d"
        }
    }

    /// A text sparkline of scores, scaled to the instrument's range (PHQ-9 0-27, MADRS 0-60, GAD-7 0-21).
    static func sparkline(_ values: [Int], maximum: Int) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        return String(values.map { bars[min(bars.count - 1, max(0, $0 * (bars.count - 1) / max(1, maximum)))] })
    }

    /// "2026-11-20 09:00", in the zone times are shown in (the team's, or the member's own:
    /// docs/time-zones.md).
    static func when(_ date: Date) -> String { formatted(date, "yyyy-MM-dd HH:mm") }

    /// "2026-11-20 09:00 EST": the same, naming the zone, where a time stands alone.
    static func whenNamed(_ date: Date) -> String { formatted(date, "yyyy-MM-dd HH:mm zzz") }

    /// "2026-11-20 09:00:05".
    static func seconds(_ date: Date) -> String { formatted(date, "yyyy-MM-dd HH:mm:ss") }

    /// The day an instant falls on, in the zone times are shown in.
    static func day(_ date: Date) -> String { formatted(date, "yyyy-MM-dd") }

    private static func formatted(_ date: Date, _ format: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = Zones.current.display
        formatter.dateFormat = format
        return formatter.string(from: date)
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A date for the API: YYYY-MM-DD, today, yesterday, a weekday (the last one, today included) or
/// -3d, on `calendar`: the team's (docs/time-zones.md), so "today" at 9 pm in California is that
/// day in California, not tomorrow in UTC.
func parseDay(_ text: String, now: Date = Date(), calendar: LocalCalendar = Zones.current.calendar) throws -> Day {
    if let day = TypedDates.day(text, now: now, calendar: calendar) ?? Day.parse(text) { return Day(day) }
    // Words for a time to come (tomorrow, +2d, next friday's): a date here is today or earlier.
    if TypedDates.due(text, now: now, calendar: calendar) != nil {
        throw CLIError.usage(
            "'\(text)' is in the future: this date is today or earlier (YYYY-MM-DD, today, yesterday, a weekday or -3d)"
        )
    }
    throw CLIError.usage("'\(text)' is not a date: use YYYY-MM-DD, today, yesterday, a weekday or -3d")
}

/// A due time on `calendar` (the team's, docs/time-zones.md): +4h (hours from now), +2d (the same
/// time of day two days on, 23 or 25 hours away across a daylight-saving change), today, tomorrow,
/// a weekday (the next one) or a date (each the end of that day there, 23:59), or an RFC 3339 time;
/// `yesterday` and `-3d` too, for work recorded late (the end of that day, noted as past).
/// `warn`: say on standard error when it is already past (still sent: recording overdue work is
/// allowed).
func parseDue(
    _ text: String, now: Date = Date(), calendar: LocalCalendar = Zones.current.calendar, warn: Bool = false
) throws -> Date {
    guard
        let due = TypedDates.due(text, now: now, calendar: calendar)
            ?? (TypedDates.day(text, now: now, calendar: calendar) ?? Day.parse(text)).map({
                TypedDates.endOfDay($0, calendar)
            }) ?? Timestamp.parse(text, rfc3339: true)
    else {
        throw CLIError.usage(
            "'\(text)' is not a due time: use +4h, +2d, today, tomorrow, a weekday, YYYY-MM-DD or an RFC 3339 time")
    }
    if warn, due < now {
        FileHandle.standardError.write(Data("care: note: the due time \(Format.whenNamed(due)) is already past\n".utf8))
    }
    return due
}

/// A name from one of the domain's closed sets as a person types it: case, '-' and '_' do not
/// matter ('TMS', 'social-worker', 'Non_Response'); `aliases` adds short forms. An unknown one
/// is a usage error that names the accepted ones, and the nearest if it looks like a slip.
func named<T: NamedValues>(_ text: String, _ what: String, aliases: [String: T] = [:], among: [T]? = nil) throws -> T {
    func key(_ name: String) -> String {
        String(name.lowercased().map { $0 == "_" ? "-" : $0 })
    }
    let cases = among ?? Array(T.allCases)
    if let value = aliases[key(text)] ?? cases.first(where: { key($0.rawValue) == key(text) }) { return value }
    let names = cases.map(\.rawValue)
    var line =
        "\(what) must be "
        + (names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined())
    if let near = nearest(key(text), among: names.map(key) + aliases.keys) {
        line += " (did you mean '\(aliases[near]?.rawValue ?? names.first { key($0) == near } ?? near)'?)"
    }
    throw CLIError.usage(line)
}

/// The candidate within a few edits of `text` (Levenshtein), if one is clearly nearest.
func nearest(_ text: String, among candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let kept = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = kept
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    let scored = candidates.map { ($0, distance(Array(text), Array($0))) }.sorted { $0.1 < $1.1 }
    guard let best = scored.first, best.1 <= max(2, text.count / 3), best.1 < text.count else { return nil }
    return best.0
}

/// A full id typed by the user.
func parseID(_ text: String, _ what: String) throws -> UUID {
    guard let id = UUID(uuidString: text) else {
        throw CLIError.usage("\(what) must be an id such as 3f2b8c1e-6d4a-4b9e-9c7f-2a5e1d0b7c44, not '\(text)'")
    }
    return id
}

/// Text given on the command line, else from a file ("-": standard input), else piped standard
/// input, else $EDITOR.
func composeText(_ given: String? = nil, file: String?, template: String = "", what: String) throws -> String {
    let text: String
    if let given {
        guard file == nil else { throw CLIError.usage("give the \(what) as text or with --file, not both") }
        text = given
    } else if let file {
        if file == "-" {
            text = Terminal.readStandardInput()
        } else {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CLIError.usage("cannot read \(file)")
            }
            text = contents
        }
    } else if !Terminal.standardInputIsTerminal {
        text = Terminal.readStandardInput()
    } else {
        text = try Editor.edit(template, suffix: ".md")
    }
    let trimmed = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#!") }
        .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    guard !trimmed.isEmpty else { throw CLIError.usage("the \(what) is empty; nothing was sent") }
    return trimmed
}

enum Editor {
    /// Opens $VISUAL or $EDITOR (vi otherwise) on `initial` and returns what was saved.
    static func edit(_ initial: String, suffix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/care-\(UUID().uuidString.prefix(8))\(suffix)"
        try PrivateFile.write(Data(initial.utf8), to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try run(path)
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    static func run(_ path: String) throws {
        let editor =
            Terminal.environment["VISUAL"].flatMap { $0.isEmpty ? nil : $0 } ?? Terminal.environment["EDITOR"].flatMap {
                $0.isEmpty ? nil : $0
            } ?? "vi"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(editor) \"$1\"", "care-editor", path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError.usage("the editor (\(editor)) exited with \(process.terminationStatus); nothing was sent")
        }
    }
}

/// A usage mistake found before anything is sent: one line, exit 64.
func usage(_ text: String) -> ExitCode {
    fail(CLIError.usage(text))
}

/// Files that hold patient data (a report, a kept care-plan version): readable and writable by
/// their owner alone (0600) from the moment they exist, whatever the umask, and made so again if
/// they existed before.
enum PrivateFile {
    static func write(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CLIError.usage("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else {
            throw CLIError.usage("cannot make \(path) private: \(String(cString: strerror(errno)))")
        }
        var written = 0
        try data.withUnsafeBytes { bytes in
            while written < bytes.count {
                let count = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else {
                    throw CLIError.usage("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                written += count
            }
        }
    }
}
