import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Whether this server is draining: told to stop, still serving, no longer ready.
public final class DrainState: Sendable {
    private let draining = Atomic(false)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .acquiring) }

    func begin() { draining.store(true, ordering: .releasing) }
}

/// How care-server stops (docs/operations.md, "Stopping and rolling restarts"):
/// - SIGTERM (an orchestrator, systemd): GET /ready turns 503 at once, so load balancers stop
///   sending new requests; the server goes on serving for `period` (the time they take to
///   notice), then stops taking connections, finishes the requests in flight and stops. A
///   second SIGTERM or a SIGINT cuts the drain short.
/// - SIGINT (Ctrl-C at a terminal): no drain; in-flight requests still finish.
/// It returns to stop the group it runs in (`successTerminationBehavior:
/// .gracefullyShutdownGroup`); the group itself traps no signal.
public struct DrainService: Service {
    let state: DrainState
    let period: Duration
    let logger: Logger

    public init(state: DrainState, period: Duration, logger: Logger) {
        self.state = state
        self.period = period
        self.logger = logger
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        var received: UnixSignal?
        // Another service ending the group ends this one too.
        for await signal in signals.cancelOnGracefulShutdown() {
            received = signal
            break
        }
        guard let first = received else { return }
        guard first == .sigterm, period > .zero else {
            logger.notice("stopping: finishing requests in flight", metadata: ["signal": "\(first)"])
            return
        }
        state.begin()
        logger.notice(
            "draining: /ready answers 503; serving on until load balancers have noticed",
            metadata: ["drain.seconds": "\(period.components.seconds)"])
        let cutShort = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(for: period)
                return false
            }
            group.addTask {
                var again = await UnixSignalsSequence(trapping: .sigterm, .sigint).makeAsyncIterator()
                return await again.next() != nil
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        logger.notice(
            cutShort
                ? "drain cut short by a second signal; finishing requests in flight"
                : "drained; finishing requests in flight")
    }
}
