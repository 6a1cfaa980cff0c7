import Foundation
import PQ

/// A position in the event feed: after the event with this (transaction, id).
public struct FeedCursor: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var transaction: Int64
    public var id: Int64

    public static let start = FeedCursor(transaction: 0, id: 0)

    public init(transaction: Int64, id: Int64) {
        self.transaction = transaction
        self.id = id
    }

    /// Opaque to clients: "<transaction>-<id>".
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let transaction = Int64(parts[0]), let id = Int64(parts[1]), transaction >= 0, id >= 0
        else { return nil }
        self.init(transaction: transaction, id: id)
    }

    public var description: String { "\(transaction)-\(id)" }
}

public struct FeedEvent: Sendable, Equatable {
    public var id: Int64
    public var type: String
    public var teamID: UUID?
    public var patientID: UUID?
    public var actorID: UUID?
    public var occurredAt: Date
    public var payload: [String: String]
    public var cursor: FeedCursor
}

extension CareStore {
    /// Events after `cursor`, in an order that never skips.
    ///
    /// Ids come from a sequence in insert order, but transactions commit in another order: a
    /// slow transaction may commit event 10 after a reader has already been given event 11. So the
    /// feed orders by the writing transaction's id (tx_id, then id) and only hands out events of
    /// transactions older than the oldest one still running (the snapshot's xmin). Every event a
    /// later commit can add then has a tx_id at or above that xmin, after anything already handed
    /// out. The price: a long-running writer holds the feed back until it ends.
    /// Events of psychotherapy notes never reach the feed (their author is the only reader).
    public func events(after cursor: FeedCursor, limit: Int = 100) async throws -> (
        events: [FeedEvent], next: FeedCursor
    ) {
        let events = try await pool.query(Self.feedQuery(after: cursor, limit: max(1, min(limit, 1000)), teams: nil))
            .map(Self.feedEvent)
        return (events, events.last?.cursor ?? cursor)
    }

    /// The feed's statement: events after `cursor` in commit order, none of a transaction still
    /// running (see `events(after:)`), never a psychotherapy note's; of `teams` only, when given.
    static func feedQuery(after cursor: FeedCursor, limit: Int, teams: [UUID]?) -> PQQuery {
        var filter: PQQuery = ""
        if let teams { filter = "AND team_id = ANY(\(teams)::uuid[])" }
        return """
            SELECT id, tx_id::text::bigint, type, team_id, patient_id, actor_id, occurred_at, payload
            FROM events
            WHERE (tx_id, id) > (\(String(cursor.transaction))::xid8, \(cursor.id))
              AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
              AND NOT (type IN ('note.added', 'note.amended', 'note.entered_in_error') AND payload->>'kind' =
                  'psychotherapy')
              \(fragment: filter)
            ORDER BY tx_id, id
            LIMIT \(limit)
            """
    }
}
