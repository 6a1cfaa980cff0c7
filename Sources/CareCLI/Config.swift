import ArgumentParser
import Foundation

/// Profiles in ~/.config/carerelay/config ($XDG_CONFIG_HOME honoured), mode 0600:
///
///     [default]
///     server = http://127.0.0.1:8080
///     token = crt_...
///
/// CARE_SERVER and CARE_TOKEN override the chosen profile; CARE_PROFILE picks one. The profile in
/// use otherwise is the `[settings]` section's `profile` (the first one logged in, then whichever
/// `care profile use` names), else "default".
struct Config {
    var profiles: [String: [String: String]] = [:]

    /// The section that holds settings rather than a profile.
    static let settings = "settings"

    /// The profile used when none is asked for.
    var current: String? {
        get { profiles[Self.settings]?["profile"] }
        set { profiles[Self.settings, default: [:]]["profile"] = newValue }
    }

    /// The profiles, without the settings.
    var names: [String] { profiles.keys.filter { $0 != Self.settings }.sorted() }

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/carerelay/config"
    }

    static func load() throws -> Config {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return Config() }
        var config = Config()
        var section: String?
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                config.profiles[section!, default: [:]] = config.profiles[section!] ?? [:]
                continue
            }
            guard let section, let equals = line.firstIndex(of: "=") else {
                throw CLIError.usage("\(path), line \(number + 1): expected [profile] or key = value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            config.profiles[section, default: [:]][key] = value
        }
        return config
    }

    /// Writes the file with mode 0600 (created so, never readable by others in between).
    func save() throws {
        let path = Config.path
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var text = "# CareRelay CLI profiles, written by `care login`. Tokens are secrets: keep this file 0600.\n"
        for name in profiles.keys.sorted() {
            text += "\n[\(name)]\n"
            for (key, value) in profiles[name]!.sorted(by: { $0.key < $1.key }) { text += "\(key) = \(value)\n" }
        }
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else {
            throw CLIError.usage("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fchmod(descriptor, 0o600)
        close(descriptor)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CLIError.usage("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Where to talk to and as whom, after the file, the profile and the environment have spoken.
struct Connection {
    var server: URL
    var token: String?
    var profile: String
    /// The member's own zone for shown times (`care profile set-tz`), if they chose one.
    var timeZone: String?

    static func resolve(profile requested: String?) throws -> Connection {
        let environment = ProcessInfo.processInfo.environment
        let config = try Config.load()
        let asked = requested ?? environment["CARE_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        let profile = asked ?? config.current ?? "default"
        if asked != nil, config.profiles[profile] == nil || profile == Config.settings,
            environment["CARE_SERVER"] == nil
        {
            let near = nearest(profile, among: config.names).map { " (did you mean '\($0)'?)" } ?? ""
            throw CLIError.notLoggedIn(
                "no profile '\(profile)' in \(Config.path)\(near); run: care login --server URL --profile \(profile)"
                    + (config.names.isEmpty ? "" : ", or care profile list"))
        }
        let entry = config.profiles[profile] ?? [:]
        guard let serverText = environment["CARE_SERVER"].flatMap({ $0.isEmpty ? nil : $0 }) ?? entry["server"] else {
            throw CLIError.notLoggedIn("not logged in: run care login --server URL (or set CARE_SERVER and CARE_TOKEN)")
        }
        guard let server = URL(string: serverText), let scheme = server.scheme, ["http", "https"].contains(scheme),
            server.host != nil
        else {
            throw CLIError.usage("'\(serverText)' is not an http or https URL")
        }
        let token = environment["CARE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? entry["token"]
        return Connection(server: server, token: token, profile: profile, timeZone: entry["time_zone"])
    }
}

/// `care profile list|use`: the saved profiles and which one commands use.
struct ProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile", abstract: "The saved profiles (server and token) and which one is used.",
        subcommands: [List.self, Use.self, SetTimeZone.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The saved profiles; * marks the one in use.", discussion: "Example: care profile list")

        func run() async throws {
            let config: Config
            do { config = try Config.load() } catch { throw fail(error) }
            guard !config.names.isEmpty else { return print("No profiles yet: care login --server URL") }
            let current = config.current ?? "default"
            var table = Table(headers: ["", "PROFILE", "SERVER", "TIMES SHOWN IN"])
            for name in config.names {
                table.add([
                    name == current ? "*" : "", name, config.profiles[name]?["server"] ?? "-",
                    config.profiles[name]?["time_zone"] ?? "the team's zone",
                ])
            }
            print(table.render())
        }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Use this profile from now on (CARE_PROFILE and --profile still win).",
            discussion: "Example: care profile use clinic")
        @Argument(help: "A saved profile's name.") var name: String

        func run() async throws {
            do {
                var config = try Config.load()
                guard config.names.contains(name) else {
                    let near = nearest(name, among: config.names).map { " (did you mean '\($0)'?)" } ?? ""
                    throw CLIError.usage(
                        "no profile '\(name)'\(near); "
                            + (config.names.isEmpty
                                ? "log in first: care login --server URL --profile \(name)"
                                : "the profiles are \(config.names.joined(separator: ", "))"))
                }
                config.current = name
                try config.save()
            } catch { throw fail(error) }
            print("Using profile \(name).")
        }
    }

    /// `care profile set-tz ZONE`: the member's own zone for the times care shows.
    struct SetTimeZone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-tz",
            abstract: "Show times in your own zone rather than the team's (team goes back to the team's).",
            discussion: """
                Dates you type (tomorrow, +2d, friday) are still read on the patient's team's calendar; only \
                the times care shows change. --tz and CARE_TZ win over this for one command.
                Examples:
                  care profile set-tz America/Los_Angeles
                  care profile set-tz local
                  care profile set-tz team
                """)
        @Argument(help: "An IANA name (Europe/London), local (this machine's zone) or team.") var zone: String
        @Option(help: "The profile to set it for (default: the one in use).") var profile: String?

        func run() async throws {
            let name: String
            do {
                let chosen = try Zones.named(zone, "set-tz")
                var config = try Config.load()
                name = profile ?? ProcessInfo.processInfo.environment["CARE_PROFILE"] ?? config.current ?? "default"
                guard config.names.contains(name) else {
                    throw CLIError.usage(
                        "no profile '\(name)': log in first, care login --server URL --profile \(name)")
                }
                let kept = zone.trimmingCharacters(in: .whitespaces)
                config.profiles[name]?["time_zone"] =
                    chosen == nil ? nil : kept.lowercased() == "local" ? "local" : chosen!.identifier
                try config.save()
                print(
                    chosen == nil
                        ? "Profile \(name) shows times in the team's zone."
                        : "Profile \(name) shows times in \(config.profiles[name]?["time_zone"] ?? kept).")
            } catch { throw fail(error) }
        }
    }
}
