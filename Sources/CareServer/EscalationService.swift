import CareStore
import Foundation
import Logging
import ServiceLifecycle

/// Escalates handoffs nobody acknowledged in time, once a minute. Every server runs it; the
/// store's SKIP LOCKED query gives each overdue handoff to exactly one of them. It also forgets
/// Idempotency-Keys older than 48 hours (they are kept at least 24) and webhook deliveries
/// settled more than 30 days ago.
struct EscalationService: Service {
    let store: CareStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let escalated = try await store.escalateOverdueHandoffs(now: Date(), by: .system())
                    if !escalated.isEmpty {
                        logger.notice("escalated overdue handoffs", metadata: ["count": "\(escalated.count)"])
                    }
                    try await store.expireIdempotencyKeys()
                    try await store.expireDeliveries()
                } catch is CancellationError {
                    return
                } catch {
                    // Shutdown cancels the statement under way: that is not a failure.
                    if Task.isCancelled { return }
                    logger.error("escalation job failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// Keeps the store's reference-data cache true (LISTEN care_reference_changed), until shutdown.
struct ReferenceDataWatcher: Service {
    let store: CareStore
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.watchReferenceData()
                } catch is CancellationError {
                    return
                } catch {
                    // Shutdown cancels the statement under way: that is not a failure.
                    if Task.isCancelled { return }
                    logger.error("cannot watch reference data; retrying", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
