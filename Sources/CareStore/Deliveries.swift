import CoreFormats
import Foundation
import PQ

/// A delivery a dispatcher has claimed: what to send and where.
public struct ClaimedDelivery: Sendable, Equatable {
    public var id: UUID
    public var subscriptionID: UUID
    public var url: String
    /// The current secret first, then a rotated-out one still within its grace period.
    public var secrets: [String]
    /// This attempt's number (1 for the first).
    public var attempt: Int
    public var event: FeedEvent
}

/// How a claimed delivery's attempt ended.
public enum DeliveryResult: Sendable, Equatable {
    /// The receiver answered 2xx.
    case delivered(status: Int)
    /// It answered 410 Gone: the subscription is disabled and its waiting deliveries cancelled.
    case gone
    /// Anything else: a status, a timeout, a refused destination, a network error.
    case failed(status: Int?, error: String)
}

extension CareStore {
    /// Claims up to `limit` deliveries that are due (or whose claim lapsed: their server died
    /// between claim and answer) for `lease`. FOR UPDATE SKIP LOCKED lets any number of servers
    /// claim at once without taking the same row; a lapsed claim is taken again, so a delivery
    /// is sent at least once and, while servers stay up, once. Paused subscriptions wait.
    ///
    /// Fair: at most `perSubscription` of one subscription's deliveries, the longest waiting
    /// first, so one subscription's backlog cannot fill a round; `excluding` names
    /// subscriptions the dispatcher cannot send to now (their destination is busy or its
    /// circuit is open).
    public func claimDeliveries(
        limit: Int, lease: Duration, perSubscription: Int = 1_000_000, excluding: [UUID] = [],
        now: Date = Date()
    ) async throws -> [ClaimedDelivery] {
        try await pool.withTransaction { connection in
            let rows = try await connection.query(
                """
                WITH ranked AS (
                    SELECT d.id, d.next_attempt_at,
                           row_number() OVER (PARTITION BY d.subscription_id ORDER BY d.next_attempt_at, d.id) AS place
                    FROM webhook_deliveries d
                    JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.status = 'active'
                    WHERE ((d.status = 'pending' AND d.next_attempt_at <= \(now))
                       OR (d.status = 'sending' AND d.lease_until < \(now)))
                      AND d.subscription_id <> ALL(\(excluding)::uuid[])
                ), candidates AS (
                    SELECT id FROM ranked WHERE place <= \(perSubscription)
                    ORDER BY place, next_attempt_at
                    LIMIT \(limit)
                ), due AS (
                    -- Locked here (FOR UPDATE cannot go with a window), and checked again: another
                    -- server may have taken and settled a candidate in between.
                    SELECT d.id FROM webhook_deliveries d
                    WHERE d.id IN (SELECT id FROM candidates)
                      AND ((d.status = 'pending' AND d.next_attempt_at <= \(now))
                        OR (d.status = 'sending' AND d.lease_until < \(now)))
                    FOR UPDATE OF d SKIP LOCKED
                )
                UPDATE webhook_deliveries d
                SET status = 'sending', attempts = d.attempts + 1, lease_until = \(now)::timestamptz +
                    make_interval(secs => \(lease.inSeconds)),
                    last_attempt_at = \(now)
                FROM due, webhook_subscriptions s, events e
                WHERE d.id = due.id AND s.id = d.subscription_id AND e.id = d.event_id
                RETURNING d.id, d.subscription_id, s.url, s.secret,
                          CASE WHEN s.previous_secret_expires_at > \(now) THEN s.previous_secret END,
                          d.attempts,
                          e.id, e.tx_id::text::bigint, e.type, e.team_id, e.patient_id, e.actor_id, e.occurred_at,
                              e.payload
                """)
            return try rows.map { row in
                let (id, subscription, url, secret, previous, attempt) = try row.decode(
                    UUID.self, UUID.self, String.self, String.self, String?.self, Int.self)
                let (eventID, transaction, type, team, patient, actor, occurredAt, payload) = try (
                    row.decode(Int64.self, at: 6), row.decode(Int64.self, at: 7), row.decode(String.self, at: 8),
                    row.decode(UUID?.self, at: 9),
                    row.decode(UUID?.self, at: 10), row.decode(UUID?.self, at: 11), row.decode(Date.self, at: 12),
                    row.decode(PQJSON<[String: String]>.self, at: 13)
                )
                let event = FeedEvent(
                    id: eventID, type: type, teamID: team, patientID: patient, actorID: actor, occurredAt: occurredAt,
                    payload: payload.value, cursor: FeedCursor(transaction: transaction, id: eventID))
                return ClaimedDelivery(
                    id: id, subscriptionID: subscription, url: url, secrets: [secret] + (previous.map { [$0] } ?? []),
                    attempt: attempt, event: event)
            }
        }
    }

