import CareStore
import CareWebhooks
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The one request context of the API.
public struct CareRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The bearer token of a /v1 request (set by the authentication middleware), looked up by
    /// the request's first store command or by `principal()`.
    public var credential: Credential?
    public var requestID: String = ""
    /// The Idempotency-Key of a POST, claimed by the first store command of the request.
    public var idempotency: IdempotencyClaim?
    public var maxUploadSize: Int { APILimits.maximumBodyBytes }
    /// The client's IP address, for limiting failed authentications.
    public var clientAddress: String?
    /// Where clients reach this server (`--public-url`), for the absolute URLs FHIR answers
    /// carry; nil: as the request reached it. Set by `PublicURLMiddleware`.
    public var publicURL: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// What the HTTP API needs from the rest of the server.
public struct CareAPIDependencies: Sendable {
    public var migrator: Migrator
    public var store: CareStore
    public var metrics: CareMetrics
    /// Wakes long-polling feed readers; `FeedListener` signals it on every committed event.
    public var feedSignal: ChangeSignal
    /// Where webhook subscriptions may point.
    public var webhookDestinations: DestinationPolicy
    /// How long GET /ready waits for the database before answering 503.
    public var readinessTimeout: Duration = .seconds(2)
    /// Failed authentications allowed per token and per address before 429.
    public var authFailures = AuthFailureLimiter()
    /// Set once the server is told to stop: GET /ready answers 503 from then on (DrainService).
    public var drain = DrainState()
    /// Wakes this instance's `FHIRExportWorker` when a bulk export is kicked off here.
    public var exportSignal = ChangeSignal()
    /// Where clients reach this server, e.g. https://care.example.org or
    /// https://api.example.org/carerelay (no trailing slash): FHIR's fullUrl, Bundle links and
    /// export locations start with it. Nil: built from each request's Host.
    public var publicURL: String?

    public init(
        store: CareStore, migrator: Migrator, metrics: CareMetrics = CareMetrics(),
        feedSignal: ChangeSignal = ChangeSignal(), webhookDestinations: DestinationPolicy = DestinationPolicy()
    ) {
        self.migrator = migrator
        self.metrics = metrics
        self.store = store
        self.feedSignal = feedSignal
        self.webhookDestinations = webhookDestinations
    }
}

/// The router with every route of the API.
public func buildRouter(_ dependencies: CareAPIDependencies) -> Router<CareRequestContext> {
    let router = Router(context: CareRequestContext.self)
    let routes = RouteTable()
    router.add(middleware: MetricsMiddleware(metrics: dependencies.metrics))
    router.add(middleware: ProblemMiddleware(routes: routes))
    if let publicURL = dependencies.publicURL { router.add(middleware: PublicURLMiddleware(publicURL: publicURL)) }
    HealthController(dependencies: dependencies).addRoutes(to: router)
    // Prometheus text format; no patient data (routes are counted by their templates).
    router.get("/metrics") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(
                byteBuffer: ByteBuffer(
                    string: await dependencies.metrics.scrape(pools: dependencies.store.poolFigures()))))
    }
    OpenAPIController().addRoutes(to: router)
    let v1 = router.group("v1")
        .add(middleware: AuthenticationMiddleware(store: dependencies.store, limiter: dependencies.authFailures))
        .add(middleware: IdempotencyMiddleware(store: dependencies.store))
    MeController(store: dependencies.store).addRoutes(to: v1)
    TeamsController(store: dependencies.store).addRoutes(to: v1)
    PatientsController(store: dependencies.store).addRoutes(to: v1)
    TasksController(store: dependencies.store).addRoutes(to: v1)
    RecordsController(store: dependencies.store).addRoutes(to: v1)
    IntegrationController(
        store: dependencies.store, events: dependencies.feedSignal, destinations: dependencies.webhookDestinations
    ).addRoutes(to: v1)
    ReportController(store: dependencies.store).addRoutes(to: v1)
    ResolveController(store: dependencies.store).addRoutes(to: v1)
    PriorAuthController(store: dependencies.store).addRoutes(to: v1)
    // FHIR R4 (docs/fhir.md): its CapabilityStatement is public, the rest takes the same tokens.
    let fhirController = FHIRController(store: dependencies.store)
    let fhirBase = router.group("fhir/R4")
    fhirController.addPublicRoutes(to: fhirBase)
    let fhir =
        fhirBase
        .add(middleware: AuthenticationMiddleware(store: dependencies.store, limiter: dependencies.authFailures))
        .add(middleware: IfNoneExistMiddleware())
        .add(middleware: IdempotencyMiddleware(store: dependencies.store))
    fhirController.addRoutes(to: fhir)
    FHIRExportController(store: dependencies.store, wake: dependencies.exportSignal).addRoutes(to: fhir)
    routes.load(router.routes.map { (path: $0.path.description, method: $0.method) })
    return router
}

/// The HTTP application; `services` (the pool first) are started with it and shut down after
/// the HTTP server has drained.
public func buildApplication(
    _ dependencies: CareAPIDependencies,
    host: String,
    port: Int,
    services: [any Service] = [],
    timeouts: HTTPTimeouts = HTTPTimeouts(),
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(dependencies),
        server: .http1(
            configuration: .init(additionalChannelHandlers: [
                HeaderLimitHandler(), ReadDeadlineHandler(timeouts: timeouts),
            ])),
        configuration: .init(address: .hostname(host, port: port), serverName: "care-server"),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger
    )
}

/// Puts the operator's public URL in every request's context (`CareRequestContext.publicURL`).
struct PublicURLMiddleware: RouterMiddleware {
    typealias Context = CareRequestContext
    let publicURL: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.publicURL = publicURL
        return try await next(request, context)
    }
}

/// A public URL as `--public-url` takes it: http or https, a host, perhaps a path; no query or
/// fragment. Answers it without a trailing slash, or nil when it is not one.
public func normalisedPublicURL(_ text: String) -> String? {
    guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)),
        let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
        let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
    else { return nil }
    var normalised = url.absoluteString
    while normalised.hasSuffix("/") { normalised.removeLast() }
    return normalised
}
