import ArgumentParser
import CareClient
import CareDomain
import CareWire
import Foundation

/// `care team`: who is on my teams with which roles; for a team's admins, adding a colleague
/// (their token shown once), changing someone's roles and taking someone off the team
/// (docs/cli.md, "Teams"). The server decides who may: a member who is not the team's admin is
/// refused (exit 3), the last admin stays (exit 4).
struct TeamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "team",
        abstract: "My teams' members and roles; a team's admins add colleagues, change roles, take someone off.",
        discussion: "care team is care team show.",
        subcommands: [Show.self, Add.self, Roles.self, Remove.self],
        defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The members of my teams and their roles.",
            discussion: """
                Examples:
                  care team
                  care team show --team Riverside --json
                """)
        @OptionGroup var choice: TeamChoice
        @OptionGroup var server: ServerOptions
        @OptionGroup var output: ReadOptions

        struct Listing: Encodable {
            var team: Team
            var members: [Member]
        }

        func run() async throws {
            let listings = try await withClient(server) { client -> [Listing] in
                let me = try await client.me()
                var listings: [Listing] = []
                for team in choice.team == nil ? me.teams : [try Teams.pick(choice.team, of: me)] {
                    listings.append(Listing(team: team, members: try await client.members(team: team.id)))
                }
                return listings
            }
            if output.json { return print(try Format.json(listings)) }
            if listings.isEmpty { return print("You are on no team.") }
            for (index, listing) in listings.enumerated() {
                if index > 0 { print() }
                let you = Teams.text(listing.team.roles)
                print(
                    "\(Terminal.bold(listing.team.name))  \(listing.team.timeZone ?? "UTC")  you: \(you)  "
                        + Terminal.dim(output.id(listing.team.id)))
                var table = Table(headers: ["ID", "NAME", "ROLES", "EMAIL"])
                // People first, by name; service accounts after them.
                let members = listing.members.sorted {
                    ($0.isServiceAccount ? 1 : 0, $0.displayName.lowercased())
                        < ($1.isServiceAccount ? 1 : 0, $1.displayName.lowercased())
                }
                for member in members {
                    table.add([
                        output.id(member.id), member.displayName,
                        Teams.text(member.roles) + (member.isServiceAccount ? " (service account)" : ""),
                        member.email ?? "-",
                    ])
                }
                print(table.render())
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a colleague to a team with their roles (the team's admins); their token is shown once.",
            discussion: """
                Hand the token over in person or by another safe way, not by e-mail; they log in with it (care \
                login --server URL). It expires in 90 days unless --expires-in-days says otherwise.
                Examples:
                  care team add "Dr. Lee Morgan" --role psychologist
                  care team add "Sam Ortiz" --role social-worker --role admin --email sam@clinic.example
                """)
        @Argument(help: "Their name as the team knows them.") var name: String
        @OptionGroup var roles: RoleChoice
        @Option(help: "Their e-mail address.") var email: String?
        @Option(help: "Days until their token expires, 1 to 365 (default 90).") var expiresInDays: Int?
        @OptionGroup var choice: TeamChoice
        @OptionGroup var server: ServerOptions
        @Flag(help: "Print the new member and token as JSON (for scripts).") var json = false

        func run() async throws {
            let roles: [Role]
            do {
                roles = try self.roles.parsed()
                if let days = expiresInDays, !(1...365).contains(days) {
                    throw CLIError.usage("--expires-in-days is 1 to 365")
                }
            } catch {
                throw fail(error)
            }
            let expiresAt = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let (team, created, url) = try await withClient(server) { client -> (Team, CreatedMember, String) in
                let team = try Teams.pick(choice.team, of: try await client.me())
                let created = try await client.addMember(
                    team: team.id, NewMember(displayName: name, email: email, roles: roles, tokenExpiresAt: expiresAt))
                return (team, created, client.server.absoluteString)
            }
            if json { return print(try Format.json(created)) }
            print(
                "Added \(name) to \(team.name) as \(Teams.text(created.roles))  "
                    + Terminal.dim(created.id))
            let expiry = created.tokenExpiresAt.map { " (it expires \(Format.day($0)))" } ?? ""
            print("Their token, shown this once\(expiry): hand it over in person or by another safe way.")
            print("  \(created.token)")
            print("They log in with: care login --server \(url)")
        }
    }

    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a member's roles on a team (the team's admins): a change of role, or a new admin.",
            discussion: """
                The roles given replace the member's roles on the team; they apply from their next request.
                Examples:
                  care team roles Okafor --role psychologist --role admin
                  care team roles 5c1e2a9b --role care-manager --team Riverside
                """)
        @Argument(help: "The member: part of the name or the first characters of the id.") var member: String
        @OptionGroup var roles: RoleChoice
        @OptionGroup var choice: TeamChoice
        @OptionGroup var server: ServerOptions
        @Flag(help: "Print the member as JSON (for scripts).") var json = false

        func run() async throws {
            let roles: [Role]
            do { roles = try self.roles.parsed() } catch { throw fail(error) }
            let (team, changed) = try await withClient(server) { client -> (Team, Member) in
                let team = try Teams.pick(choice.team, of: try await client.me())
                let found = try Teams.member(member, among: try await client.members(team: team.id), team: team)
                return (team, try await client.setRoles(team: team.id, member: found.id, MemberRoles(roles: roles)))
            }
            if json { return print(try Format.json(changed)) }
            print("\(changed.displayName) on \(team.name): \(Teams.text(changed.roles)).")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take someone off a team (the team's admins): their open tasks there go back to the pools.",
            discussion: """
                Someone leaving the team. Their next request no longer reaches the team's patients; each open task \
                they owned on them is requested again from the pool of its role. Their tokens stay valid for their \
                other teams (an operator revokes them: care-server admin revoke-token --member ID).
                Example: care team remove "Carmen Diaz"
                """)
        @Argument(help: "The member: part of the name or the first characters of the id.") var member: String
        @OptionGroup var choice: TeamChoice
        @OptionGroup var server: ServerOptions
        @Flag(help: "Print the result as JSON (for scripts).") var json = false

        func run() async throws {
            let (team, name, removed) = try await withClient(server) { client -> (Team, String, RemovedMember) in
                let team = try Teams.pick(choice.team, of: try await client.me())
                let found = try Teams.member(member, among: try await client.members(team: team.id), team: team)
                return (team, found.displayName, try await client.removeMember(team: team.id, member: found.id))
            }
            if json { return print(try Format.json(removed)) }
            let released = removed.releasedTaskIds.count
            print(
                "Took \(name) off \(team.name)."
                    + (released > 0
                        ? " \(Format.count(released, "open task")) went back to the pools: care queue shows them to "
                            + "whoever has the role."
                        : ""))
        }
    }
}

