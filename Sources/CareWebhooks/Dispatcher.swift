import CoreFormats
import AsyncHTTPClient
import CareStore
import CareWire
import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// How webhooks are sent.
public struct WebhookSettings: Sendable {
    /// How long a receiver has to answer one attempt.
    public var timeout: Duration = .seconds(10)
    /// Attempts before a delivery is dead (the first one included).
    public var maxAttempts = 12
    /// The wait after the first failure; it doubles after each (with ±25% jitter) up to `retryCap`.
    /// With the defaults a receiver may be down about 15 hours before a delivery is dead.
    public var retryBase: Duration = .seconds(30)
    public var retryCap: Duration = .seconds(6 * 3600)
    /// How long a claim holds: a server that dies mid-send leaves the delivery to be taken
    /// again after this. Longer than `timeout`.
    public var lease: Duration = .seconds(60)
    /// Deliveries in flight at once from one server, over every destination.
    public var batchSize = 16
    /// Deliveries in flight at once to one destination (scheme, host and port), so a slow or
    /// black-holed receiver holds at most this many of the server's slots.
    public var perDestinationConcurrency = 2
    /// Consecutive failures (no answer, no connection, 5xx, 429) that open a destination's
    /// circuit: its deliveries wait, unsent and uncounted, for `circuitCooldown` (doubling up to
    /// `circuitCooldownCap` while trials keep failing); then one trial delivery goes, and its
    /// success closes the circuit.
    public var circuitThreshold = 5
    public var circuitCooldown: Duration = .seconds(30)
    public var circuitCooldownCap: Duration = .seconds(600)
    /// How often to look for due retries when no notification arrives.
    public var idlePoll: Duration = .seconds(5)
    public var destinations = DestinationPolicy()

    public init() {}

    /// The wait before attempt `attempt + 1`, after attempt `attempt` failed; nil after the last.
    public func retryDelay(afterAttempt attempt: Int, jitter: Double = Double.random(in: -0.25...0.25)) -> Duration? {
        guard attempt < maxAttempts else { return nil }
        let delay = min(retryCap.inSeconds, retryBase.inSeconds * pow(2, Double(max(0, attempt - 1))))
        return .milliseconds(Int64((delay * (1 + jitter) * 1000).rounded()))
    }
}

/// What a receiver gets: the Standard Webhooks shape, `type`, `timestamp` and `data`, where
/// data holds ids, enumerations and times only (the same as the feed's items).
public struct WebhookBody: Encodable, Sendable {
    public var type: String
    public var timestamp: Date
    public var data: FeedItem

    public static func encode(_ event: FeedEvent) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // RFC 3339 UTC with milliseconds, as the API writes times.
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(
            WebhookBody(type: event.type, timestamp: event.occurredAt, data: FeedItem(event)))
    }
}

/// An event as integrations see it: the feed's item (CareWire), made of the store's event.
extension FeedItem {
    public init(_ event: FeedEvent) {
        self.init(
            eventId: String(event.id), cursor: event.cursor.description, type: event.type,
            teamId: event.teamID?.lowercasedString, patientId: event.patientID?.lowercasedString,
            occurredAt: event.occurredAt, details: IntegrationPayload.data(event.payload))
    }
}

/// Sends webhook deliveries: claims due ones (SKIP LOCKED, so servers share the work), signs
/// and POSTs them, and records each answer. Woken by NOTIFY care_webhook_deliveries when the
/// outbox fills, when one of its sends ends, and every `idlePoll` for retries that fall due.
///
/// Fair to every subscription (docs/architecture.md, "Webhooks"): deliveries are claimed a few
/// per subscription at a time and sent as soon as a slot is free, not in rounds that wait for
/// their slowest send; a destination has at most `perDestinationConcurrency` in flight; and a
/// destination that keeps failing has its circuit opened (`DestinationCircuits`). So a
/// receiver that never answers costs other subscriptions nothing but the slots it holds.
public final class WebhookDispatcher: Service, Sendable {
    let store: CareStore
    let settings: WebhookSettings
    let logger: Logger
    let client: HTTPClient
    let wakeup = ChangeSignal()
    let traffic: DestinationTraffic
    /// HTTP clients that connect a named host to the address its check returned.
    let pinned: PinnedClients
    /// carerelay_webhook_attempts_total{result}: delivered, failed (to be retried), dead, gone;
    /// carerelay_webhook_deferred_total{reason}: busy, circuit_open (given back unsent);
    /// carerelay_webhook_circuits_opened_total;
    /// carerelay_webhook_delivery_seconds: from the event to the receiver's 2xx.
    let metrics: any MetricsFactory

