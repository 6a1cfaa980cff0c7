import CareAPI
import CareDomain
import CareStore
import CareWebhooks
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Testing
import TestSupport

/// Two teams and everybody the authorisation rules distinguish, each with a token.
struct APIClinic {
    let store: CareStore
    let metrics: CareMetrics
    let north: UUID
    let south: UUID
    /// Tokens by name: psychiatrist, psychologist, socialWorker, admin, compliance, service (North,
    /// patients:read + patients:write), readOnlyService (North, patients:read), southPsychiatrist,
    /// integrator (North, events:read + webhooks:manage).
    var tokens: [String: String] = [:]
    var members: [String: UUID] = [:]
    /// A patient on each team.
    var northPatient: UUID
    var southPatient: UUID

    static func make(_ pool: PQPool) async throws -> APIClinic {
        let metrics = CareMetrics()
        let store = CareStore(
            pool: pool, requestPool: MigratedDatabase.requestPool(for: pool), logger: testLogger(),
            metrics: metrics.factory)
        let north = try await store.createTeam(name: "North", by: .system())
        let south = try await store.createTeam(name: "South", by: .system())
        var tokens: [String: String] = [:]
        var members: [String: UUID] = [:]
        func add(_ name: String, team: UUID, roles: [Role], service: Bool = false, scopes: [Scope] = []) async throws {
            let id = try await store.createMember(
                displayName: name, teamID: team, roles: roles, isServiceAccount: service, by: .system())
            members[name] = id
            tokens[name] = try await store.issueToken(memberID: id, scopes: scopes, expiresAt: nil, by: .system()).token
        }
        try await add("psychiatrist", team: north, roles: [.psychiatrist])
        try await add("psychologist", team: north, roles: [.psychologist])
        try await add("socialWorker", team: north, roles: [.socialWorker])
        try await add("admin", team: north, roles: [.admin])
        try await add("compliance", team: north, roles: [.compliance])
        try await add(
            "service", team: north, roles: [.integration], service: true, scopes: [.patientsRead, .patientsWrite])
        try await add("readOnlyService", team: north, roles: [.integration], service: true, scopes: [.patientsRead])
        try await add("southPsychiatrist", team: south, roles: [.psychiatrist])
        try await add(
            "integrator", team: north, roles: [.integration], service: true, scopes: [.eventsRead, .webhooksManage])
        let enrolled = Date(timeIntervalSince1970: 1_788_220_800)  // 2026-09-01
        let northPatient = try await store.createPatient(
            teamID: north, mrn: "N-1", displayName: "Ada North", enrolledOn: enrolled, by: .system())
        let southPatient = try await store.createPatient(
            teamID: south, mrn: "S-1", displayName: "Sam South", enrolledOn: enrolled, by: .system())
        return APIClinic(
            store: store, metrics: metrics, north: north, south: south, tokens: tokens, members: members,
            northPatient: northPatient, southPatient: southPatient)
    }

    /// `publicURL`: as care-server's `--public-url`.
    func app(publicURL: String? = nil) throws -> some ApplicationProtocol {
        var dependencies = CareAPIDependencies(
            store: store, migrator: try Migrator(migrations: Migration.embedded()), metrics: metrics)
        dependencies.publicURL = publicURL
        return buildApplication(dependencies, host: "127.0.0.1", port: 0, logger: testLogger())
    }

    /// The clinic's app on a store of its own whose every statement goes through `cutter` (to cut a
    /// connection at an exact point, or count round trips); `cacheReferenceData` as care-server does.
    func app(through cutter: WireCutter, cacheReferenceData: Bool = false) async throws
        -> (some ApplicationProtocol, PQPool)
    {
        let pool = try await cutter.pool(reaching: store.pool)
        let store = CareStore(
            pool: pool, logger: testLogger(), metrics: metrics.factory, cacheReferenceData: cacheReferenceData)
        let app = buildApplication(
            CareAPIDependencies(
                store: store, migrator: try Migrator(migrations: Migration.embedded()), metrics: metrics),
            host: "127.0.0.1", port: 0, logger: testLogger())
        return (app, pool)
    }

    /// With the feed's listener running (long polls wake on commits) and webhooks allowed to
    /// `allowNetworks`; test it `.live`, where services run.
    func liveApp(allowNetworks: [String] = ["127.0.0.0/8"]) throws -> some ApplicationProtocol {
        let signal = ChangeSignal()
        return buildApplication(
            CareAPIDependencies(
                store: store, migrator: try Migrator(migrations: Migration.embedded()), metrics: metrics,
                feedSignal: signal,
                webhookDestinations: DestinationPolicy(allowedNetworks: allowNetworks.compactMap(IPNetwork.init))),
            host: "127.0.0.1", port: 0,
            services: [FeedListener(pool: store.pool, signal: signal, logger: testLogger())], logger: testLogger())
    }
}

/// A response as a test reads it.
struct Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    var problemType: String? { (json["type"] as? String)?.replacingOccurrences(of: Problem.typeBase, with: "") }
    var detail: String { json["detail"] as? String ?? "" }
    var text: String { String(decoding: body, as: UTF8.self) }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await execute(
            uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
    }
}

extension UUID {
    var lower: String { uuidString.lowercased() }
}
