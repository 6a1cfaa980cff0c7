import ArgumentParser

/// `care`: the team member's client. It talks to care-server's HTTP API only and never links
/// libpq. Its working-day commands (queue, patient, task, note, ...) are built on the HTTP API.
public struct CareCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "care",
        abstract: "CareRelay's command-line client for psychiatrists, psychologists and social workers.",
        version: "0.1.0"
    )

    public init() {}

    public func run() async throws {
        print(CareCommand.helpMessage())
    }
}
