import CareDomain
import CareStore
import CareWire
import CareWebhooks
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// The integration feed (GET /v1/events, long-polling) and webhook subscriptions.
struct IntegrationController: Sendable {
    let store: CareStore
    /// Signalled on every NOTIFY care_events (see FeedListener), closed at shutdown.
    let events: ChangeSignal
    let destinations: DestinationPolicy

    /// The longest a feed request waits for events.
    static let maximumWait = 60
    /// How soon to look again when events exist but an older transaction holds them back
    /// (doubling up to a second while it lasts).
    static let heldBackRetry: Duration = .milliseconds(20)

    func addRoutes(to v1: RouterGroup<CareRequestContext>) {
        v1.get("events", use: feed)
        v1.post("webhooks", use: subscribe)
        v1.get("webhooks", use: listWebhooks)
        v1.get("webhooks/:id", use: webhook)
        v1.delete("webhooks/:id", use: deleteWebhook)
        for (action, status) in [("pause", SubscriptionStatus.paused), ("resume", .active)] {
            v1.post("webhooks/:id/\(action)") { request, context in
                try await setStatus(action, status, request, context: context)
            }
        }
        v1.post("webhooks/:id/rotate-secret", use: rotateSecret)
        v1.get("webhooks/:id/deliveries", use: deliveries)
        v1.post("webhooks/:id/deliveries/:delivery_id/redeliver", use: redeliver)
    }

    /// GET /v1/events
    @Sendable func feed(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        var cursor = FeedCursor.start
        if let text = try query.string("after", maxLength: 41) {
            guard let parsed = FeedCursor(text) else {
                throw Problem.badRequest("'after' must be the next_cursor of an earlier answer")
            }
            cursor = parsed
        }
        let limit = try query.limit(default: 100)
        let wait = try query.int("wait", default: 0, range: 0...Self.maximumWait)
        let deadline = ContinuousClock.now + .seconds(wait)
        var heldBackRetry = Self.heldBackRetry
        while true {
            // Read the generation before looking, so a commit between the look and the
            // wait still wakes this request.
            let seen = events.generation
            let page = try await context.acting("events.read", request) { caller in
                try await store.feed(after: cursor, limit: limit, by: caller)
            }
            let remaining = deadline - ContinuousClock.now
            if !page.events.isEmpty || remaining <= .zero || events.isClosed || Task.isCancelled {
                return try Wire.json(
                    FeedPage(items: page.events.map(FeedItem.init), nextCursor: page.next.description))
            }
            if page.heldBack {
                // Another transaction (anywhere on the cluster: xmin is cluster-wide) is
                // older than the waiting events; look again soon, less often the longer it runs.
                try await Task.sleep(for: min(remaining, heldBackRetry))
                heldBackRetry = min(heldBackRetry * 2, .seconds(1))
            } else {
                // A server told to stop wakes its long polls, so its drain does not wait them out.
                await withGracefulShutdownHandler {
                    await events.wait(since: seen, timeout: remaining)
                } onGracefulShutdown: {
                    events.close()
                }
            }
        }
    }

    /// POST /v1/webhooks
    @Sendable func subscribe(_ request: Request, context: CareRequestContext) async throws -> Response {
        // Who may subscribe is settled (by the store's gate) before the URL is looked up: the
        // token is looked up first, on a visit of its own.
        _ = try await context.principal(store)
        let caller = try context.caller("webhook.create", request)
        try CareStore.authorize(.manageWebhooks, onAnyTeam: caller)
        let body = try await request.decodeJSON(NewWebhook.self, context: context)
        try checkText(body.url, "url", max: 2000, required: true)
        try checkText(body.description, "description", max: 500)
        guard !body.eventTypes.isEmpty, body.eventTypes.count <= 50 else {
            throw Problem.invalid("'event_types' must name from 1 to 50 event types")
        }
        let known = Set(EventType.integration.map(\.rawValue))
        if let unknown = body.eventTypes.first(where: { $0 != "*" && !known.contains($0) }) {
            throw Problem.invalid(
                """
                'event_types' has '\(unknown)', which is not an event type; use '*' for all, or some of: \
                \(EventType.integration.map(\.rawValue).joined(separator: ", "))
                """
            )
        }
        do {
            try await destinations.check(body.url)
        } catch let refused as DestinationRefused {
            throw Problem.invalid(refused.description)
        }
        return try await context.respond("webhook.create", request) { caller in
            try await store.createSubscription(
                url: body.url, eventTypes: Array(Set(body.eventTypes)).sorted(), teamID: body.teamId,
                description: body.description ?? "", by: caller)
        } render: { created in
            try Wire.answer(
                Webhook(created), status: .created,
                headers: [.location: "/v1/webhooks/\(created.id.lower)", .shownOnce: "secret"])
        }
    }

    /// GET /v1/webhooks
    @Sendable func listWebhooks(_ request: Request, context: CareRequestContext) async throws -> Response {
        let query = QueryParameters(request)
        let page = try await context.acting("webhook.list", request) { caller in
            try await store.subscriptions(limit: try query.limit(), after: try query.afterID(), by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(Webhook.init), nextCursor: page.next))
    }

    /// GET /v1/webhooks/:id
    @Sendable func webhook(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let subscription = try await context.acting("webhook.read", request) { caller in
            try await store.subscription(id, by: caller)
        }
        return try Wire.json(Webhook(subscription))
    }

    /// DELETE /v1/webhooks/:id
    @Sendable func deleteWebhook(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        try await context.acting("webhook.delete", request) { caller in
            try await store.deleteSubscription(id, by: caller)
        }
        return Response(status: .noContent)
    }

    /// POST /v1/webhooks/:id/pause and /resume
    @Sendable func setStatus(
        _ action: String, _ status: SubscriptionStatus, _ request: Request, context: CareRequestContext
    ) async throws -> Response {
        let id = try context.id()
        return try await context.respond("webhook.\(action)", request) { caller in
            try await store.setSubscriptionStatus(id, to: status, by: caller)
        } render: { subscription in
            return try Wire.answer(Webhook(subscription))
        }
    }

    /// POST /v1/webhooks/:id/rotate-secret
    @Sendable func rotateSecret(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        return try await context.respond("webhook.rotate_secret", request) { caller in
            try await store.rotateSubscriptionSecret(id, by: caller)
        } render: { subscription in
            return try Wire.answer(
                Webhook(subscription), headers: [.location: "/v1/webhooks/\(id.lower)", .shownOnce: "secret"])
        }
    }

    /// GET /v1/webhooks/:id/deliveries
    @Sendable func deliveries(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let query = QueryParameters(request)
        let statuses = try query.enumeration("status", DeliveryStatus.self)
        guard (statuses?.count ?? 0) <= 1 else { throw Problem.badRequest("'status' takes one delivery status") }
        let page = try await context.acting("webhook.deliveries", request) { caller in
            try await store.deliveries(
                subscriptionID: id, status: statuses?.first, limit: try query.limit(), before: try query.afterID(),
                by: caller)
        }
        return try Wire.json(ListPage(items: page.items.map(Delivery.init), nextCursor: page.next))
    }

    /// POST /v1/webhooks/:id/deliveries/:delivery_id/redeliver
    @Sendable func redeliver(_ request: Request, context: CareRequestContext) async throws -> Response {
        let id = try context.id()
        let deliveryID = try context.id("delivery_id")
        return try await context.respond("webhook.redeliver", request) { caller in
            try await store.redeliver(subscriptionID: id, deliveryID: deliveryID, by: caller)
        } render: { delivery in
            return try Wire.answer(Delivery(delivery), status: .accepted)
        }
    }

}
