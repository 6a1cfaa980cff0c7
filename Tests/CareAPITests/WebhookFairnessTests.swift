import CareAPI
import CareStore
import CareWebhooks
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PQ
import Synchronization
import Testing
import TestSupport

/// One receiver's trouble stays its own: slots per destination, deliveries claimed fairly and
/// sent as soon as a slot is free, circuits, and connections to the address that was checked.
@Suite("Webhooks: fairness, circuits, pinned addresses", .timeLimit(.minutes(5)))
struct WebhookFairnessTests {
    @Test(
        """
        a receiver that never answers holds only its destination's slots: another subscription's deliveries all arrive \
        before its timeout
        """
    )
    func silentReceiverDelaysNobody() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let released = Mutex(false)
            // Answers only when the test is over (or after a minute).
            let silent = Receiver { _ in
                for _ in 0..<1200 where !released.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(50)) }
                return .serviceUnavailable
            }
            let healthy = Receiver()
            try await silent.run { silentURL in
                try await healthy.run { healthyURL in
                    try await clinic.liveApp().test(.router) { client in
                        _ = try await clinic.subscribe(client, url: silentURL)
                        _ = try await clinic.subscribe(client, url: healthyURL)
                        var settings = fastSettings()
                        settings.timeout = .seconds(30)
                        settings.batchSize = 4
                        settings.perDestinationConcurrency = 2
                        try await withDispatcher(clinic.store, settings) { () async throws in
                            // Twelve events for each subscription at once. In rounds of four that
                            // wait for their slowest send, the healthy receiver would wait 30 s a round.
                            for index in 0..<12 { try await clinic.enrol("N-FAIR-\(index)") }
                            #expect(
                                try await eventually(25) { healthy.successes.count == 12 },
                                "\(healthy.successes.count) of 12 arrived")
                            #expect(
                                silent.requests.count == 2,
                                "the silent destination got \(silent.requests.count) requests; it has 2 slots")
                            #expect(silent.successes.isEmpty)
                            released.withLock { $0 = true }
                        }
                        let waiting = try await pool.query(
                            """
                            SELECT count(*)::int FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id =
                                d.subscription_id
                            WHERE s.url = \(silentURL) AND d.status <> 'succeeded'
                            """)[0].decode(Int.self, at: 0)
                        #expect(waiting == 12, "the silent receiver's deliveries wait; none is lost")
                    }
                }
            }
        }
    }

    @Test(
        """
        a destination that keeps failing has its circuit opened: nothing is sent to it until the cool-off ends, \
        waiting deliveries use no attempts, and one successful trial sends the rest
        """
    )
    func circuitOpensAndCloses() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let healthy = Mutex(false)
            let trialMayAnswer = Mutex(false)
            let arrivals = Mutex<[Date]>([])
            let receiver = Receiver { number in
                arrivals.withLock { $0.append(Date()) }
                guard healthy.withLock({ $0 }) else { return .internalServerError }
                // The trial answers when the test has seen the others wait for it: a minute at most,
                // well past the test's own 20 s waits (a trial that answered by itself after 10 s
                // closed the circuit under a slow CI run's load and let a fifth request through).
                for _ in 0..<2400 where !trialMayAnswer.withLock({ $0 }) {
                    try? await Task.sleep(for: .milliseconds(25))
                }
                return .noContent
            }
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, _) = try await clinic.subscribe(client, url: url)
                    var settings = fastSettings(attempts: 12)
                    settings.timeout = .seconds(75)  // the trial waits for the test
                    settings.circuitThreshold = 3
                    settings.circuitCooldown = .seconds(1)
                    // One at a time, so the third failure opens the circuit before a fourth goes.
                    settings.perDestinationConcurrency = 1
                    try await withDispatcher(clinic.store, settings, metrics: clinic.metrics) { () async throws in
                        defer { trialMayAnswer.withLock { $0 = true } }  // a failed wait does not hold the trial
                        for index in 0..<6 { try await clinic.enrol("N-CIRCUIT-\(index)") }
                        #expect(
                            try await eventually {
                                try await client.call(.get, "/metrics", token: nil).text.contains(
                                    "carerelay_webhook_circuits_opened_total 1")
                            })
                        let failedBeforeOpening = arrivals.withLock { $0 }
                        #expect(
                            failedBeforeOpening.count == 3,
                            "\(failedBeforeOpening.count) requests before the circuit opened")
                        healthy.withLock { $0 = true }
                        // While the trial is out, the rest are given back unsent, saying why.
                        // The trial goes after the cool-off, alone; the others wait and say why.
                        #expect(try await eventually { receiver.requests.count == 4 })
                        // A delivery not yet claimed since the circuit opened has no reason yet
                        // (a slow machine shows this); each is given back saying why once claimed.
                        var waiting: [[String: Any]] = []
                        let allSayWhy = try await eventually {
                            waiting = try await clinic.deliveries(client, webhook).filter {
                                $0["status"] as? String == "pending"
                            }
                            return waiting.count == 5
                                && waiting.allSatisfy {
                                    ($0["last_error"] as? String)?.hasPrefix(
                                        "not sent: the destination failed 3 times in a row (last: status 500)") == true
                                }
                        }
                        #expect(allSayWhy, "\(waiting.count) waiting: \(waiting.map { $0["last_error"] ?? "" })")
                        #expect(receiver.requests.count == 4, "nothing else is sent while the trial is out")
                        trialMayAnswer.withLock { $0 = true }
                        #expect(
                            try await eventually {
                                try await clinic.deliveries(client, webhook).allSatisfy {
                                    $0["status"] as? String == "succeeded"
                                }
                            })
                    }
                    let times = arrivals.withLock { $0 }
                    let lastFailure = try #require(times.prefix(3).max())
                    let trial = try #require(
                        times.count > 3 ? times[3...].first { $0 > lastFailure.addingTimeInterval(0.5) } : nil)
                    #expect(
                        trial.timeIntervalSince(lastFailure) >= 0.95,
                        """
                        the trial came \(trial.timeIntervalSince(lastFailure)) s after the third failure; the cool-off \
                        is 1 s
                        """
                    )
                    // Deliveries given back unsent did not use an attempt: attempts = requests.
                    let attempts = try await pool.query("SELECT sum(attempts)::int FROM webhook_deliveries")[0].decode(
                        Int.self, at: 0)
                    #expect(
                        attempts == receiver.requests.count,
                        "\(attempts) attempts recorded, \(receiver.requests.count) requests received")
                    #expect(receiver.successes.count == 6)
                    #expect(receiver.requests.count == 9, "3 failures, then each delivery once")
                    let scraped = try await client.call(.get, "/metrics", token: nil).text
                    #expect(scraped.contains("carerelay_webhook_circuits_opened_total 1"), "\(scraped)")
                }
            }
        }
    }

    @Test("a named host is connected to at the address its check returned, with its name in the Host header")
    func connectsToTheCheckedAddress() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let clinic = try await APIClinic.make(pool)
            let receiver = Receiver()
            try await receiver.run { url in
                try await clinic.liveApp().test(.router) { client in
                    let (webhook, _) = try await clinic.subscribe(client, url: url)
                    // A name no DNS knows: only the policy's resolver does. If the HTTP client
                    // looked the name up again itself, the delivery could not be sent.
                    let port = try #require(URLComponents(string: url)?.port)
                    let named = "http://hooks.carerelay.test:\(port)/hook"
                    _ = try await pool.query(
                        "UPDATE webhook_subscriptions SET url = \(named) WHERE id = \(UUID(uuidString: webhook)!)")
                    let lookups = Mutex(0)
                    var settings = fastSettings()
                    settings.destinations = DestinationPolicy(allowedNetworks: [IPNetwork("127.0.0.0/8")!]) { host in
                        guard host == "hooks.carerelay.test" else { return try await DestinationPolicy.resolve(host) }
                        lookups.withLock { $0 += 1 }
                        return [[127, 0, 0, 1]]
                    }
                    try await withDispatcher(clinic.store, settings) { () async throws in
                        try await clinic.enrol("N-PINNED-1")
                        try await clinic.enrol("N-PINNED-2")
                        #expect(try await eventually { receiver.successes.count == 2 })
                    }
                    #expect(
                        receiver.successes.allSatisfy { $0.headers["host"] == "hooks.carerelay.test:\(port)" },
                        "\(receiver.successes.map(\.headers))")
                    #expect(lookups.withLock { $0 } == 2, "one check, one lookup, per attempt")
                }
            }
        }
    }
}
