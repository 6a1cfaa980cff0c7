import CareAPI
import CareDomain
import CareStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

@Suite("/v1 authentication, problem+json and request ids", .timeLimit(.minutes(2)))
struct V1Tests {
    func app(_ pool: PQPool) throws -> some ApplicationProtocol {
        buildApplication(
            CareAPIDependencies(
                store: CareStore(pool: pool, logger: testLogger()),
                migrator: try Migrator(migrations: Migration.embedded())),
            host: "127.0.0.1", port: 0, logger: testLogger())
    }

    func problem(_ response: TestResponse) throws -> Problem {
        #expect(response.headers[.contentType] == "application/problem+json")
        return try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
    }

    @Test("without a token, with a malformed one, an unknown one or a revoked one: 401 problem+json, the same for all")
    func unauthorized() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let store = CareStore(pool: pool, logger: testLogger())
            let team = try await store.createTeam(name: "North", by: .system())
            let member = try await store.createMember(
                displayName: "Dr. Rao", teamID: team, roles: [.psychiatrist], by: .system())
            let revoked = try await store.issueToken(memberID: member, expiresAt: nil, by: .system())
            try await store.revokeToken(revoked.id, by: .system())
            try await app(pool).test(.router) { client in
                for headers: HTTPFields in [
                    [:], [.authorization: "Basic abc"], [.authorization: "Bearer \(TokenFormat.generate())"],
                    [.authorization: "Bearer \(revoked.token)"],
                ] {
                    let response = try await client.execute(uri: "/v1/me", method: .get, headers: headers)
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                    let body = try problem(response)
                    #expect(body.type == Problem.typeBase + "unauthorized" && body.status == 401)
                    #expect(body.requestID == response.headers[HTTPField.Name("X-Request-Id")!])
                }
            }
        }
    }

    @Test("GET /v1/me returns the member, their teams and roles")
    func me() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let store = CareStore(pool: pool, logger: testLogger())
            let team = try await store.createTeam(name: "North", by: .system())
            let member = try await store.createMember(
                displayName: "Dr. Rao", teamID: team, roles: [.psychiatrist, .careManager], by: .system())
            let token = try await store.issueToken(memberID: member, expiresAt: nil, by: .system())
            try await app(pool).test(.router) { client in
                let response = try await client.execute(
                    uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token.token)"])
                #expect(response.status == .ok)
                let me = try #require(
                    try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                #expect(me["id"] as? String == member.uuidString.lowercased())
                #expect(me["display_name"] as? String == "Dr. Rao")
                let teams = try #require(me["teams"] as? [[String: Any]])
                #expect(teams.count == 1 && teams[0]["roles"] as? [String] == ["care_manager", "psychiatrist"])
                // Spaces around the token are forgiven; the scheme is case-insensitive.
                let spaced = try await client.execute(
                    uri: "/v1/me", method: .get, headers: [.authorization: "bearer   \(token.token) \t"])
                #expect(spaced.status == .ok)
            }
        }
    }

    @Test("every response carries a request id, echoing a sane incoming one; unknown routes are 404 problem+json")
    func requestIDs() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            try await app(pool).test(.router) { client in
                let health = try await client.execute(
                    uri: "/health", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "trace-42"])
                #expect(health.headers[HTTPField.Name("X-Request-Id")!] == "trace-42")
                let odd = try await client.execute(
                    uri: "/health", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "bad id; drop table"])
                let generated = try #require(odd.headers[HTTPField.Name("X-Request-Id")!])
                #expect(UUID(uuidString: generated) != nil)
                let missing = try await client.execute(uri: "/v2/nothing", method: .get)
                #expect(missing.status == .notFound)
                #expect(try problem(missing).type == Problem.typeBase + "not-found")
            }
        }
    }
}
