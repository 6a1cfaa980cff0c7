import CareAPI
import CareDomain
import CareStore
import CareWebhooks
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import PQ
import Synchronization
import Testing
import TestSupport

/// A webhook receiver on a loopback port: records what it gets and answers as `answer` says
/// (given the request's number, counting from 1).
final class Receiver: Sendable {
    struct Received: Sendable {
        var headers: [String: String]
        var body: Data
        var status: Int
    }

    let answer: @Sendable (Int) async -> HTTPResponse.Status
    private let received = Mutex<[Received]>([])

    init(answer: @escaping @Sendable (Int) async -> HTTPResponse.Status = { _ in .noContent }) {
        self.answer = answer
    }

    var requests: [Received] { received.withLock { $0 } }

    /// Cancelling the receiver at the end of a test makes its server log errors nobody needs.
    static let quiet: Logger = {
        var logger = Logger(label: "carerelay.test.receiver")
        logger.logLevel = .critical
        return logger
    }()
    var successes: [Received] { requests.filter { (200..<300).contains($0.status) } }

    /// Runs the receiver around `body`, which gets its URL.
    func run<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            headers["host"] = request.head.authority
            let number = self.received.withLock { $0.count + 1 }
            // Count the request before answering, so a slow answer still shows it arrived.
            self.received.withLock { $0.append(Received(headers: headers, body: Data(buffer: bytes), status: 0)) }
            let status = await self.answer(number)
            self.received.withLock { $0[number - 1].status = Int(status.code) }
            return Response(status: status)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Self.quiet)
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return try await body("http://127.0.0.1:\(port)/hook")
    }
}

/// The signature check a receiver would write, from the Standard Webhooks specification,
/// independent of CareWebhooks: HMAC-SHA256 over "id.timestamp.body", keyed by the base64 part
/// of the whsec_ secret, sent as "v1,<base64>" (several, space-separated, during a rotation).
func verifySignature(_ received: Receiver.Received, secret: String) -> Bool {
    guard let id = received.headers["webhook-id"], let timestamp = received.headers["webhook-timestamp"],
        let header = received.headers["webhook-signature"], secret.hasPrefix("whsec_"),
        let key = Data(base64Encoded: String(secret.dropFirst("whsec_".count)))
    else { return false }
    guard let seconds = Int(timestamp), abs(Date().timeIntervalSince1970 - Double(seconds)) < 300 else { return false }
    var signed = Data("\(id).\(timestamp).".utf8)
    signed.append(received.body)
    let expected = Data(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key)))
        .base64EncodedString()
    return header.split(separator: " ").contains { $0 == "v1,\(expected)" }
}

func fastSettings(attempts: Int = 5, lease: Duration = .seconds(5)) -> WebhookSettings {
    var settings = WebhookSettings()
    settings.maxAttempts = attempts
    settings.retryBase = .milliseconds(50)
    settings.retryCap = .milliseconds(400)
    settings.timeout = .seconds(2)
    settings.lease = lease
    settings.idlePoll = .milliseconds(100)
    settings.destinations = DestinationPolicy(allowedNetworks: [IPNetwork("127.0.0.0/8")!])
    return settings
}

/// Runs a dispatcher (its whole service loop) around `body`.
func withDispatcher<T: Sendable>(
    _ store: CareStore, _ settings: WebhookSettings, metrics: CareMetrics? = nil,
    _ body: () async throws -> T
) async throws -> T {
    let dispatcher = WebhookDispatcher(
        store: store, settings: settings, logger: testLogger("carerelay.test.webhooks"),
        metrics: metrics?.factory ?? NOOPMetricsHandler.instance)
    let running = Task { try await dispatcher.run() }
    do {
        let value = try await body()
        running.cancel()
        _ = try? await running.value
        return value
    } catch {
        running.cancel()
        _ = try? await running.value
        throw error
    }
}

