import CoreFormats
import CareDomain
import Crypto
import Foundation
import PQ

/// A page of the integration feed for one reader.
public struct FeedPage: Sendable {
    public var events: [FeedEvent]
    /// Where the next request starts: after the last event given, or where this one started.
    public var next: FeedCursor
    /// Events past the cursor exist but are held back because an older transaction is still
    /// running (see `events(after:)`): worth asking again in a moment rather than waiting long.
    public var heldBack: Bool
}

/// What a feed reader or a webhook receiver is told of an event: ids, enumerations and times,
/// never free text (note bodies, reasons, names).
public enum IntegrationPayload {
    static let enumerations: Set<String> = [
        "kind", "outcome", "adequate", "from", "to", "instrument", "role", "step", "version", "status",
        "from_role", "to_role", "causes", "failed_trials", "classes",
    ]

    public static func data(_ payload: [String: String]) -> [String: String] {
        payload.filter { key, _ in key.hasSuffix("_id") || enumerations.contains(key) }
    }
}

extension CareStore {
    /// The acting reader's page of the feed: events of the teams they may read (row-level
    /// security agrees), in commit order, never a psychotherapy note's. Audited as a read of
    /// each patient the page names.
    public func feed(after cursor: FeedCursor, limit: Int, by caller: Caller) async throws -> FeedPage {
        try await command(caller) { context in
            try context.authorizeAnyTeam(.readEvents)
            let teams = context.teams(allowing: .readEvents)
            let events = try await context.connection.query(
                Self.feedQuery(after: cursor, limit: limit, teams: teams), prepared: false
            ).map(Self.feedEvent)
            var heldBack = false
            if events.count < limit {
                let start = events.last?.cursor ?? cursor
                heldBack = try await context.connection.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM events
                                   WHERE (tx_id, id) > (\(String(start.transaction))::xid8, \(start.id))
                                     AND tx_id >= pg_snapshot_xmin(pg_current_snapshot())
                                     AND team_id = ANY(\(teams)::uuid[]))
                    """, prepared: false)[0].decode(Bool.self, at: 0)
            }
            context.trail.touch(events.compactMap(\.patientID))
            context.trail.skipWhenNoPatient = true
            return FeedPage(events: events, next: events.last?.cursor ?? cursor, heldBack: heldBack)
        }
    }
}

// MARK: Webhook subscriptions

public enum SubscriptionStatus: String, Sendable, Codable, CaseIterable {
    case active, paused, disabled
}

public enum DeliveryStatus: String, Sendable, Codable, CaseIterable {
    case pending, sending, succeeded, dead, cancelled
}

public struct WebhookSubscription: Sendable, Equatable {
    public var id: UUID
    public var url: String
    public var eventTypes: [String]
    public var teamID: UUID?
    public var description: String
    public var status: SubscriptionStatus
    public var disabledReason: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Given only when the subscription is made and when its secret is rotated.
    public var secret: String?
}

public struct WebhookDelivery: Sendable, Equatable {
    public var id: UUID
    public var subscriptionID: UUID
    public var eventID: Int64
    public var eventType: String
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastAttemptAt: Date?
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: Date?
    public var createdAt: Date
}

/// Webhook secrets in the Standard Webhooks form: `whsec_` and base64 of 32 random bytes.
public enum WebhookSecret {
    public static func make() -> String {
        "whsec_" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    }

    /// The HMAC key a secret stands for (the bytes after the prefix), nil if malformed.
    public static func key(_ secret: String) -> Data? {
        guard secret.hasPrefix("whsec_") else { return nil }
        return Data(base64Encoded: String(secret.dropFirst(6)))
    }
}

extension CareStore {
    /// How long a rotated-out secret keeps signing beside the new one.
    public static let previousSecretGrace: TimeInterval = 24 * 3600

    static let subscriptionColumns =
        "id, url, event_types, team_id, description, status, disabled_reason, created_at, updated_at"

    static func subscription(_ row: PQRow) throws -> WebhookSubscription {
        let (id, url, types, team, description, status, reason, created, updated) = try row.decode(
            UUID.self, String.self, [String].self, UUID?.self, String.self, String.self, String?.self, Date.self,
            Date.self)
        return WebhookSubscription(
            id: id, url: url, eventTypes: types, teamID: team, description: description,
            status: try SubscriptionStatus(column: "webhook_subscriptions.status", status), disabledReason: reason,
            createdAt: created, updatedAt: updated, secret: nil)
    }

    /// A subscription for the acting service account: `url` must already have passed the
    /// destination check; `teamID` must be one of the caller's teams.
    public func createSubscription(
        url: String, eventTypes: [String], teamID: UUID?, description: String, by caller: Caller
    ) async throws -> WebhookSubscription {
        try await command(caller) { context in
            let principal = try context.requireActing()
            try context.authorizeAnyTeam(.manageWebhooks)
            let teams = context.teams(allowing: .manageWebhooks)
            if let teamID, !teams.contains(teamID) { throw StoreError.notFound("team \(teamID.lowercasedString)") }
            let secret = WebhookSecret.make()
            let row = try await context.connection.query(
                """
                INSERT INTO webhook_subscriptions (owner_id, url, event_types, team_id, description, secret)
                VALUES (\(principal.memberID), \(url), \(eventTypes), \(teamID), \(description), \(secret))
                RETURNING \(unescaped: Self.subscriptionColumns)
                """)
            var subscription = try Self.subscription(row[0])
            subscription.secret = secret
            return subscription
        }
    }

    /// The acting caller's subscriptions, oldest first.
    public func subscriptions(limit: Int, after: UUID?, by caller: Caller) async throws -> Page<WebhookSubscription> {
        try await command(caller) { context in
            try context.authorizeAnyTeam(.manageWebhooks)
            let principal = try context.requireActing()
            var filter: PQQuery = ""
            if let after {
                filter = "AND (created_at, id) > (SELECT created_at, id FROM webhook_subscriptions WHERE id = \(after))"
            }
            let rows = try await context.connection.query(
                """
                SELECT \(unescaped: Self.subscriptionColumns) FROM webhook_subscriptions
                WHERE owner_id = \(principal.memberID) \(fragment: filter)
                ORDER BY created_at, id LIMIT \(limit + 1)
                """
            ).map(Self.subscription)
            let items = Array(rows.prefix(limit))
            return Page(items: items, next: rows.count > limit ? items.last?.id.lowercasedString : nil)
        }
    }

    public func subscription(_ id: UUID, by caller: Caller) async throws -> WebhookSubscription {
        try await command(caller) { context in
            try await context.ownSubscription(id)
        }
    }

    /// Pauses (deliveries are kept and wait) or resumes (they are sent again; a disabled
    /// subscription starts receiving again, and its cancelled deliveries stay cancelled).
    public func setSubscriptionStatus(_ id: UUID, to status: SubscriptionStatus, by caller: Caller) async throws
        -> WebhookSubscription
    {
        try await command(caller) { context in
            _ = try await context.ownSubscription(id)
            let row = try await context.connection.query(
                """
                UPDATE webhook_subscriptions SET status = \(status.rawValue), updated_at = now(),
                    disabled_reason = CASE WHEN \(status.rawValue) = 'disabled' THEN 'disabled by its owner' ELSE NULL
                        END
                WHERE id = \(id) RETURNING \(unescaped: Self.subscriptionColumns)
                """)
            return try Self.subscription(row[0])
        }
    }

    /// Deletes the subscription and every delivery it has (sent or not).
    public func deleteSubscription(_ id: UUID, by caller: Caller) async throws {
        try await command(caller) { context in
            _ = try await context.ownSubscription(id)
            try await context.connection.query("DELETE FROM webhook_subscriptions WHERE id = \(id)")
        }
    }

    /// A new secret; the previous one keeps signing beside it for `previousSecretGrace`.
    public func rotateSubscriptionSecret(_ id: UUID, by caller: Caller) async throws -> WebhookSubscription {
        try await command(caller) { context in
            _ = try await context.ownSubscription(id)
            let secret = WebhookSecret.make()
            let row = try await context.connection.query(
                """
                UPDATE webhook_subscriptions SET previous_secret = secret,
                    previous_secret_expires_at = now() + make_interval(secs => \(Self.previousSecretGrace)),
                    secret = \(secret), updated_at = now()
                WHERE id = \(id) RETURNING \(unescaped: Self.subscriptionColumns)
                """)
            var subscription = try Self.subscription(row[0])
            subscription.secret = secret
            return subscription
        }
    }

    static let deliveryColumns = """
        d.id, d.subscription_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at,
        d.last_status, d.last_error, d.delivered_at, d.created_at
        """

    static func delivery(_ row: PQRow) throws -> WebhookDelivery {
        let (id, subscription, event, type, status, attempts, next, last, lastStatus, lastError, delivered, created) =
            try row.decode(
                UUID.self, UUID.self, Int64.self, String.self, String.self, Int.self, Date.self, Date?.self, Int?.self,
                String?.self, Date?.self, Date.self)
        let state = try DeliveryStatus(column: "webhook_deliveries.status", status)
        return WebhookDelivery(
            id: id, subscriptionID: subscription, eventID: event, eventType: type, status: state, attempts: attempts,
            nextAttemptAt: state == .pending ? next : nil, lastAttemptAt: last, lastStatus: lastStatus,
            lastError: lastError, deliveredAt: delivered, createdAt: created)
    }

    /// A subscription's deliveries, newest first; `status` narrows them.
    public func deliveries(subscriptionID: UUID, status: DeliveryStatus?, limit: Int, before: UUID?, by caller: Caller)
        async throws -> Page<WebhookDelivery>
    {
        try await command(caller) { context in
            _ = try await context.ownSubscription(subscriptionID)
            var filter: PQQuery = ""
            if let status { filter = "AND d.status = \(status.rawValue)" }
            if let before {
                filter =
                    """
                    \(fragment: filter) AND (d.created_at, d.id) < (SELECT created_at, id FROM webhook_deliveries \
                    WHERE id = \(before))
                    """
            }
            let rows = try await context.connection.query(
                """
                SELECT \(unescaped: Self.deliveryColumns) FROM webhook_deliveries d
                WHERE d.subscription_id = \(subscriptionID) \(fragment: filter)
                ORDER BY d.created_at DESC, d.id DESC LIMIT \(limit + 1)
                """
            ).map(Self.delivery)
            let items = Array(rows.prefix(limit))
            return Page(items: items, next: rows.count > limit ? items.last?.id.lowercasedString : nil)
        }
    }

    /// Sends a delivery again: a dead or cancelled one (or a succeeded one, on request) goes
    /// back to pending with a fresh set of attempts; the receiver sees the same webhook-id.
    public func redeliver(subscriptionID: UUID, deliveryID: UUID, by caller: Caller) async throws -> WebhookDelivery {
        try await command(caller) { context in
            _ = try await context.ownSubscription(subscriptionID)
            let rows = try await context.connection.query(
                """
                UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, next_attempt_at = now(), lease_until =
                    NULL
                WHERE d.id = \(deliveryID) AND d.subscription_id = \(subscriptionID) AND d.status IN ('dead',
                    'cancelled', 'succeeded')
                RETURNING \(unescaped: Self.deliveryColumns)
                """)
            if let row = rows.firstRow { return try Self.delivery(row) }
            let state = try await context.connection.query(
                """
                SELECT status FROM webhook_deliveries WHERE id = \(deliveryID) AND subscription_id = \(subscriptionID)
                """)
            guard let current = state.firstRow else {
                throw StoreError.notFound("delivery \(deliveryID.lowercasedString)")
            }
            throw StoreError.conflict(
                "the delivery is \(try current.decode(String.self, at: 0)); it is already on its way")
        }
    }
}

extension CommandContext {
    func requireActing() throws -> Principal {
        guard let principal = acting?.principal else {
            throw StoreError.forbidden("webhook subscriptions are managed through the API")
        }
        return principal
    }

    /// The subscription, if the acting caller owns it (404 otherwise, like a stranger's patient),
    /// and may still manage webhooks.
    @discardableResult
    func ownSubscription(_ id: UUID) async throws -> WebhookSubscription {
        let principal = try requireActing()
        try authorizeAnyTeam(.manageWebhooks)
        let rows = try await connection.query(
            """
            SELECT \(unescaped: CareStore.subscriptionColumns) FROM webhook_subscriptions WHERE id = \(id) AND owner_id
                = \(principal.memberID)
            """)
        guard let row = rows.firstRow else { throw StoreError.notFound("webhook subscription \(id.lowercasedString)") }
        return try CareStore.subscription(row)
    }
}
