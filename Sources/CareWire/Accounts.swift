import Foundation

// The API's resources about people, teams, integrations and report snapshots, as care-server
// writes them and CareClient reads them.

/// A team as its member sees it, with their roles on it.
public struct Team: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var roles: [String]
    /// The team's IANA time zone (docs/time-zones.md); absent from servers before it existed.
    public var timeZone: String?
    public init(id: String, name: String, roles: [String], timeZone: String? = nil) {
        self.id = id
        self.name = name
        self.roles = roles
        self.timeZone = timeZone
    }
}

/// GET /v1/me: who the token speaks for.
public struct Me: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var isServiceAccount: Bool
    public var scopes: [String]
    public var teams: [Team]
    public init(id: String, displayName: String, isServiceAccount: Bool, scopes: [String], teams: [Team]) {
        self.id = id
        self.displayName = displayName
        self.isServiceAccount = isServiceAccount
        self.scopes = scopes
        self.teams = teams
    }
}

/// A member of a team.
/// A member taken off a team: the tasks of theirs that went back to the pools.
public struct RemovedMember: Codable, Sendable, Equatable {
    public var memberId: String
    public var teamId: String
    public var releasedTaskIds: [String]
    public init(memberId: String, teamId: String, releasedTaskIds: [String]) {
        self.memberId = memberId
        self.teamId = teamId
        self.releasedTaskIds = releasedTaskIds
    }
}

public struct Member: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String
    public var email: String?
    public var isServiceAccount: Bool
    public var roles: [String]
    public init(id: String, displayName: String, email: String?, isServiceAccount: Bool, roles: [String]) {
        self.id = id
        self.displayName = displayName
        self.email = email
        self.isServiceAccount = isServiceAccount
        self.roles = roles
    }
}

