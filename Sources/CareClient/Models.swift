import Foundation

// The API's resources as the client reads them (docs/openapi.json). Field names follow the
// document in camelCase; the decoder converts them from snake_case.

public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var nextCursor: String?
}

public struct Me: Codable, Sendable {
    public struct Team: Codable, Sendable { public var id: String; public var name: String; public var roles: [String] }
    public var id: String
    public var displayName: String
    public var isServiceAccount: Bool
    public var scopes: [String]
    public var teams: [Team]
}

public struct TaskItem: Codable, Sendable {
    public var id: String
    public var patientId: String
    public var title: String
    public var status: String
    public var priority: String
    public var ownerId: String?
    public var poolRole: String?
    public var dueAt: Date?
    public var notBefore: Date?
    public var handoffId: String?
    /// Why it was cancelled or failed; "superseded: ..." when its handoff's cause was withdrawn.
    public var statusReason: String?
}

public struct Handoff: Codable, Sendable {
    public var id: String
    public var patientId: String
    public var role: String
    public var reason: String
    public var step: String
    public var dueAt: Date
    public var taskId: String
    public var acknowledgedBy: String?
    public var acknowledgedAt: Date?
    public var escalated: Bool
    public var createdAt: Date
    /// open, acknowledged, superseded, or the task's closing status.
    public var status: String?
    public var assignedMemberId: String?
    public var supersededReason: String?
}

public struct Patient: Codable, Sendable {
    public var id: String
    public var teamId: String
    public var mrn: String
    public var displayName: String
    public var status: String
    public var enrolledOn: String
}

public struct RuleInput: Codable, Sendable { public var name: String; public var value: String }

/// A record's entered-in-error mark.
public struct EnteredInError: Codable, Sendable {
    public var at: Date
    public var by: String?
    public var reason: String
}

public struct Note: Codable, Sendable {
    public var id: String
    public var authorId: String
    public var authorName: String?
    public var kind: String
    public var body: String
    public var amendsId: String?
    public var createdAt: Date
    public var isAmended: Bool?
    public var amendedBy: [String]?
    public var enteredInError: EnteredInError?
}

public struct Adequacy: Codable, Sendable {
    public var isAdequate: Bool
    public var weeksAtAdequateDose: Double
    public var drugClass: String?
    public var reason: String
    public var inputs: [RuleInput]
}

public struct Trial: Codable, Sendable {
    public var id: String
    public var kind: String
    public var drug: String?
    public var therapy: String?
    public var sessions: Int?
    public var startedOn: String
    public var stoppedOn: String?
    public var outcome: String?
    public var stopReason: String?
    public var isFailed: Bool
    public var adequacy: Adequacy?
    public var enteredInError: EnteredInError?

    /// The drug, or the therapy's name where a drug would be.
    public var treatment: String { drug ?? therapy ?? kind }
}

public struct Referral: Codable, Sendable {
    public var id: String
    public var kind: String
    public var status: String
    public var targetClinic: String
    public var createdAt: Date
    public var reason: String?
    public var statusReason: String?
    public var enteredInError: EnteredInError?
}

public struct Measurement: Codable, Sendable {
    public var id: String
    public var instrument: String
    public var total: Int
    public var items: [Int]?
    public var safetySignal: Bool
    public var takenAt: Date
    public var severity: String?
    public var enteredInError: EnteredInError?
}

public struct Summary: Codable, Sendable {
    public struct Plan: Codable, Sendable {
        public var version: Int; public var goals: [String]; public var problems: [String];
        public var treatmentLine: String
    }
    public struct Score: Codable, Sendable {
        public var id: String; public var instrument: String; public var total: Int; public var severity: String?;
        public var takenAt: Date; public var safetySignal: Bool
    }
    public struct Response: Codable, Sendable {
        public var category: String; public var improvement: Double; public var isResponse: Bool;
        public var isRemission: Bool; public var inputs: [RuleInput]
    }
    public struct TRD: Codable, Sendable {
        public var isTrd: Bool; public var failedTrials: Int; public var distinctClasses: Int;
        public var inputs: [RuleInput]
    }
    public struct Stage: Codable, Sendable { public var stage: String; public var inputs: [RuleInput] }
    public struct Maudsley: Codable, Sendable {
        public var total: Int; public var band: String; public var inputs: [RuleInput]
    }
    public struct OpenHandoff: Codable, Sendable {
        public var id: String; public var role: String; public var reason: String; public var dueAt: Date;
        public var taskId: String; public var escalated: Bool
    }

    public var id: String
    public var teamId: String
    public var mrn: String
    public var displayName: String
    public var status: String
    public var enrolledOn: String
    public var carePlan: Plan
    public var scores: [Score]
    public var response: Response?
    public var trials: [Trial]
    public var trd: TRD
    public var thaseRush: Stage
    public var maudsley: Maudsley?
    public var referrals: [Referral]
    public var openTasks: [TaskItem]
    public var openHandoffs: [OpenHandoff]
    public var recentNotes: [Note]
}

public struct CarePlan: Codable, Sendable {
    public var patientId: String
    public var version: Int
    public var goals: [String]
    public var problems: [String]
    public var treatmentLine: String
    public var authorId: String?
    public var updatedAt: Date
}

public struct Created: Codable, Sendable {
    public var id: String
    public var handoffIds: [String]?
    /// A score's severity band ("moderately severe").
    public var severity: String?
}

/// A status move's answer: the open handoffs it superseded (and, for a discharge, tasks cancelled).
public struct Moved: Codable, Sendable {
    public var id: String
    public var status: String
    public var supersededHandoffIds: [String]
    public var cancelledTaskIds: [String]?
}

/// A record marked entered in error.
public struct Correction: Codable, Sendable {
    public var id: String
    public var record: String
    public var patientId: String
    public var enteredInError: EnteredInError?
    public var supersededHandoffIds: [String]
    public var trdWithdrawn: Bool
}

public struct TrialOutcomeResult: Codable, Sendable {
    public var trialId: String
    public var outcome: String
    public var isFailed: Bool
    public var trdReached: Bool
    public var adequacy: Adequacy?
    public var handoffIds: [String]
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
