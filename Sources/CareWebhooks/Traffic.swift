import AsyncHTTPClient
import CareStore
import Foundation
import Synchronization

/// What one server has in flight to each webhook destination, and each destination's circuit
/// (docs/architecture.md, "Webhooks"). A destination is a URL's scheme, host and port: the
/// subscriptions of one receiver share its slots and its circuit. Each server keeps its own
/// (in memory): with several servers, a destination gets up to that many times the cap.
final class DestinationTraffic: Sendable {
    enum Admission: Equatable {
        case send
        /// Give it back unsent until `until`; `reason` goes in its `last_error` (nil keeps it).
        case wait(until: Date, reason: String?, circuitOpen: Bool)
    }

    private struct Circuit {
        var failures = 0
        var lastError = ""
        var openUntil: Date?
        var cooldown: Duration
        var trialInFlight = false
    }

    private struct State {
        var inFlight: [String: Int] = [:]
        var total = 0
        var destinationOf: [UUID: String] = [:]
        var circuits: [String: Circuit] = [:]
    }

    private let settings: WebhookSettings
    private let state = Mutex(State())

    init(settings: WebhookSettings) {
        self.settings = settings
    }

    /// The destination of a URL: "scheme://host:port", lower-cased.
    static func key(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased()
        else {
            return url
        }
        return "\(scheme)://\(host):\(components.port ?? (scheme == "https" ? 443 : 80))"
    }

    var inFlight: Int { state.withLock { $0.total } }

    /// Subscriptions (of destinations seen before) that cannot be sent to now: their
    /// destination is at its cap, its circuit is open, or its trial delivery is out.
    func blockedSubscriptions(now: Date = Date()) -> [UUID] {
        state.withLock { state in
            state.destinationOf.compactMap { subscription, destination in
                if state.inFlight[destination, default: 0] >= settings.perDestinationConcurrency { return subscription }
                if let circuit = state.circuits[destination], let openUntil = circuit.openUntil,
                    now < openUntil || circuit.trialInFlight
                {
                    return subscription
                }
                return nil
            }
        }
    }

    /// Whether a claimed delivery goes now; if it does, it holds a slot until `finished`.
    func admit(_ delivery: ClaimedDelivery, now: Date = Date()) -> Admission {
        let destination = Self.key(delivery.url)
        return state.withLock { state in
            state.destinationOf[delivery.subscriptionID] = destination
            var trial = false
            if let circuit = state.circuits[destination], let openUntil = circuit.openUntil {
                if now < openUntil {
                    return .wait(until: openUntil, reason: Self.reason(circuit, until: openUntil), circuitOpen: true)
                }
                if circuit.trialInFlight {
                    return .wait(
                        until: now.addingTimeInterval(1),
                        reason: """
                            not sent: the destination failed \(circuit.failures) times in a row (last: \
                            \(circuit.lastError)); \
                            one delivery is being tried before the rest
                            """, circuitOpen: true)
                }
                trial = true
            }
            if state.inFlight[destination, default: 0] >= settings.perDestinationConcurrency {
                return .wait(until: now, reason: nil, circuitOpen: false)
            }
            if trial { state.circuits[destination]?.trialInFlight = true }
            state.inFlight[destination, default: 0] += 1
            state.total += 1
            return .send
        }
    }

    /// Frees the slot `admit` gave.
    func finished(_ delivery: ClaimedDelivery) {
        let destination = Self.key(delivery.url)
        state.withLock { state in
            state.inFlight[destination, default: 1] -= 1
            if state.inFlight[destination] == 0 { state.inFlight[destination] = nil }
            state.total -= 1
        }
    }

    /// The destination's circuit, when it is open: until when, why, and the subscriptions seen
    /// going there.
    func openCircuit(of delivery: ClaimedDelivery) -> (until: Date, reason: String, subscriptions: [UUID])? {
        let destination = Self.key(delivery.url)
        return state.withLock { state in
            guard let circuit = state.circuits[destination], let openUntil = circuit.openUntil else { return nil }
            let subscriptions = state.destinationOf.filter { $0.value == destination }.map(\.key)
            return (openUntil, Self.reason(circuit, until: openUntil), subscriptions)
        }
    }