/// POST /v1/teams/{id}/members: the member and their token, shown this once.
public struct CreatedMember: Codable, Sendable, Equatable {
    public var id: String
    public var roles: [String]
    public var tokenId: String
    public var token: String
    public var tokenExpiresAt: Date?
    public init(id: String, roles: [String], tokenId: String, token: String, tokenExpiresAt: Date?) {
        self.id = id
        self.roles = roles
        self.tokenId = tokenId
        self.token = token
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// An event of the integration feed (GET /v1/events) and of a webhook delivery's `data`.
/// Its `details` keys are the API's own snake_case names: read it without key conversion.
public struct FeedItem: Codable, Sendable, Equatable {
    public var eventId: String
    public var cursor: String
    public var type: String
    public var teamId: String?
    public var patientId: String?
    public var occurredAt: Date
    public var details: [String: String]

    enum CodingKeys: String, CodingKey {
        case eventId = "event_id", cursor, type, teamId = "team_id", patientId = "patient_id"
        case occurredAt = "occurred_at", details
    }

    public init(
        eventId: String, cursor: String, type: String, teamId: String?, patientId: String?, occurredAt: Date,
        details: [String: String]
    ) {
        self.eventId = eventId
        self.cursor = cursor
        self.type = type
        self.teamId = teamId
        self.patientId = patientId
        self.occurredAt = occurredAt
        self.details = details
    }
}

/// A page of the feed; `nextCursor` is always given: the reader's position.
public struct FeedPage: Codable, Sendable, Equatable {
    public var items: [FeedItem]
    public var nextCursor: String

    enum CodingKeys: String, CodingKey { case items, nextCursor = "next_cursor" }

    public init(items: [FeedItem], nextCursor: String) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// A webhook subscription; `secret` only in the answers that create or rotate it.
public struct Webhook: Codable, Sendable, Equatable {
    public var id: String
    public var url: String
    public var eventTypes: [String]
    public var teamId: String?
    public var description: String
    public var status: String
    public var disabledReason: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var secret: String?
    public init(
        id: String, url: String, eventTypes: [String], teamId: String?, description: String, status: String,
        disabledReason: String?, createdAt: Date, updatedAt: Date, secret: String?
    ) {
        self.id = id
        self.url = url
        self.eventTypes = eventTypes
        self.teamId = teamId
        self.description = description
        self.status = status
        self.disabledReason = disabledReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.secret = secret
    }
}

/// One delivery of an event to a webhook subscription.
public struct Delivery: Codable, Sendable, Equatable {
    public var id: String
    public var webhookId: String
    public var eventId: String
    public var eventType: String
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastAttemptAt: Date?
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: Date?
    public var createdAt: Date
    public init(
        id: String, webhookId: String, eventId: String, eventType: String, status: String, attempts: Int,
        nextAttemptAt: Date?, lastAttemptAt: Date?, lastStatus: Int?, lastError: String?, deliveredAt: Date?,
        createdAt: Date
    ) {
        self.id = id
        self.webhookId = webhookId
        self.eventId = eventId
        self.eventType = eventType
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastAttemptAt = lastAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.deliveredAt = deliveredAt
        self.createdAt = createdAt
    }
}

/// A weekly report kept as it was shown (the meeting's record).
public struct Snapshot: Codable, Sendable, Equatable {
    public var id: String
    public var teamId: String
    public var isoWeek: String
    public var takenBy: String
    public var takenAt: Date
    public var recommendations: Int?
    public init(
        id: String, teamId: String, isoWeek: String, takenBy: String, takenAt: Date, recommendations: Int? = nil
    ) {
        self.id = id
        self.teamId = teamId
        self.isoWeek = isoWeek
        self.takenBy = takenBy
        self.takenAt = takenAt
        self.recommendations = recommendations
    }
}

/// A recommendation recorded against a snapshot: its case-review note and task.
public struct Recommendation: Codable, Sendable, Equatable {
    public var id: String
    public var snapshotId: String
    public var patientId: String
    public var noteId: String
    public var taskId: String?
    public init(id: String, snapshotId: String, patientId: String, noteId: String, taskId: String?) {
        self.id = id
        self.snapshotId = snapshotId
        self.patientId = patientId
        self.noteId = noteId
        self.taskId = taskId
    }
}

/// GET /v1/resolve: a record whose id starts with the characters given.
public struct ResolvedRecord: Codable, Sendable, Equatable {
    public var id: String
    /// task (a handoff's id is its task's), trial, referral, note, measurement or snapshot.
    public var kind: String
    public var patientId: String?
    /// A few words to tell candidates apart: "Call about side effects (requested)".
    public var label: String
    public init(id: String, kind: String, patientId: String?, label: String) {
        self.id = id
        self.kind = kind
        self.patientId = patientId
        self.label = label
    }
}

/// An event of a patient's history (GET /v1/patients/{id}/events), newest first. Its `payload`
/// keys are the API's own snake_case names: read it without key conversion.
public struct PatientEvent: Codable, Sendable, Equatable {
    public var id: Int64
    public var type: String
    public var teamId: String?
    public var patientId: String?
    public var actorId: String?
    public var occurredAt: Date
    public var payload: [String: String]

    enum CodingKeys: String, CodingKey {
        case id, type, teamId = "team_id", patientId = "patient_id", actorId = "actor_id"
        case occurredAt = "occurred_at", payload
    }

    public init(
        id: Int64, type: String, teamId: String?, patientId: String?, actorId: String?, occurredAt: Date,
        payload: [String: String]
    ) {
        self.id = id
        self.type = type
        self.teamId = teamId
        self.patientId = patientId
        self.actorId = actorId
        self.occurredAt = occurredAt
        self.payload = payload
    }
}

/// GET /v1/inbox: one thing that changed on the caller's patients, in words.
public struct InboxEntry: Codable, Sendable, Equatable {
    public var eventId: String
    /// safety, handoff, score, trial, resistance, referral or note.
    public var kind: String
    public var patientId: String
    public var patientName: String
    /// Who did it; absent for what the server did (a handoff the playbook made).
    public var actorName: String?
    public var occurredAt: Date
    public var what: String
    /// About a safety signal: a score with one, or a handoff one made (listed first). Optional
    /// for servers from before it.
    public var safetySignal: Bool?
    public init(
        eventId: String, kind: String, patientId: String, patientName: String, actorName: String?, occurredAt: Date,
        what: String, safetySignal: Bool
    ) {
        self.eventId = eventId
        self.kind = kind
        self.patientId = patientId
        self.patientName = patientName
        self.actorName = actorName
        self.occurredAt = occurredAt
        self.what = what
        self.safetySignal = safetySignal
    }
}
