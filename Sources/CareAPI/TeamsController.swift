import CareDomain
import CareStore
import CareWire
import Foundation
import HTTPTypes
import Hummingbird

/// /v1/teams: the caller's teams, a new team, a team's members and new members with their first token.
struct TeamsController: Sendable {
    let store: CareStore

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("teams", use: listTeams)
        v1.post("teams", use: createTeam)
        v1.get("teams/:id", use: team)
        v1.get("teams/:id/members", use: members)
        v1.post("teams/:id/members", use: addMember)
        v1.put("teams/:id/members/:memberId", use: setMemberRoles)
        v1.delete("teams/:id/members/:memberId", use: removeMember)
        v1.put("teams/:id/time-zone", use: setTimeZone)
    }

    /// PUT /v1/teams/:id/time-zone
    @Sendable func setTimeZone(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let body = try await request.decodeJSON(TimeZoneBody.self, context: context)
        try checkText(body.timeZone, "time_zone", max: 64, required: true)
        let zone = try await context.acting("team.time_zone", request) { caller in
            try await store.setTimeZone(teamID: id, body.timeZone, by: caller)
        }
        let principal = try await context.principal(store)
        let team = try await store.memberships(of: principal.memberID).first { $0.teamID == id }
        return try Wire.json(
            Team(
                id: id.lower, name: team?.name ?? "", roles: team?.roles.map(\.rawValue).sorted() ?? [], timeZone: zone)
        )
    }

    /// GET /v1/teams
    @Sendable func listTeams(_ request: Request, context: CareRequestContext) async throws -> Response {
        let principal = try await context.principal(store)
        let teams = try await store.memberships(of: principal.memberID)
        return try Wire.json(
            ListPage(
                items: teams.map {
                    Team($0)
                }, nextCursor: nil))
    }

    /// POST /v1/teams
    @Sendable func createTeam(_ request: Request, context: CareRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(NewTeam.self, context: context)
        try checkText(body.name, "name", max: 200, required: true)
        try checkText(body.timeZone, "time_zone", max: 64)
        let zone = body.timeZone ?? TeamTimeZone.utc
        return try await context.respond("team.create", request) { caller in
            try await store.createTeam(name: body.name, timeZone: zone, by: caller)
        } render: { id in
            return try Wire.answer(
                Team(
                    id: id.lower, name: body.name.trimmingCharacters(in: .whitespacesAndNewlines), roles: ["admin"],
                    timeZone: zone.trimmingCharacters(in: .whitespaces)),
                status: .created, headers: [.location: "/v1/teams/\(id.lower)"])
        }
    }

    /// GET /v1/teams/:id
    @Sendable func team(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let principal = try await context.principal(store)
        guard let team = try await store.memberships(of: principal.memberID).first(where: { $0.teamID == id }) else {
            throw Problem.notFound("team \(id.lower) not found")
        }
        return try Wire.json(
            Team(team))
    }

    /// GET /v1/teams/:id/members
    @Sendable func members(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let members = try await context.acting("team.members", request) { caller in
            try await store.teamMembers(teamID: id, by: caller)
        }
        return try Wire.json(ListPage(items: members.map(Member.init), nextCursor: nil))
    }

    /// PUT /v1/teams/:id/members/:memberId: a member's roles on the team (the team's own members;
    /// joining another team is the operator's, `care-server admin set-roles`).
    @Sendable func setMemberRoles(_ request: Request, context: CareRequestContext) async throws -> Response {
        let teamID = try context.id()
        let memberID = try context.id("memberId")
        let body = try await request.decodeJSON(MemberRoles.self, context: context)
        let member = try await context.acting("member.roles", request) { caller in
            try await store.setMemberRoles(memberID, onTeam: teamID, roles: body.roles, by: caller)
        }
        return try Wire.json(Member(member))
    }

    /// DELETE /v1/teams/:id/members/:memberId: someone leaving the team, or moving to another.
    @Sendable func removeMember(_ request: Request, context: CareRequestContext) async throws -> Response {
        let teamID = try context.id()
        let memberID = try context.id("memberId")
        let released = try await context.acting("member.remove", request) { caller in
            try await store.removeMember(memberID, fromTeam: teamID, by: caller)
        }
        return try Wire.json(
            RemovedMember(memberId: memberID.lower, teamId: teamID.lower, releasedTaskIds: released.map(\.lower)))
    }

    /// POST /v1/teams/:id/members
    @Sendable func addMember(_ request: Request, context: CareRequestContext) async throws -> Response {
        let teamID = try context.id()
        let body = try await request.decodeJSON(NewMember.self, context: context)
        try checkText(body.displayName, "display_name", max: 200, required: true)
        try checkText(body.email, "email", max: 320)
        guard !body.roles.contains(.integration) else {
            throw Problem.invalid(
                "integration is for service accounts; create them with care-server admin create-service-account")
        }
        // Tokens made through the API expire: in 90 days unless asked otherwise, in a year at most.
        // (The store refuses one more than a year away, once the caller may add members at all.)
        let expiresAt = body.tokenExpiresAt ?? Date().addingTimeInterval(APILimits.defaultTokenDays * 86_400)
        // The member and their token commit together (or neither does).
        return try await context.respond("member.create", request) { caller in
            try await store.createMemberWithToken(
                displayName: body.displayName, email: body.email, teamID: teamID, roles: body.roles,
                expiresAt: expiresAt, by: caller)
        } render: { created in
            let (member, token) = created
            return try Wire.answer(
                CreatedMember(
                    id: member.lower, roles: body.roles.map(\.rawValue).sorted(), tokenId: token.id.lower,
                    token: token.token,
                    tokenExpiresAt: token.expiresAt),
                status: .created, headers: [.location: "/v1/teams/\(teamID.lower)/members", .shownOnce: "token"])
        }
    }
}
