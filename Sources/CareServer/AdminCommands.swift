import CoreFormats
import ArgumentParser
import CareDomain
import CareStore
import Foundation
import Logging
import PQ

extension CareServerCommand {
    /// Operator commands against the database (with the server's rights): teams, members, service accounts
    /// and tokens. With --json each prints exactly one JSON object.
    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create teams, members, service accounts and tokens; revoke tokens.",
            subcommands: [
                Teams.self, CreateTeam.self, SetTimeZone.self, CreateMember.self, CreateServiceAccount.self,
                CreateToken.self,
                RevokeToken.self, SeedDemo.self, SeedSynthetic.self,
            ]
        )
    }
}

/// Options every admin command shares.
struct AdminOptions: ParsableArguments {
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var database: DatabaseOptions

    /// Opens the database, applies pending migrations, runs `body` with a store, closes everything.
    func withStore<T: Encodable>(_ body: (CareStore) async throws -> T, text: (T) -> String) async throws {
        let logger = database.makeLogger("carerelay.admin")
        var quiet = logger
        if database.logLevel == nil, ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil {
            quiet.logLevel = .warning
        }
        let opened = try await database.open(logger: quiet)
        defer { opened.close(logger: quiet) }
        try await opened.migrate(Migrator(migrations: Migration.embedded(), logger: quiet), logger: quiet)
        // Administration is the server's own work (care_service). An operator's own superuser
        // login is fine here: no warning.
        let pool = PQPool(
            configuration: try await opened.serverConfigurations(logger: quiet, warnUnsplit: false).service,
            options: .init(minimumConnections: 0, maximumConnections: 2), logger: quiet)
        do {
            let value = try await body(CareStore(pool: pool, logger: quiet))
            await pool.close()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(value), as: UTF8.self))
            } else {
                print(text(value))
            }
        } catch let error as StoreError {
            await pool.close()
            throw ServerError(error.description)
        } catch {
            await pool.close()
            throw error
        }
    }
}

extension Role: ExpressibleByArgument {}
extension Scope: ExpressibleByArgument {}

struct CreatedTeam: Encodable { var team_id: LowercaseID; var name: String; var time_zone: String }
struct CreatedMember: Encodable {
    var member_id: LowercaseID; var team_id: LowercaseID; var roles: [String]; var token_id: LowercaseID?;
    var token: String?; var expires_at: Date?
}
struct CreatedToken: Encodable {
    var token_id: LowercaseID; var member_id: LowercaseID; var token: String; var expires_at: Date?
}
struct RevokedToken: Encodable { var token_id: LowercaseID; var revoked: Bool }

