import ArgumentParser
import Foundation

/// The `care` executable's entry (docs/cli.md, "Mistakes"): an unknown command or option is named
/// first, before any other check, with the nearest known one; every argument error is one line,
/// `care: ...`, with where to find the usage, and exits 64.
public enum CareMain {
    public static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        // `care patient` or `care task` alone: their help, not their default's missing argument
        // (`care team` alone runs its default, which needs none).
        if !arguments.isEmpty, arguments.count == path(arguments).count - 1,
            let shown = command(at: arguments)?.configuration.defaultSubcommand, (try? shown.parse([])) == nil
        {
            arguments.append("--help")
        }
        // A shell asking for completions (`care ---completion ...`) is answered by the parser.
        if arguments.first != "---completion", let problem = precheck(arguments) {
            Terminal.error(problem)
            exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try CareCommand.parseAsRoot(arguments)
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            // Said already, on one line, by the command (`fail`).
            exit(code.rawValue)
        } catch {
            let code = CareCommand.exitCode(for: error)
            let message = CareCommand.message(for: error)
            // Help, the version and completion scripts are answers, not errors; an ExitCode
            // thrown by a command's validation was already said.
            guard code != .success, !message.isEmpty else { CareCommand.exit(withError: error) }
            let line = message.split(separator: "\n").first.map(String.init) ?? message
            Terminal.error(Self.sentence(line) + " See '\(Self.path(arguments).joined(separator: " ")) --help'.")
            exit(code == .failure ? ExitCode.validationFailure.rawValue : code.rawValue)
        }
    }

    /// A command's name as typed.
    static func name(of command: ParsableCommand.Type) -> String { command._commandName }

    /// Whether `word` names `command` (its name or one of its aliases).
    static func names(_ command: ParsableCommand.Type, _ word: String) -> Bool {
        name(of: command) == word || command.configuration.aliases.contains(word)
    }

    /// "Missing expected argument '--reason <reason>'" as the CLI's other lines read.
    static func sentence(_ message: String) -> String {
        var text = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
        if let first = text.first { text = first.lowercased() + text.dropFirst() }
        return text.hasSuffix(".") ? text : text + "."
    }

    /// The command words of `arguments`: ["care", "task", "add"].
    static func path(_ arguments: [String]) -> [String] {
        var command: ParsableCommand.Type = CareCommand.self
        var path = ["care"]
        for word in arguments {
            guard let next = command.configuration.subcommands.first(where: { names($0, word) }) else { break }
            command = next
            path.append(word)
        }
        return path
    }

    /// The command that the command words of `arguments` name.
    static func command(at arguments: [String]) -> ParsableCommand.Type? {
        var command: ParsableCommand.Type = CareCommand.self
        for word in path(arguments).dropFirst() {
            guard let next = command.configuration.subcommands.first(where: { names($0, word) }) else { return nil }
            command = next
        }
        return command
    }

    /// An unknown command word or long option, named with the nearest known one; nil if none.
    static func precheck(_ arguments: [String]) -> String? {
        var command: ParsableCommand.Type = CareCommand.self
        var path = ["care"]
        // `care help score add`, as every help page suggests: the parser's own help command,
        // followed by the command to explain, whose words are checked like any others.
        var index = arguments.first == "help" ? 1 : 0
        while index < arguments.count, !command.configuration.subcommands.isEmpty {
            let word = arguments[index]
            if word.hasPrefix("-") {
                // `care team --json`: the options of a group's default command.
                if let shown = command.configuration.defaultSubcommand { command = shown }
                break
            }
            let subcommands = command.configuration.subcommands
            guard let next = subcommands.first(where: { names($0, word) }) else {
                var names: [String] = []
                for subcommand in subcommands { names.append(name(of: subcommand)) }
                let near = nearest(word.lowercased(), among: names)
                // `care patient Ada`, `care task 1a2b3c4d`: a word that is no command of one with
                // a default (show) is what to show, unless it looks like a mistyped command
                // followed by what that command would take (`care task clam 1a2b3c4d`).
                if let shown = command.configuration.defaultSubcommand,
                    (shown as? any ShowsByDefault.Type)?.couldName(word) ?? true
                {
                    let words = arguments[index...].filter { !$0.hasPrefix("-") }
                    if near == nil || words.count == 1 {
                        command = shown
                        break
                    }
                }
                return "'\(word)' is not a command of '\(path.joined(separator: " "))'"
                    + (near.map { " (did you mean '\($0)'?)" } ?? ": it has \(names.joined(separator: ", "))")
                    + ". See '\(path.joined(separator: " ")) --help'."
            }
            command = next
            path.append(word)
            index += 1
        }
        let help = CareCommand.helpMessage(for: command, includeHidden: true, columns: 10_000)
        let known = Set(help.matches(of: /--[a-z0-9][a-z0-9-]*/).map { String($0.output) }).union([
            "--help", "--version", "--generate-completion-script", "--experimental-dump-help",
        ])
        for argument in arguments[index...] {
            if argument == "--" { break }
            guard argument.hasPrefix("--") else { continue }
            let name = String(argument.prefix { $0 != "=" })
            if known.contains(name) { continue }
            let near = nearest(name, among: Array(known))
            return "unknown option '\(name)' for '\(path.joined(separator: " "))'"
                + (near.map { " (did you mean '\($0)'?)" } ?? "") + ". See '\(path.joined(separator: " ")) --help'."
        }
        return nil
    }
}

/// A group's default command (`care task ID` is `care task show ID`), which says whether a word
/// could be what it shows; one that could not (`care task ad`) is taken for a mistyped command.
protocol ShowsByDefault {
    static func couldName(_ word: String) -> Bool
}
