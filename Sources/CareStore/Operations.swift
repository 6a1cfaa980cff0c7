import Foundation
import Logging
import PQ
import ServiceLifecycle

/// What the HTTP layer needs to know about the database without speaking PQ: health, pool
/// figures, and database failures as the store's errors (docs/architecture.md).
extension CareStore {
    /// The schema against the migrations this build carries (GET /ready).
    public func schemaStatus(_ migrator: Migrator) async throws -> Migrator.Status {
        try await migrator.status(pool)
    }

    /// One connection pool's figures, for /metrics.
    public struct PoolFigures: Sendable {
        /// `service` (the server's own work) or `requests`.
        public var name: String
        public var open, idle, inUse, waiting, acquisitions, waits, timeouts, discarded: Int
    }

    /// The figures of the store's pools (one when requests share the service pool).
    public func poolFigures() async -> [PoolFigures] {
        var pools: [(String, PQPool)] = [("service", pool)]
        if requestPool !== pool { pools.append(("requests", requestPool)) }
        var figures: [PoolFigures] = []
        for (name, pool) in pools {
            let s = await pool.currentStatistics
            figures.append(
                PoolFigures(
                    name: name, open: s.open, idle: s.idle, inUse: s.inUse, waiting: s.waiting,
                    acquisitions: s.acquisitions, waits: s.waits, timeouts: s.timeouts, discarded: s.discarded))
        }
        return figures
    }
}

/// A database failure that is not a refusal: what a caller should do about it.
public enum DatabaseFailure: Error, Sendable, Equatable {
    /// The database cannot be reached (a restart, a lost connection, every connection busy):
    /// try again shortly (503 with Retry-After).
    case unavailable
    /// A value the database cannot hold (a NUL in text, say) that got past validation (400).
    case unstorable(String)

    /// The failure an error from below the store stands for; nil for anything else (a bug).
    public init?(_ error: any Error) {
        guard let error = error as? PQError else { return nil }
        if error.kind == .encoding {
            self = .unstorable(error.message)
        } else if error.isConnectionFailure || error.kind == .poolTimeout {
            self = .unavailable
        } else {
            return nil
        }
    }
}

/// Wakes long-polling feed readers: LISTEN care_events (a trigger NOTIFYs on every committed
/// insert into the event log) signals `signal`; after a reconnection it signals too (anything
/// notified meanwhile was lost, so readers look again). At shutdown it wakes them all at once,
/// so the HTTP server's drain does not wait out their long polls.
public struct FeedListener: Service {
    let pool: PQPool
    let signal: ChangeSignal
    let logger: Logger

    public init(pool: PQPool, signal: ChangeSignal, logger: Logger) {
        self.pool = pool
        self.signal = signal
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskCancellationHandler {
                await signal.follow(pool, channel: "care_events", logger: logger)
            } onCancel: {
                signal.close()
            }
        }
    }
}