extension CareServerCommand.Admin {
    struct CreateTeam: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-team", abstract: "Create a team.",
            discussion: "Example: care-server admin create-team --name \"North clinic\" --json")

        @Option(help: "The team's name.") var name: String
        @Option(help: "The team's time zone, an IANA name (America/New_York); default UTC.") var timeZone: String =
            "UTC"
        @OptionGroup var options: AdminOptions

        func validate() throws {
            do { _ = try TeamTimeZone.validate(timeZone) } catch {
                throw ValidationError(
                    error.message
                        + (error.accepted.isEmpty ? "" : " (close: \(error.accepted.joined(separator: ", ")))"))
            }
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    CreatedTeam(
                        team_id: LowercaseID(try await store.createTeam(name: name, timeZone: timeZone, by: .system())),
                        name: name, time_zone: timeZone)
                }, text: { "Created team \($0.name) (\($0.time_zone)): \($0.team_id)" })
        }
    }

    struct Teams: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every team: its id, name, time zone, members and patients (not discharged).",
            discussion: "Example: care-server admin teams --json")

        @OptionGroup var options: AdminOptions

        struct Listed: Encodable {
            var team_id: LowercaseID
            var name: String
            var time_zone: String
            var members: Int
            var patients: Int
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    try await store.teamsOverview(by: .system()).map {
                        Listed(
                            team_id: LowercaseID($0.id), name: $0.name, time_zone: $0.timeZone, members: $0.members,
                            patients: $0.patients)
                    }
                },
                text: { teams in
                    func pad(_ count: Int, _ width: Int) -> String {
                        String(repeating: " ", count: max(0, width - String(count).count)) + String(count)
                    }
                    guard !teams.isEmpty else { return "No teams yet: care-server admin create-team --name NAME" }
                    let width = max(4, teams.map(\.name.count).max() ?? 0)
                    let header =
                        "TEAM ID                               "
                        + "NAME".padding(toLength: width, withPad: " ", startingAt: 0)
                        + "  TIME ZONE             MEMBERS  PATIENTS"
                    return
                        ([header]
                        + teams.map { team in
                            "\(team.team_id)  \(team.name.padding(toLength: width, withPad: " ", startingAt: 0))  "
                                + team.time_zone.padding(toLength: 20, withPad: " ", startingAt: 0)
                                + "  \(pad(team.members, 7))  \(pad(team.patients, 8))"
                        }).joined(separator: "\n")
                })
        }
    }

    struct SetTimeZone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-time-zone", abstract: "Change a team's time zone (its weeks and dates follow it).",
            discussion: "Example: care-server admin set-time-zone --team TEAM_ID --zone America/New_York --json")

        @Option(help: "The team's id.") var team: UUID
        @Option(help: "An IANA time zone name.") var zone: String
        @OptionGroup var options: AdminOptions

        struct Changed: Encodable { var team_id: LowercaseID; var time_zone: String }

        func validate() throws {
            do { _ = try TeamTimeZone.validate(zone) } catch {
                throw ValidationError(
                    error.message
                        + (error.accepted.isEmpty ? "" : " (close: \(error.accepted.joined(separator: ", ")))"))
            }
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    Changed(
                        team_id: LowercaseID(team),
                        time_zone: try await store.setTimeZone(teamID: team, zone, by: .system()))
                }, text: { "Team \($0.team_id) is on \($0.time_zone)." })
        }
    }

    struct CreateMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-member", abstract: "Create a member with roles on a team, and a token for them.",
            discussion:
                "Example: care-server admin create-member --team TEAM_ID --name \"Dr. Rao\" --role psychiatrist --json")

        @Option(help: "The team's id.") var team: UUID
        @Option(help: "The member's display name.") var name: String
        @Option(help: "E-mail address (optional, unique).") var email: String?
        @Option(
            help:
                """
                A role on the team (repeat for several): psychiatrist, psychologist, social_worker, care_manager, \
                admin, compliance.
                """
        ) var role: [Role]
        @Option(help: "Days until the member's token expires (0: never).") var tokenDays: Int = 90
        @Flag(help: "Do not issue a token.") var noToken = false
        @OptionGroup var options: AdminOptions

        func validate() throws {
            if role.isEmpty { throw ValidationError("give at least one --role") }
            if role.contains(.integration) {
                throw ValidationError("integration is for service accounts: use create-service-account")
            }
            if tokenDays < 0 { throw ValidationError("--token-days cannot be negative") }
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    let member: UUID
                    var token: IssuedToken?
                    if noToken {
                        member = try await store.createMember(
                            displayName: name, email: email, teamID: team, roles: role, by: .system())
                    } else {
                        // The member and their token commit together.
                        let created = try await store.createMemberWithToken(
                            displayName: name, email: email, teamID: team, roles: role,
                            tokenName: "created with the member", expiresAt: expiry(days: tokenDays), by: .system())
                        member = created.memberID
                        token = created.token
                    }
                    return CreatedMember(
                        member_id: LowercaseID(member), team_id: LowercaseID(team), roles: role.map(\.rawValue),
                        token_id: token.map { LowercaseID($0.id) }, token: token?.token, expires_at: token?.expiresAt)
                },
                text: { created in
                    "Created member \(name): \(created.member_id)"
                        + (created.token.map { "\nToken (shown once): \($0)" } ?? "")
                })
        }
    }

    struct CreateServiceAccount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-service-account",
            abstract: "Create a service account for an integration, with a scoped token.",
            discussion:
                """
                Example: care-server admin create-service-account --team TEAM_ID --name EHR --scope events:read \
                --scope patients:read --json
                """
        )

        @Option(help: "The team whose patients it may reach.") var team: UUID
        @Option(help: "The integration's name.") var name: String
        @Option(help: "A scope (repeat): patients:read, patients:write, events:read, webhooks:manage, export.")
        var scope: [Scope]
        @Option(help: "Days until the token expires (0: never).") var tokenDays: Int = 365
        @OptionGroup var options: AdminOptions

        func validate() throws {
            if scope.isEmpty { throw ValidationError("give at least one --scope") }
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    let member = try await store.createMember(
                        displayName: name, teamID: team, roles: [.integration], isServiceAccount: true, by: .system())
                    let token = try await store.issueToken(
                        memberID: member, name: name, scopes: scope, expiresAt: expiry(days: tokenDays), by: .system())
                    return CreatedMember(
                        member_id: LowercaseID(member), team_id: LowercaseID(team), roles: [Role.integration.rawValue],
                        token_id: LowercaseID(token.id), token: token.token, expires_at: token.expiresAt)
                }, text: { "Created service account \(name): \($0.member_id)\nToken (shown once): \($0.token ?? "")" })
        }
    }

    struct CreateToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-token", abstract: "Issue another token for a member or service account.",
            discussion: "Example: care-server admin create-token --member MEMBER_ID --days 30 --json")

        @Option(help: "The member or service account.") var member: UUID
        @Option(help: "A label for the token.") var name: String = ""
        @Option(help: "Scopes, for a service account (repeat).") var scope: [Scope] = []
        @Option(help: "Days until it expires (0: never).") var days: Int = 90
        @OptionGroup var options: AdminOptions

        func run() async throws {
            guard days >= 0 else { throw ValidationError("--days cannot be negative") }
            try await options.withStore(
                { store in
                    let token = try await store.issueToken(
                        memberID: member, name: name, scopes: scope, expiresAt: expiry(days: days), by: .system())
                    return CreatedToken(
                        token_id: LowercaseID(token.id), member_id: LowercaseID(member), token: token.token,
                        expires_at: token.expiresAt)
                }, text: { "Token \($0.token_id) (shown once): \($0.token)" })
        }
    }

    struct RevokeToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-token", abstract: "Revoke a token at once.",
            discussion: "Example: care-server admin revoke-token --token-id TOKEN_ID")

        @Option(name: .customLong("token-id"), help: "The token's id (not the token).") var tokenID: UUID
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await options.withStore(
                { store in
                    try await store.revokeToken(tokenID, by: .system())
                    return RevokedToken(token_id: LowercaseID(tokenID), revoked: true)
                }, text: { "Revoked token \($0.token_id)" })
        }
    }
}

func expiry(days: Int) -> Date? {
    days == 0 ? nil : Date().addingTimeInterval(Double(days) * 86_400)
}

extension UUID: @retroactive ExpressibleByArgument {
    public init?(argument: String) { self.init(uuidString: argument) }
}