    public init(
        store: CareStore, settings: WebhookSettings, logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        let configuration = Self.clientConfiguration(settings)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        pinned = PinnedClients(configuration: configuration, retireAfter: settings.timeout + .seconds(5))
        traffic = DestinationTraffic(settings: settings)
    }

    static func clientConfiguration(_ settings: WebhookSettings) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: TimeAmount(settings.timeout)))
        configuration.httpVersion = .http1Only
        return configuration
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self.wakeup.follow(self.store.pool, channel: "care_webhook_deliveries", logger: self.logger)
                }
                await self.loop()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.wakeup.close()
        }
        try? await client.shutdown()
        await pinned.shutdown()
    }

    /// Claims whenever a slot is free and sends each delivery in a task of its own; a send that
    /// ends wakes the loop to fill its slot. Stopping waits for the sends in flight.
    private func loop() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !wakeup.isClosed {
                let seen = wakeup.generation
                do {
                    let started = try await admit { delivery in
                        group.addTask {
                            await self.deliver(delivery)
                            self.traffic.finished(delivery)
                            self.wakeup.signal()
                        }
                    }
                    if started > 0 { continue }
                    var wait = settings.idlePoll
                    if let due = try await store.nextDeliveryDue() {
                        let untilDue = Duration.milliseconds(Int64(max(0, due.timeIntervalSinceNow) * 1000) + 5)
                        wait = min(wait, untilDue)
                    }
                    await wakeup.wait(since: seen, timeout: wait)
                } catch is CancellationError {
                    return
                } catch {
                    // Shutdown cancels the statement under way: that is not a failure.
                    if Task.isCancelled { return }
                    logger.error("webhook dispatch failed; trying again", metadata: ["error": "\(error)"])
                    await wakeup.wait(since: wakeup.generation, timeout: settings.idlePoll)
                }
            }
        }
    }

    /// Claims as many due deliveries as there are free slots, fairly, and hands each one that
    /// may go now to `start`; one whose destination is busy or whose circuit is open is given
    /// back unsent. Returns how many were claimed.
    private func admit(_ start: (ClaimedDelivery) -> Void) async throws -> Int {
        let free = settings.batchSize - traffic.inFlight
        guard free > 0 else { return 0 }
        let claimed = try await store.claimDeliveries(
            limit: free, lease: settings.lease, perSubscription: settings.perDestinationConcurrency,
            excluding: traffic.blockedSubscriptions())
        for delivery in claimed {
            switch traffic.admit(delivery) {
            case .send:
                start(delivery)
            case .wait(let until, let reason, let circuitOpen):
                Counter(
                    label: "carerelay_webhook_deferred_total",
                    dimensions: [("reason", circuitOpen ? "circuit_open" : "busy")], factory: metrics
                ).increment()
                _ = try? await store.deferDelivery(delivery, until: until, reason: reason)
            }
        }
        return claimed.count
    }

    /// One round, for tests and tools: claims due deliveries (as the loop does), sends those
    /// that may go, and waits for their answers. Returns how many were claimed.
    @discardableResult
    public func runOnce() async throws -> Int {
        var admitted: [ClaimedDelivery] = []
        let claimed = try await admit { admitted.append($0) }
        await withTaskGroup(of: Void.self) { group in
            for delivery in admitted {
                group.addTask {
                    await self.deliver(delivery)
                    self.traffic.finished(delivery)
                }
            }
        }
        return claimed
    }

    func deliver(_ delivery: ClaimedDelivery) async {
        let result = await send(delivery)
        let opened = traffic.record(delivery, result: result)
        let retry: Duration?
        switch result {
        case .failed: retry = settings.retryDelay(afterAttempt: delivery.attempt)
        default: retry = nil
        }
        let outcome: String
        switch result {
        case .delivered: outcome = "delivered"
        case .gone: outcome = "gone"
        case .failed: outcome = retry == nil ? "dead" : "failed"
        }
        Counter(label: "carerelay_webhook_attempts_total", dimensions: [("result", outcome)], factory: metrics)
            .increment()
        if case .delivered = result {
            CoreMetrics.Timer(label: "carerelay_webhook_delivery_seconds", factory: metrics)
                .recordNanoseconds(Int64(max(0, Date().timeIntervalSince(delivery.event.occurredAt)) * 1e9))
        }
        var metadata: Logger.Metadata = [
            "delivery": "\(delivery.id)", "subscription": "\(delivery.subscriptionID)",
            "attempt": "\(delivery.attempt)",
        ]
        switch result {
        case .delivered(let status):
            metadata["status"] = "\(status)"; logger.debug("webhook delivered", metadata: metadata)
        case .gone: logger.notice("webhook receiver answered 410 Gone; subscription disabled", metadata: metadata)
        case .failed(let status, let error):
            metadata["error"] = "\(error)"
            if let status { metadata["status"] = "\(status)" }
            if retry == nil {
                logger.warning("webhook delivery dead after its last attempt", metadata: metadata)
            } else {
                logger.info("webhook attempt failed; will retry", metadata: metadata)
            }
        }
        do {
            // What the receiver answered is recorded even if this task is being cancelled
            // (a stopping server): otherwise a sent delivery would be sent again after the lease.
            let store = self.store
            _ = try await Task { try await store.settleDelivery(delivery, result: result, retryAfter: retry) }.value
        } catch {
            // The lease runs out and the delivery is tried again: at least once, never lost.
            logger.error("could not record a webhook attempt", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
        if opened, let circuit = traffic.openCircuit(of: delivery) {
            Counter(label: "carerelay_webhook_circuits_opened_total", factory: metrics).increment()
            logger.warning(
                "webhook destination failing; its circuit is open and its deliveries wait",
                metadata: [
                    "destination": "\(DestinationTraffic.key(delivery.url))",
                    "until": "\(circuit.until.formatted(.iso8601))",
                ])
            // Its waiting deliveries say why and when, and no server sends them before then.
            let store = self.store
            _ = try? await Task {
                try await store.holdDeliveries(of: circuit.subscriptions, until: circuit.until, reason: circuit.reason)
            }.value
        }
    }

    func send(_ delivery: ClaimedDelivery) async -> DeliveryResult {
        let destination: CheckedDestination
        do {
            destination = try await settings.destinations.check(delivery.url)
        } catch let refused as DestinationRefused {
            return .failed(status: nil, error: "destination refused: \(refused.description)")
        } catch {
            return .failed(status: nil, error: "destination refused: \(error)")
        }
        let body: Data
        do {
            body = try WebhookBody.encode(delivery.event)
        } catch {
            return .failed(status: nil, error: "could not encode the event: \(error)")
        }
        let id = "msg_" + delivery.id.lowercasedString
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "CareRelay-Webhooks/1")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature",
            value: WebhookSignature.sign(id: id, timestamp: timestamp, body: body, secrets: delivery.secrets))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            // A named host is connected to at the address just checked (no second lookup that
            // could answer differently); an address is connected to as it is.
            let client = destination.hostIsAddress ? self.client : await pinned.client(for: destination)
            let response = try await client.execute(request, timeout: TimeAmount(settings.timeout))
            // The answer's body is read (up to 64 KiB, for the error) and dropped.
            let answer = try? await response.body.collect(upTo: 64 * 1024)
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return .delivered(status: status) }
            if status == 410 { return .gone }
            let snippet = answer.map { String(buffer: $0).prefix(200) } ?? ""
            return .failed(
                status: status, error: "the receiver answered \(status)" + (snippet.isEmpty ? "" : ": \(snippet)"))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failed(status: nil, error: "no answer within \(settings.timeout)")
        } catch {
            return .failed(status: nil, error: "could not reach the receiver: \(error)")
        }
    }
}