/// `--team`, for a member of several teams.
struct TeamChoice: ParsableArguments {
    @Option(help: "The team: part of its name or the first characters of its id (when you are on more than one).")
    var team: String?
}

/// `--role`, once or more.
struct RoleChoice: ParsableArguments {
    @Option(
        help: """
            A role on the team: psychiatrist, psychologist, social-worker, care-manager, admin or compliance; repeat \
            it for more than one.
            """,
        completion: Completions.names(Role.self, among: Teams.assignable))
    var role: [String] = []

    /// The roles given, each once, in the order given.
    func parsed() throws -> [Role] {
        guard !role.isEmpty else { throw CLIError.usage("give the member's roles with --role (one or more)") }
        var roles: [Role] = []
        for text in role {
            let parsed = try named(text, "--role", among: Teams.assignable)
            if !roles.contains(parsed) { roles.append(parsed) }
        }
        return roles
    }
}

/// Naming a team and its members as `care team` reads them.
enum Teams {
    /// The roles a team's admin can give (service accounts' integration role is the operator's).
    static let assignable = Role.allCases.filter { $0 != .integration }

    /// The caller's team that `text` names (part of its name, or the first characters of its
    /// id), or their only team when `text` is nil.
    static func pick(_ text: String?, of me: Me) throws -> Team {
        let teams = me.teams
        guard let typed = text?.trimmingCharacters(in: .whitespaces), !typed.isEmpty else {
            if teams.count == 1 { return teams[0] }
            if teams.isEmpty { throw CLIError.notFound("you are on no team") }
            throw CLIError.ambiguous("you are on \(teams.count) teams (\(list(teams))): say which with --team")
        }
        let lowered = typed.lowercased()
        let exact = teams.filter { $0.name.lowercased() == lowered || $0.id == lowered }
        if exact.count == 1 { return exact[0] }
        let found = teams.filter { $0.id.hasPrefix(lowered) || $0.name.lowercased().contains(lowered) }
        if found.count == 1 { return found[0] }
        if found.isEmpty { throw CLIError.notFound("none of your teams matches '\(typed)' (yours: \(list(teams)))") }
        throw CLIError.ambiguous(
            "'\(typed)' matches \(found.count) of your teams: \(list(found)). Give more of the name or the id")
    }

    /// Roles as people read them: the clinical ones first, in the domain's order ("psychiatrist, admin").
    static func text(_ roles: [String]) -> String {
        let order = Role.allCases.map(\.rawValue)
        return roles.sorted { (order.firstIndex(of: $0) ?? order.count) < (order.firstIndex(of: $1) ?? order.count) }
            .map(Names.role).joined(separator: ", ")
    }

    static func list(_ teams: [Team]) -> String {
        teams.map { "\($0.name) (\(Names.short($0.id)))" }.joined(separator: "; ")
    }

    /// The member of `team` that `text` names: part of the name (a whole word of it wins among
    /// several) or the first characters of the id.
    static func member(_ text: String, among members: [Member], team: Team) throws -> Member {
        let typed = text.trimmingCharacters(in: .whitespaces)
        guard !typed.isEmpty else { throw CLIError.usage("name the member: part of the name or the id") }
        let lowered = typed.lowercased()
        let found = members.filter { $0.id.hasPrefix(lowered) || $0.displayName.lowercased().contains(lowered) }
        for exact in [
            members.filter { $0.id == lowered }, members.filter { $0.displayName.lowercased() == lowered },
            found.filter { Names.words($0.displayName).contains(lowered) },
        ] where exact.count == 1 {
            return exact[0]
        }
        if found.count == 1 { return found[0] }
        if found.isEmpty { throw CLIError.notFound("nobody on \(team.name) matches '\(typed)' (by name or id)") }
        let listed = found.map { "\($0.displayName) (\(Names.short($0.id)))" }
        throw CLIError.ambiguous(
            "'\(typed)' matches \(found.count) members of \(team.name): \(listed.joined(separator: "; ")). "
                + "Give more of the name or the id")
    }
}