/// Waits (up to `seconds`) until `condition` holds.
func eventually(_ seconds: Double = 20, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

extension APIClinic {
    /// Subscribes the integrator's webhook to `types`; returns its id and secret.
    func subscribe(_ client: some TestClientProtocol, url: String, types: [String] = ["patient.enrolled"]) async throws
        -> (id: String, secret: String)
    {
        let typesJSON = types.map { "\"\($0)\"" }.joined(separator: ",")
        let created = try await client.call(
            .post, "/v1/webhooks", token: tokens["integrator"],
            json: #"{"url": "\#(url)", "event_types": [\#(typesJSON)]}"#)
        #expect(created.status == .created, "\(created.text)")
        return (try #require(created.json["id"] as? String), try #require(created.json["secret"] as? String))
    }

    func deliveries(_ client: some TestClientProtocol, _ webhook: String) async throws -> [[String: Any]] {
        let page = try await client.call(.get, "/v1/webhooks/\(webhook)/deliveries", token: tokens["integrator"])
        #expect(page.status == .ok, "\(page.text)")
        return page.items
    }

    @discardableResult
    func enrol(_ name: String, team: UUID? = nil) async throws -> UUID {
        try await store.createPatient(
            teamID: team ?? north, mrn: name, displayName: name, enrolledOn: Date(), by: .system())
    }
}

@Suite("Webhooks: subscriptions, signed deliveries, retries, dead letters", .timeLimit(.minutes(5)))
struct WebhookTests {
    @Test(
        """
        a delivery is signed per Standard Webhooks; a receiver failing 3 times gets it once as a success after 3 retries
        """
    )
    func retriesThenSucceeds() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let receiver = Receiver { $0 <= 3 ? .serviceUnavailable : .noContent }
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, secret) = try await clinic.subscribe(client, url: url)
                    let patient = try await clinic.enrol("N-HOOK")
                    try await withDispatcher(clinic.store, fastSettings(), metrics: clinic.metrics) { () async throws in
                        #expect(try await eventually { receiver.successes.count == 1 })
                        #expect(
                            try await eventually {
                                try await clinic.deliveries(client, webhook).first?["status"] as? String == "succeeded"
                            })
                        try await Task.sleep(for: .milliseconds(300))  // nothing more arrives
                    }
                    #expect(receiver.requests.count == 4)
                    #expect(receiver.successes.count == 1)
                    #expect(
                        Set(receiver.requests.map { $0.headers["webhook-id"] ?? "" }).count == 1,
                        "retries keep the webhook-id")
                    let success = try #require(receiver.successes.first)
                    #expect(verifySignature(success, secret: secret))
                    #expect(
                        !verifySignature(
                            success, secret: "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()))
                    let body = try #require(try JSONSerialization.jsonObject(with: success.body) as? [String: Any])
                    #expect(body["type"] as? String == "patient.enrolled")
                    let data = try #require(body["data"] as? [String: Any])
                    #expect(data["patient_id"] as? String == patient.lower)
                    #expect(data["team_id"] as? String == clinic.north.lower)
                    #expect(success.headers["content-type"] == "application/json")

                    let delivery = try #require(try await clinic.deliveries(client, webhook).first)
                    #expect(delivery["status"] as? String == "succeeded")
                    #expect(delivery["attempts"] as? Int == 4)
                    #expect(delivery["last_status"] as? Int == 204)

                    let scraped = try await client.call(.get, "/metrics", token: nil).text
                    #expect(scraped.contains(#"carerelay_webhook_attempts_total{result="failed"} 3"#), "\(scraped)")
                    #expect(scraped.contains(#"carerelay_webhook_attempts_total{result="delivered"} 1"#))
                    #expect(scraped.contains("carerelay_webhook_delivery_seconds_count 1"))
                }
            }
        }
    }

    @Test("a receiver that always fails leaves the delivery dead with its last error; redeliver sends it again")
    func deadLetterAndRedeliver() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let healthy = Mutex(false)
            let receiver = Receiver { _ in healthy.withLock { $0 } ? .ok : .internalServerError }
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, _) = try await clinic.subscribe(client, url: url)
                    try await clinic.enrol("N-DEAD")
                    try await withDispatcher(clinic.store, fastSettings(attempts: 3)) { () async throws in
                        #expect(
                            try await eventually {
                                try await clinic.deliveries(client, webhook).first?["status"] as? String == "dead"
                            })
                        let dead = try #require(try await clinic.deliveries(client, webhook).first)
                        #expect(dead["attempts"] as? Int == 3)
                        #expect(dead["last_status"] as? Int == 500)
                        #expect((dead["last_error"] as? String)?.contains("500") == true)
                        #expect(receiver.requests.count == 3)
                        let onlyDead = try await client.call(
                            .get, "/v1/webhooks/\(webhook)/deliveries?status=dead", token: clinic.tokens["integrator"])
                        #expect(onlyDead.items.count == 1)

                        healthy.withLock { $0 = true }
                        let id = try #require(dead["id"] as? String)
                        let again = try await client.call(
                            .post, "/v1/webhooks/\(webhook)/deliveries/\(id)/redeliver",
                            token: clinic.tokens["integrator"])
                        #expect(again.status == .accepted, "\(again.text)")
                        #expect(try await eventually { receiver.successes.count == 1 })
                        #expect(
                            try await eventually {
                                try await clinic.deliveries(client, webhook).first?["status"] as? String == "succeeded"
                            })
                        let twice = try await client.call(
                            .post, "/v1/webhooks/\(webhook)/deliveries/\(UUID().uuidString)/redeliver",
                            token: clinic.tokens["integrator"])
                        #expect(twice.status == .notFound)
                    }
                }
            }
        }
    }

    @Test("two dispatchers (two servers' worth, each with its own pool) on one database send each delivery once")
    func twoServersShareTheWork() async throws {
        try await MigratedDatabase.withPool { pool, database in
            let clinic = try await APIClinic.make(pool)
            let receiver = Receiver { _ in
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                return .ok
            }
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    _ = try await clinic.subscribe(client, url: url)
                    let name = try await pool.query("SELECT current_database()")[0].decode(String.self, at: 0)
                    let otherPool = PQPool(
                        configuration: database.configuration(database: name),
                        options: .init(minimumConnections: 0, maximumConnections: 4))
                    let other = CareStore(pool: otherPool, logger: testLogger())
                    var settings = fastSettings()
                    settings.batchSize = 3
                    try await withDispatcher(clinic.store, settings) { () async throws in
                        try await withDispatcher(other, settings) { () async throws in
                            for index in 0..<40 { try await clinic.enrol("N-TWO-\(index)") }
                            #expect(try await eventually(40) { receiver.successes.count >= 40 })
                            #expect(
                                try await eventually {
                                    try await pool.query(
                                        "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'")[0].decode(
                                            Int.self, at: 0) == 40
                                })
                            try await Task.sleep(for: .milliseconds(300))
                        }
                    }
                    await otherPool.close()
                    let ids = receiver.requests.map { $0.headers["webhook-id"] ?? "" }
                    #expect(ids.count == 40, "\(ids.count) requests for 40 deliveries")
                    #expect(Set(ids).count == 40)
                    let sent = try await pool.query(
                        "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded' AND attempts = 1")[0]
                        .decode(Int.self, at: 0)
                    #expect(sent == 40)
                }
            }
        }
    }

    @Test("a delivery claimed by a server that died before sending is reclaimed after its lease and sent")
    func reclaimedAfterLease() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let receiver = Receiver()
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, _) = try await clinic.subscribe(client, url: url)
                    try await clinic.enrol("N-LEASE")
                    // The dead server: claims with a 1 s lease, then never sends or answers.
                    let claimed = try await clinic.store.claimDeliveries(limit: 10, lease: .seconds(1))
                    #expect(claimed.count == 1)
                    let began = ContinuousClock.now
                    try await withDispatcher(clinic.store, fastSettings()) { () async throws in
                        #expect(try await eventually { receiver.successes.count == 1 })
                        #expect(
                            try await eventually {
                                try await clinic.deliveries(client, webhook).first?["status"] as? String == "succeeded"
                            })
                    }
                    #expect(ContinuousClock.now - began >= .milliseconds(800), "sent before the lease ran out")
                    let delivery = try #require(try await clinic.deliveries(client, webhook).first)
                    #expect(delivery["status"] as? String == "succeeded")
                    #expect(delivery["attempts"] as? Int == 2)
                    // The dead server's late answer changes nothing.
                    let late = try await clinic.store.settleDelivery(
                        try #require(claimed.first), result: .failed(status: 500, error: "late"),
                        retryAfter: .seconds(1))
                    #expect(!late)
                }
            }
        }
    }

    @Test("410 Gone disables the subscription and cancels what waits; pausing keeps deliveries until resumed")
    func goneAndPaused() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let gone = Receiver { _ in .gone }
            try await gone.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, _) = try await clinic.subscribe(client, url: url)
                    try await clinic.enrol("N-GONE")
                    try await withDispatcher(clinic.store, fastSettings()) { () async throws in
                        #expect(
                            try await eventually {
                                try await client.call(
                                    .get, "/v1/webhooks/\(webhook)", token: clinic.tokens["integrator"]
                                ).json["status"] as? String == "disabled"
                            })
                    }
                    let delivery = try #require(try await clinic.deliveries(client, webhook).first)
                    #expect(delivery["status"] as? String == "cancelled")
                    #expect(gone.requests.count == 1)
                    // Disabled: new events make no deliveries.
                    try await clinic.enrol("N-GONE-2")
                    #expect(try await clinic.deliveries(client, webhook).count == 1)
                }
            }
            let receiver = Receiver()
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, _) = try await clinic.subscribe(client, url: url)
                    let paused = try await client.call(
                        .post, "/v1/webhooks/\(webhook)/pause", token: clinic.tokens["integrator"])
                    #expect(paused.json["status"] as? String == "paused")
                    try await clinic.enrol("N-PAUSED")
                    try await withDispatcher(clinic.store, fastSettings()) { () async throws in
                        try await Task.sleep(for: .milliseconds(600))
                        #expect(receiver.requests.isEmpty)
                        #expect(try await clinic.deliveries(client, webhook).first?["status"] as? String == "pending")
                        let resumed = try await client.call(
                            .post, "/v1/webhooks/\(webhook)/resume", token: clinic.tokens["integrator"])
                        #expect(resumed.json["status"] as? String == "active")
                        #expect(try await eventually { receiver.successes.count == 1 })
                    }
                }
            }
        }
    }

    @Test("after a rotation both secrets sign until the old one expires")
    func rotation() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let receiver = Receiver()
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, old) = try await clinic.subscribe(client, url: url)
                    let rotated = try await client.call(
                        .post, "/v1/webhooks/\(webhook)/rotate-secret", token: clinic.tokens["integrator"],
                        headers: [.idempotencyKey: "rotate-1"])
                    #expect(rotated.status == .ok)
                    let new = try #require(rotated.json["secret"] as? String)
                    #expect(new != old)
                    // A replay does not hand the secret out again, and it was never kept.
                    let replay = try await client.call(
                        .post, "/v1/webhooks/\(webhook)/rotate-secret", token: clinic.tokens["integrator"],
                        headers: [.idempotencyKey: "rotate-1"])
                    #expect(
                        replay.status == .conflict && replay.problemType == "secret-shown-once"
                            && !replay.text.contains("whsec_"), "\(replay.text)")
                    #expect(
                        try await clinic.store.pool.query(
                            """
                            SELECT count(*) FROM idempotency_keys WHERE convert_from(response_body, 'UTF8') LIKE \
                            '%whsec_%'
                            """
                        )[0]
                        .decode(Int.self, at: 0) == 0)
                    let shown = try await client.call(
                        .get, "/v1/webhooks/\(webhook)", token: clinic.tokens["integrator"])
                    #expect(shown.json["secret"] == nil, "the secret is shown only when made")
                    try await clinic.enrol("N-ROT")
                    try await withDispatcher(clinic.store, fastSettings()) { () async throws in
                        #expect(try await eventually { receiver.successes.count == 1 })
                    }
                    let received = try #require(receiver.successes.first)
                    #expect(verifySignature(received, secret: new))
                    #expect(verifySignature(received, secret: old))
                    #expect(received.headers["webhook-signature"]?.split(separator: " ").count == 2)
                }
            }
        }
    }

    @Test(
        """
        the outbox: deliveries only for committed events of the subscriber's teams and types, never a psychotherapy \
        note's
        """
    )
    func outbox() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.liveApp().test(.router) { client in
                let (webhook, _) = try await clinic.subscribe(client, url: "http://127.0.0.1:9/hook", types: ["*"])
                let psychologist = try #require(clinic.members["psychologist"])
                _ = try await clinic.store.addNote(
                    patientID: clinic.northPatient, kind: .psychotherapy, body: "SECRET",
                    by: .system(actingFor: psychologist))
                _ = try await clinic.store.addNote(
                    patientID: clinic.northPatient, kind: .progress, body: "fine", by: .system(actingFor: psychologist))
                try await clinic.enrol("S-OTHER", team: clinic.south)
                // A command that fails writes no event and so no delivery.
                await #expect(throws: StoreError.self) {
                    try await clinic.store.createPatient(
                        teamID: clinic.north, mrn: "N-1", displayName: "Duplicate MRN", enrolledOn: Date(),
                        by: .system())
                }
                let rows = try await pool.query(
                    """
                    SELECT d.event_type, e.team_id, e.payload->>'kind' FROM webhook_deliveries d JOIN events e ON e.id =
                        d.event_id ORDER BY d.event_id
                    """
                ).map { try $0.decode(String.self, UUID.self, String?.self) }
                #expect(rows.map(\.0) == ["note.added"])
                #expect(rows.allSatisfy { $0.1 == clinic.north && $0.2 != "psychotherapy" })
                #expect(try await clinic.deliveries(client, webhook).count == 1)

                // Housekeeping forgets settled deliveries after 30 days, never a pending or dead one.
                try await pool.query("UPDATE webhook_deliveries SET created_at = now() - interval '40 days'")
                #expect(try await clinic.store.expireDeliveries() == 0)
                try await pool.query("UPDATE webhook_deliveries SET status = 'succeeded'")
                #expect(try await clinic.store.expireDeliveries() == 1)
                #expect(try await clinic.deliveries(client, webhook).isEmpty)
            }
        }
    }

    @Test("subscriptions: who may make them, where they may point, and their owner alone sees them")
    func subscriptionRules() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            try await clinic.liveApp(allowNetworks: []).test(.router) { client in
                let integrator = clinic.tokens["integrator"]
                for url in [
                    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://[::1]/hook",
                    "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/hook",
                    "http://192.168.0.10/hook",
                ] {
                    let refused = try await client.call(
                        .post, "/v1/webhooks", token: integrator,
                        json: #"{"url": "\#(url)", "event_types": ["trial.failed"]}"#)
                    #expect(refused.status == .unprocessableContent, "\(url): \(refused.text)")
                    #expect(
                        refused.detail.contains("address") || refused.detail.contains("resolve"),
                        "\(url): \(refused.detail)")
                }
                for (url, why) in [
                    ("ftp://example.org/x", "http"), ("http://user:pw@203.0.113.9/", "credentials"),
                    ("/relative", "absolute"),
                ] {
                    let refused = try await client.call(
                        .post, "/v1/webhooks", token: integrator,
                        json: #"{"url": "\#(url)", "event_types": ["trial.failed"]}"#)
                    #expect(refused.status == .unprocessableContent, "\(url)")
                    #expect(refused.detail.contains(why), "\(url): \(refused.detail)")
                }
                let typo = try await client.call(
                    .post, "/v1/webhooks", token: integrator,
                    json: #"{"url": "http://93.184.215.14/hook", "event_types": ["trial.faild"]}"#)
                #expect(typo.status == .unprocessableContent)
                #expect(typo.detail.contains("trial.faild"))
                for name in ["psychiatrist", "admin", "service"] {
                    let refused = try await client.call(
                        .post, "/v1/webhooks", token: clinic.tokens[name],
                        json: #"{"url": "http://93.184.215.14/hook", "event_types": ["trial.failed"]}"#)
                    #expect(refused.status == .forbidden, "\(name)")
                }
                let made = try await client.call(
                    .post, "/v1/webhooks", token: integrator,
                    json:
                        #"""
                        {"url": "http://93.184.215.14/hook", "event_types": ["trial.failed", "handoff.created"], \#
                        "team_id": "\#(clinic.south.lower)"}
                        """#
                )
                #expect(made.status == .notFound, "another team's filter: \(made.text)")
                let ok = try await client.call(
                    .post, "/v1/webhooks", token: integrator,
                    json:
                        #"""
                        {"url": "http://93.184.215.14/hook", "event_types": ["trial.failed", "handoff.created"], \#
                        "team_id": "\#(clinic.north.lower)"}
                        """#
                )
                #expect(ok.status == .created, "\(ok.text)")
                let id = try #require(ok.json["id"] as? String)
                #expect((ok.json["secret"] as? String)?.hasPrefix("whsec_") == true)
                let list = try await client.call(.get, "/v1/webhooks", token: integrator)
                #expect(list.items.map { $0["id"] as? String } == [id])
                #expect(list.items.first?["secret"] == nil)
                // Pages follow the cursor.
                let second = try await client.call(
                    .post, "/v1/webhooks", token: integrator,
                    json: #"{"url": "https://93.184.215.14/other", "event_types": ["*"]}"#)
                let secondID = try #require(second.json["id"] as? String)
                let first = try await client.call(.get, "/v1/webhooks?limit=1", token: integrator)
                #expect(first.items.map { $0["id"] as? String } == [id])
                let cursor = try #require(first.json["next_cursor"] as? String)
                let next = try await client.call(.get, "/v1/webhooks?limit=1&cursor=\(cursor)", token: integrator)
                #expect(next.items.map { $0["id"] as? String } == [secondID])
                #expect(next.json["next_cursor"] == nil)
                // Another service account with the scope sees nothing of it.
                let otherID = try await clinic.store.createMember(
                    displayName: "Other integration", teamID: clinic.north, roles: [.integration],
                    isServiceAccount: true, by: .system())
                let other = try await clinic.store.issueToken(
                    memberID: otherID, scopes: [.webhooksManage], expiresAt: nil, by: .system()
                ).token
                #expect(try await client.call(.get, "/v1/webhooks", token: other).items.isEmpty)
                #expect(try await client.call(.get, "/v1/webhooks/\(id)", token: other).status == .notFound)
                #expect(try await client.call(.delete, "/v1/webhooks/\(id)", token: other).status == .notFound)
                #expect(try await client.call(.delete, "/v1/webhooks/\(id)", token: integrator).status == .noContent)
                #expect(try await client.call(.get, "/v1/webhooks/\(id)", token: integrator).status == .notFound)
            }
        }
    }

    @Test("networks and the destination policy")
    func networks() throws {
        let loopback = try #require(IPNetwork("127.0.0.0/8"))
        #expect(
            loopback.contains([127, 0, 0, 1]) && loopback.contains([127, 255, 1, 2])
                && !loopback.contains([128, 0, 0, 1]))
        let unique = try #require(IPNetwork("fc00::/7"))
        #expect(unique.contains(try #require(IPNetwork("fd12::1")).address))
        #expect(!unique.contains(try #require(IPNetwork("fe80::1")).address))
        #expect(IPNetwork("10.0.0.0/33") == nil && IPNetwork("nonsense") == nil)
        let policy = DestinationPolicy()
        #expect(throws: DestinationRefused.self) { try policy.checkSyntax("gopher://x") }
        #expect(throws: Never.self) { try policy.checkSyntax("https://example.org:8443/hooks?x=1") }
    }

    @Test(
        """
        every special-purpose network is refused, IPv6 forms that carry an IPv4 address too; public ones pass; a \
        refusal names no address
        """,
        arguments: [
            ("http://10.1.2.3/", false), ("http://100.100.100.100/", false), ("http://192.88.99.1/", false),
            ("http://192.31.196.1/", false),
            ("http://255.255.255.255/", false), ("http://[::10.0.0.1]/", false), ("http://[::ffff:10.0.0.1]/", false),
            ("http://[64:ff9b::a00:1]/", false),
            ("http://[64:ff9b:1::a00:1]/", false), ("http://[2002:a00:1::1]/", false),
            ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", false),
            ("http://[fec0::1]/", false), ("http://[3fff::1]/", false), ("http://[100::1]/", false),
            ("http://93.184.216.34/", true), ("http://[::ffff:93.184.216.34]/", true),
            ("http://[2606:2800:220:1:248:1893:25c8:1946]/", true),
        ])
    func specialPurpose(_ url: String, _ allowed: Bool) async {
        do {
            try await DestinationPolicy().check(url)
            #expect(allowed, "\(url) was let through")
        } catch let refused as DestinationRefused {
            #expect(!allowed, "\(url): \(refused)")
            #expect(
                refused.description.contains("is or resolves to a") && !refused.description.contains("resolves to 10."),
                "\(refused)")
        } catch {
            Issue.record("\(url): \(error)")
        }
    }
}