    /// Records an attempt's end. A failure waits `retryAfter` for the next attempt, or is dead
    /// when `retryAfter` is nil (the last attempt). Only the claim still held is settled: if the
    /// lease lapsed and another server took the delivery, this one's answer is ignored.
    /// A successful send is audited as a disclosure of the event's patient to the subscriber.
    @discardableResult
    public func settleDelivery(
        _ delivery: ClaimedDelivery, result: DeliveryResult, retryAfter: Duration?, now: Date = Date()
    ) async throws -> Bool {
        try await pool.withTransaction { connection in
            let held = try await connection.query(
                """
                SELECT s.owner_id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
                WHERE d.id = \(delivery.id) AND d.status = 'sending' AND d.attempts = \(delivery.attempt)
                FOR UPDATE OF d
                """)
            guard let owner = try held.firstRow?.decode(UUID.self, at: 0) else { return false }
            switch result {
            case .delivered(let status):
                try await connection.query(
                    """
                    UPDATE webhook_deliveries SET status = 'succeeded', delivered_at = \(now), lease_until = NULL,
                        last_status = \(status), last_error = NULL
                    WHERE id = \(delivery.id)
                    """)
                if let patient = delivery.event.patientID {
                    let subscription = delivery.subscriptionID.lowercasedString
                    let resource = "/v1/webhooks/\(subscription)/deliveries/\(delivery.id.lowercasedString)"
                    try await connection.query(
                        """
                        INSERT INTO audit_entries (member_id, action, patient_id, resource, outcome, detail)
                        VALUES (\(owner), 'webhook.delivery', \(patient),
                                \(resource),
                                'allowed', \("event \(delivery.event.id) \(delivery.event.type)"))
                        """)
                }
            case .gone:
                try await connection.query(
                    """
                    UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL, last_status = 410,
                        last_error = 'the receiver answered 410 Gone; the subscription is disabled'
                    WHERE id = \(delivery.id)
                    """)
                try await connection.query(
                    """
                    UPDATE webhook_subscriptions SET status = 'disabled', updated_at = \(now),
                        disabled_reason = 'the receiver answered 410 Gone'
                    WHERE id = \(delivery.subscriptionID)
                    """)
                try await connection.query(
                    """
                    UPDATE webhook_deliveries SET status = 'cancelled', last_error =
                        'the subscription was disabled (410 Gone)'
                    WHERE subscription_id = \(delivery.subscriptionID) AND status = 'pending'
                    """)
            case .failed(let status, let error):
                if let retryAfter {
                    try await connection.query(
                        """
                        UPDATE webhook_deliveries SET status = 'pending', lease_until = NULL, last_status = \(status),
                            last_error = \(error),
                            next_attempt_at = \(now)::timestamptz + make_interval(secs => \(retryAfter.inSeconds))
                        WHERE id = \(delivery.id)
                        """)
                } else {
                    try await connection.query(
                        """
                        UPDATE webhook_deliveries SET status = 'dead', lease_until = NULL, last_status = \(status),
                            last_error = \(error)
                        WHERE id = \(delivery.id)
                        """)
                }
            }
            return true
        }
    }

    /// Gives a claimed delivery back unsent, to be claimed again at `until`: its attempt is not
    /// counted (nothing was sent). `reason`, when given, is shown in the delivery's `last_error`.
    @discardableResult
    public func deferDelivery(_ delivery: ClaimedDelivery, until: Date, reason: String?) async throws -> Bool {
        try await pool.query(
            """
            UPDATE webhook_deliveries SET status = 'pending', attempts = attempts - 1, lease_until = NULL,
                next_attempt_at = \(until), last_error = coalesce(\(reason), last_error)
            WHERE id = \(delivery.id) AND status = 'sending' AND attempts = \(delivery.attempt)
            RETURNING 1
            """
        ).count == 1
    }

    /// Holds the pending deliveries of `subscriptions` until `until` (none is made earlier),
    /// saying why in their `last_error`: their destination's circuit is open.
    @discardableResult
    public func holdDeliveries(of subscriptions: [UUID], until: Date, reason: String) async throws -> Int {
        try await pool.query(
            """
            UPDATE webhook_deliveries SET next_attempt_at = greatest(next_attempt_at, \(until)), last_error = \(reason)
            WHERE subscription_id = ANY(\(subscriptions)::uuid[]) AND status = 'pending'
            RETURNING 1
            """
        ).count
    }

    /// Forgets settled deliveries (succeeded or cancelled) older than `age`; dead ones stay
    /// until redelivered or their subscription is deleted.
    @discardableResult
    public func expireDeliveries(olderThan age: TimeInterval = 30 * 86_400) async throws -> Int {
        try await pool.query(
            """
            DELETE FROM webhook_deliveries WHERE status IN ('succeeded', 'cancelled') AND created_at <
                \(Date().addingTimeInterval(-age)) RETURNING 1
            """
        ).count
    }

    /// When the next pending delivery falls due (for a dispatcher deciding how long to sleep).
    public func nextDeliveryDue() async throws -> Date? {
        let rows = try await pool.query(
            """
            SELECT least((SELECT min(d.next_attempt_at) FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id =
                d.subscription_id
                          WHERE d.status = 'pending' AND s.status = 'active'),
                         (SELECT min(lease_until) FROM webhook_deliveries WHERE status = 'sending'))
            """)
        return try rows[0].decode(Date?.self, at: 0)
    }
}
