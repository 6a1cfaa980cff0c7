@_exported import CareWire
import Foundation

// The API's resources are CareWire's (one definition with the server). What the client reads
// that the server writes another way: who is logged in, and the integration feed.

public struct Me: Codable, Sendable {
    public struct Team: Codable, Sendable { public var id: String; public var name: String; public var roles: [String] }
    public var id: String
    public var displayName: String
    public var isServiceAccount: Bool
    public var scopes: [String]
    public var teams: [Team]
}

/// A feed item. Its `details` keys are the API's own (snake_case): decoded without conversion.
public struct FeedItem: Codable, Sendable {
    public var eventId: String
    public var cursor: String
    public var type: String
    public var teamId: String?
    public var patientId: String?
    public var occurredAt: Date
    public var details: [String: String]

    enum CodingKeys: String, CodingKey {
        case eventId = "event_id", cursor, type, teamId = "team_id", patientId = "patient_id", occurredAt =
            "occurred_at", details
    }
}

public struct FeedPage: Codable, Sendable {
    public var items: [FeedItem]
    public var nextCursor: String

    enum CodingKeys: String, CodingKey { case items, nextCursor = "next_cursor" }
}

extension Trial {
    /// The drug, or the therapy's name where a drug would be.
    public var treatment: String { drug ?? therapy ?? kind }
}