    private static func reason(_ circuit: Circuit, until: Date) -> String {
        """
        not sent: the destination failed \(circuit.failures) times in a row (last: \(circuit.lastError)); \
        its deliveries wait until \(until.formatted(.iso8601)), then one is tried
        """
    }

    /// Feeds an attempt's end to its destination's circuit. Returns true when this opened it.
    /// A receiver that answers (2xx, 410, another 4xx) is up; no answer, no connection, a 5xx
    /// or a 429 count against it; a refused destination or an encoding failure says nothing.
    func record(_ delivery: ClaimedDelivery, result: DeliveryResult, now: Date = Date()) -> Bool {
        let destination = Self.key(delivery.url)
        let failed: Bool?
        switch result {
        case .delivered, .gone: failed = false
        case .failed(let status?, _): failed = status >= 500 || status == 429
        case .failed(nil, let error):
            failed = error.hasPrefix("destination refused") || error.hasPrefix("could not encode") ? nil : true
        }
        return state.withLock { state in
            var circuit = state.circuits[destination] ?? Circuit(cooldown: settings.circuitCooldown)
            let wasTrial = circuit.trialInFlight
            circuit.trialInFlight = false
            defer { state.circuits[destination] = circuit.failures == 0 && circuit.openUntil == nil ? nil : circuit }
            guard let failed else { return false }
            guard failed else {
                circuit = Circuit(cooldown: settings.circuitCooldown)
                return false
            }
            circuit.failures += 1
            if case .failed(let status, let error) = result {
                circuit.lastError = status.map { "status \($0)" } ?? String(error.prefix(120))
            }
            if wasTrial {
                circuit.cooldown = min(circuit.cooldown * 2, settings.circuitCooldownCap)
                circuit.openUntil = now.addingTimeInterval(circuit.cooldown.inSeconds)
                return true
            }
            if circuit.openUntil == nil, circuit.failures >= settings.circuitThreshold {
                circuit.openUntil = now.addingTimeInterval(circuit.cooldown.inSeconds)
                return true
            }
            return false
        }
    }
}

/// HTTP clients that connect a named host to one address: the one its destination check
/// returned (AsyncHTTPClient's dnsOverride keeps the name for TLS and the Host header). A
/// client is kept while its host keeps resolving to the same address; one replaced is shut
/// down once the sends it may carry are over.
actor PinnedClients {
    private let configuration: HTTPClient.Configuration
    private let retireAfter: Duration
    private var clients: [String: (address: String, client: HTTPClient)] = [:]
    private var retiring: [Task<Void, Never>] = []
    private static let limit = 256

    init(configuration: HTTPClient.Configuration, retireAfter: Duration) {
        self.configuration = configuration
        self.retireAfter = retireAfter
    }

    func client(for destination: CheckedDestination) -> HTTPClient {
        let host = destination.host.lowercased()
        if let current = clients[host], current.address == destination.address { return current.client }
        var configuration = configuration
        configuration.dnsOverride = [destination.host: destination.address]
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        if let old = clients[host] { retire(old.client) }
        if clients.count >= Self.limit, let (someHost, some) = clients.first {
            clients[someHost] = nil
            retire(some.client)
        }
        clients[host] = (destination.address, client)
        return client
    }

    private func retire(_ client: HTTPClient) {
        let wait = retireAfter
        retiring.append(
            Task {
                try? await Task.sleep(for: wait)
                try? await client.shutdown()
            })
    }

    func shutdown() async {
        for task in retiring { task.cancel() }
        for task in retiring { await task.value }
        retiring.removeAll()
        for (_, entry) in clients { try? await entry.client.shutdown() }
        clients.removeAll()
    }
}
