import CareStore
import Foundation
import Hummingbird
import CoreMetrics
import Metrics
import Prometheus
import Synchronization

/// The server's metrics: a Prometheus registry that swift-metrics writes into (requests by
/// route, latency, audit entries and handoffs from the store), and the pool's figures read at
/// each scrape. One per application, so tests can run several side by side.
public final class CareMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    /// The request counters and timers made so far: making one goes through the registry's
    /// lock and label lookups, and every request needs both.
    private let requestCounters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let requestTimers = Mutex<[String: Metrics.Timer]>([:])

    func requestCounter(route: String, method: String, status: Int) -> CoreMetrics.Counter {
        let key = "\(method) \(route) \(status)"
        if let counter = requestCounters.withLock({ $0[key] }) { return counter }
        let counter = CoreMetrics.Counter(
            label: "carerelay_http_requests_total",
            dimensions: [("route", route), ("method", method), ("status", "\(status)")], factory: factory)
        requestCounters.withLock { $0[key] = counter }
        return counter
    }

    func requestTimer(route: String, method: String) -> Metrics.Timer {
        let key = "\(method) \(route)"
        if let timer = requestTimers.withLock({ $0[key] }) { return timer }
        let timer = Metrics.Timer(
            label: "carerelay_http_request_duration_seconds", dimensions: [("route", route), ("method", method)],
            factory: factory)
        requestTimers.withLock { $0[key] = timer }
        return timer
    }

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            .seconds(10),
        ]
        self.factory = factory
    }

    /// The text exposition of every metric, with the pool's current figures.
    /// `pools`: each pool with its name (service: the server's own work; requests).
    func scrape(pools: [CareStore.PoolFigures]) -> String {
        let connections = MetricNameDescriptor(
            namespace: "carerelay", subsystem: "db_pool", metricName: "connections", unitName: "",
            helpText: "Database connections of the pool, by state")
        for statistics in pools {
            let poolName = statistics.name
            for (name, value) in [
                ("open", statistics.open), ("idle", statistics.idle), ("in_use", statistics.inUse),
                ("waiting", statistics.waiting),
            ] {
                registry.makeGauge(descriptor: connections, labels: [("pool", poolName), ("state", name)]).set(
                    Double(value))
            }
            for (name, value, help) in [
                ("acquisitions", statistics.acquisitions, "Connections handed out"),
                ("waits", statistics.waits, "Requests that waited for a connection"),
                ("timeouts", statistics.timeouts, "Waits that timed out"),
                ("discarded", statistics.discarded, "Connections found dead and dropped"),
            ] {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "carerelay", subsystem: "db_pool", metricName: name, unitName: "", helpText: help),
                    labels: [("pool", poolName)]
                )
                .set(Double(value))
            }
        }
        return registry.emitToString()
    }
}

/// Counts requests by route, method and status, and times them.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = CareRequestContext
    let metrics: CareMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            record(request, context, status: (error as? HTTPResponseError)?.status.code ?? 500, since: start)
            throw error
        }
        record(request, context, status: response.status.code, since: start)
        return response
    }

    func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        metrics.requestCounter(route: route, method: method, status: status).increment()
        let elapsed = (ContinuousClock.now - start).components
        metrics.requestTimer(route: route, method: method).recordNanoseconds(
            elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }
}
