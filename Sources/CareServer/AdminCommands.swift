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
            abstract: "Create teams, members, service accounts and tokens; list and revoke tokens.",
            subcommands: [
                Teams.self, CreateTeam.self, SetTimeZone.self, CreateMember.self, CreateServiceAccount.self,
                SetRoles.self, RemoveMember.self, Tokens.self, CreateToken.self, RevokeToken.self, SeedDemo.self,
                SeedSynthetic.self,
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
/// One token: `token_id` and `revoked`; a member's: `member_id` and `token_ids` (nils are left out).
struct RevokedTokens: Encodable {
    var token_id: LowercaseID?
    var revoked: Bool?
    var member_id: LowercaseID?
    var token_ids: [LowercaseID]?
}

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
            commandName: "revoke-token", abstract: "Revoke a token, or every token of a member, at once.",
            discussion: """
                The token's id is in `care-server admin tokens` (by member or team, with each token's first \
                characters and when it was last used). Its next request gets 401.

                Examples: care-server admin revoke-token --token-id TOKEN_ID
                          care-server admin revoke-token --member MEMBER_ID   (someone leaving, a lost laptop)
                """)

        @Option(name: .customLong("token-id"), help: "The token's id (not the token).") var tokenID: UUID?
        @Option(help: "Revoke every token of this member or service account instead.") var member: UUID?
        @OptionGroup var options: AdminOptions

        func validate() throws {
            guard (tokenID == nil) != (member == nil) else {
                throw ValidationError("name one token (--token-id) or one member (--member)")
            }
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    if let member {
                        let revoked = try await store.revokeTokens(ofMember: member, by: .system())
                        return RevokedTokens(member_id: LowercaseID(member), token_ids: revoked.map(LowercaseID.init))
                    }
                    let tokenID = tokenID!
                    try await store.revokeToken(tokenID, by: .system())
                    return RevokedTokens(token_id: LowercaseID(tokenID), revoked: true)
                },
                text: { revoked in
                    guard let member = revoked.member_id, let ids = revoked.token_ids else {
                        return "Revoked token \(revoked.token_id?.description ?? "")"
                    }
                    return ids.isEmpty
                        ? "Member \(member) had no token left to revoke"
                        : "Revoked \(ids.count) token\(ids.count == 1 ? "" : "s") of member \(member): "
                            + ids.map(\.description).joined(separator: ", ")
                })
        }
    }

    struct SetRoles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-roles",
            abstract: "Set a member's roles on a team; a member of another team joins it (moving teams).",
            discussion: """
                A team's admin changes its own members' roles with PUT /v1/teams/{id}/members/{memberId}; \
                giving an existing member roles on another team is the operator's. Moving someone: set-roles \
                on the new team, then remove-member on the old one (their tokens and history stay theirs).

                Example: care-server admin set-roles --team TEAM_ID --member MEMBER_ID --role psychologist
                """)

        @Option(help: "The team's id.") var team: UUID
        @Option(help: "The member's id.") var member: UUID
        @Option(help: "A role on the team (repeat): psychiatrist, psychologist, social_worker, care_manager, admin.")
        var role: [Role]
        @OptionGroup var options: AdminOptions

        struct Changed: Encodable {
            var member_id: LowercaseID
            var team_id: LowercaseID
            var roles: [String]
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    let listed = try await store.setMemberRoles(member, onTeam: team, roles: role, by: .system())
                    return Changed(
                        member_id: LowercaseID(member), team_id: LowercaseID(team),
                        roles: listed.roles.map(\.rawValue).sorted())
                },
                text: { "Member \($0.member_id) on team \($0.team_id): \($0.roles.joined(separator: ", "))" })
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-member",
            abstract: "Take a member off a team: their access to its patients ends, their open tasks go to the pools.",
            discussion: """
                What a team's admin does with DELETE /v1/teams/{id}/members/{memberId}, for when none can. \
                Their tokens stay valid for their other teams: revoke-token --member ends them all.

                Example: care-server admin remove-member --team TEAM_ID --member MEMBER_ID
                """)

        @Option(help: "The team's id.") var team: UUID
        @Option(help: "The member's id (care-server admin tokens --team lists them).") var member: UUID
        @OptionGroup var options: AdminOptions

        struct Removed: Encodable {
            var member_id: LowercaseID
            var team_id: LowercaseID
            var released_task_ids: [LowercaseID]
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    let released = try await store.removeMember(member, fromTeam: team, by: .system())
                    return Removed(
                        member_id: LowercaseID(member), team_id: LowercaseID(team),
                        released_task_ids: released.map(LowercaseID.init))
                },
                text: { removed in
                    "Took member \(removed.member_id) off team \(removed.team_id)"
                        + (removed.released_task_ids.isEmpty
                            ? "" : "; \(removed.released_task_ids.count) open tasks went back to the pools")
                })
        }
    }

    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "List tokens (never the tokens themselves): a member's, or a team's members' and service accounts'.",
            discussion: """
                Active tokens only unless --all. Each shows its id (for revoke-token), its first characters \
                (to match the token someone holds), its member, label, last use and expiry.

                Examples: care-server admin tokens --team TEAM_ID
                          care-server admin tokens --member MEMBER_ID --all --json
                """)

        @Option(help: "Only this member's or service account's tokens.") var member: UUID?
        @Option(help: "Only the tokens of this team's members and service accounts.") var team: UUID?
        @Flag(help: "Revoked and expired tokens too.") var all = false
        @OptionGroup var options: AdminOptions

        struct Listed: Encodable {
            var token_id: LowercaseID
            var member_id: LowercaseID
            var member: String
            var service_account: Bool
            var name: String
            var prefix: String
            var scopes: [String]
            var created_at: Date
            var expires_at: Date?
            var last_used_at: Date?
            var revoked_at: Date?
            var state: String
        }

        func run() async throws {
            try await options.withStore(
                { store in
                    try await store.tokens(member: member, team: team, includeInactive: all, by: .system()).map {
                        Listed(
                            token_id: LowercaseID($0.id), member_id: LowercaseID($0.memberID), member: $0.memberName,
                            service_account: $0.isServiceAccount, name: $0.name, prefix: $0.prefix, scopes: $0.scopes,
                            created_at: $0.createdAt, expires_at: $0.expiresAt, last_used_at: $0.lastUsedAt,
                            revoked_at: $0.revokedAt, state: $0.state.rawValue)
                    }
                },
                text: { tokens in
                    guard !tokens.isEmpty else { return all ? "No tokens" : "No active tokens (--all shows the rest)" }
                    func day(_ date: Date?) -> String { date.map { String(Timestamp.format($0).prefix(10)) } ?? "-" }
                    func column(_ text: String, _ width: Int) -> String {
                        let cut = text.count >= width ? String(text.prefix(width - 2)) + "…" : text
                        return cut.padding(toLength: width, withPad: " ", startingAt: 0)
                    }
                    // By member (their id is what revoke-token --member takes), newest token first.
                    var members: [String] = []
                    var byMember: [String: [Listed]] = [:]
                    for token in tokens {
                        let key = token.member_id.description
                        if byMember[key] == nil { members.append(key) }
                        byMember[key, default: []].append(token)
                    }
                    let header =
                        "  " + column("TOKEN ID", 38) + column("PREFIX", 15) + column("LABEL", 16)
                        + column("LAST USED", 12) + column("EXPIRES", 12) + "STATE"
                    return members.map { key in
                        let list = byMember[key] ?? []
                        let who = list[0].member + (list[0].service_account ? " (service account)" : "")
                        return
                            ([
                                "\(who), member \(key)", header,
                            ]
                            + list.map { token in
                                "  " + column(token.token_id.description, 38) + column(token.prefix + "…", 15)
                                    + column(token.name.isEmpty ? "-" : token.name, 16)
                                    + column(day(token.last_used_at), 12)
                                    + column(token.expires_at == nil ? "never" : day(token.expires_at), 12)
                                    + token.state
                            }).joined(separator: "\n")
                    }.joined(separator: "\n\n")
                })
        }
    }
}

func expiry(days: Int) -> Date? {
    days == 0 ? nil : Date().addingTimeInterval(Double(days) * 86_400)
}

extension UUID: @retroactive ExpressibleByArgument {
    public init?(argument: String) { self.init(uuidString: argument) }
}
