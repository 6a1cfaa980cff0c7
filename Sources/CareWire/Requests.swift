import CareDomain
import CoreFormats
import Foundation

// The API's request bodies: what care-server decodes and CareClient encodes, defined once.
// Keys go over the wire in snake_case (the coders convert); dates are RFC 3339, days YYYY-MM-DD.
// Closed sets of values are the domain's `NamedValues`: an unknown name is refused with the list
// of names (docs/api.md).

/// POST /v1/teams
public struct NewTeam: Codable, Sendable {
    public var name: String
    /// An IANA time zone (default UTC).
    public var timeZone: String?
    public init(name: String, timeZone: String? = nil) {
        self.name = name
        self.timeZone = timeZone
    }
}

/// PUT /v1/teams/{id}/time-zone (the team's admins).
public struct TimeZoneBody: Codable, Sendable {
    public var timeZone: String
    public init(timeZone: String) { self.timeZone = timeZone }
}

/// POST /v1/teams/{id}/members: a member and their first token.
/// A member's roles on a team (PUT /v1/teams/{id}/members/{memberId}).
public struct MemberRoles: Codable, Sendable {
    public var roles: [Role]
    public init(roles: [Role]) { self.roles = roles }
}

public struct NewMember: Codable, Sendable {
    public var displayName: String
    public var email: String?
    public var roles: [Role]
    public var tokenExpiresAt: Date?
    public init(displayName: String, email: String? = nil, roles: [Role], tokenExpiresAt: Date? = nil) {
        self.displayName = displayName
        self.email = email
        self.roles = roles
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// POST /v1/patients
public struct NewPatient: Codable, Sendable {
    public var teamId: UUID
    public var mrn: String
    public var displayName: String
    public var enrolledOn: Day
    public init(teamId: UUID, mrn: String, displayName: String, enrolledOn: Day) {
        self.teamId = teamId
        self.mrn = mrn
        self.displayName = displayName
        self.enrolledOn = enrolledOn
    }
}

/// POST /v1/patients/{id}/status
public struct PatientStatusChange: Codable, Sendable {
    /// A `PatientStatus` name; the server answers an unknown one with the names (422, `field`).
    public var status: String
    public init(status: String) { self.status = status }
}

/// PUT /v1/patients/{id}/care-plan (with If-Match).
public struct PlanBody: Codable, Sendable, Equatable {
    public var goals: [String]
    public var problems: [String]
    public var treatmentLine: String
    public init(goals: [String], problems: [String], treatmentLine: String) {
        self.goals = goals
        self.problems = problems
        self.treatmentLine = treatmentLine
    }
}

/// POST /v1/patients/{id}/notes
public struct NewNote: Codable, Sendable {
    /// progress when not given.
    public var kind: NoteKind?
    public var body: String
    public init(kind: NoteKind?, body: String) {
        self.kind = kind
        self.body = body
    }
}

/// POST /v1/notes/{id}/amendments
public struct Amendment: Codable, Sendable {
    public var body: String
    public init(body: String) { self.body = body }
}

/// POST /v1/patients/{id}/measurements: the items, or the total alone.
public struct NewMeasurement: Codable, Sendable {
    public var instrument: Instrument
    public var items: [Int]?
    public var total: Int?
    public var takenAt: Date?
    public init(instrument: Instrument, items: [Int]? = nil, total: Int? = nil, takenAt: Date? = nil) {
        self.instrument = instrument
        self.items = items
        self.total = total
        self.takenAt = takenAt
    }
}

/// POST /v1/patients/{id}/trials
public struct NewTrial: Codable, Sendable {
    public var kind: TrialKind
    public var drug: String?
    public var dailyDoseMg: Double?
    public var startedOn: Day
    public var therapy: String?
    /// A dose above the dose table's maximum is recorded only with both of these.
    public var confirmHighDose: Bool?
    public var highDoseReason: String?
    public init(
        kind: TrialKind, drug: String? = nil, dailyDoseMg: Double? = nil, startedOn: Day, therapy: String? = nil,
        highDoseReason: String? = nil
    ) {
        self.kind = kind
        self.drug = drug
        self.dailyDoseMg = dailyDoseMg
        self.startedOn = startedOn
        self.therapy = therapy
        self.confirmHighDose = highDoseReason == nil ? nil : true
        self.highDoseReason = highDoseReason
    }
}

/// POST /v1/trials/{id}/dose: a running medication or augmentation trial's daily dose from a day
/// on (titration up or down); steps from that day on are replaced.
public struct NewDose: Codable, Sendable {
    public var dailyDoseMg: Double
    public var from: Day
    /// A dose above the dose table's maximum is recorded only with both of these.
    public var confirmHighDose: Bool?
    public var highDoseReason: String?
    public init(dailyDoseMg: Double, from: Day, highDoseReason: String? = nil) {
        self.dailyDoseMg = dailyDoseMg
        self.from = from
        self.confirmHighDose = highDoseReason == nil ? nil : true
        self.highDoseReason = highDoseReason
    }
}

/// POST /v1/trials/{id}/outcome: with no outcome, the PHQ-9 before and during the trial decide it.
public struct NewOutcome: Codable, Sendable {
    public var outcome: TrialOutcome?
    public var stoppedOn: Day
    public var adherence: Double?
    public var sessions: Int?
    public var stopReason: String?
    public init(
        outcome: TrialOutcome?, stoppedOn: Day, adherence: Double? = nil, sessions: Int? = nil,
        stopReason: String? = nil
    ) {
        self.outcome = outcome
        self.stoppedOn = stoppedOn
        self.adherence = adherence
        self.sessions = sessions
        self.stopReason = stopReason
    }
}

/// POST /v1/patients/{id}/referrals: a second open one of the same kind needs a reason.
public struct NewReferral: Codable, Sendable {
    public var kind: ReferralKind
    public var targetClinic: String
    public var note: String?
    public var reason: String?
    public init(kind: ReferralKind, targetClinic: String, note: String? = nil, reason: String? = nil) {
        self.kind = kind
        self.targetClinic = targetClinic
        self.note = note
        self.reason = reason
    }
}

/// POST /v1/referrals/{id}/status
public struct ReferralStatusChange: Codable, Sendable {
    public var status: ReferralStatus
    public var reason: String?
    public init(status: ReferralStatus, reason: String? = nil) {
        self.status = status
        self.reason = reason
    }
}

/// POST /v1/{record}/entered-in-error
public struct CorrectionBody: Codable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// POST /v1/patients/{id}/tasks: for a member (`ownerId`) or a role's pool.
public struct NewTask: Codable, Sendable {
    public var title: String
    public var description: String?
    public var ownerId: UUID?
    public var poolRole: Role?
    public var priority: TaskPriority?
    public var dueAt: Date?
    public var notBefore: Date?
    public init(
        title: String, description: String? = nil, ownerId: UUID? = nil, poolRole: Role? = nil,
        priority: TaskPriority? = nil, dueAt: Date? = nil, notBefore: Date? = nil
    ) {
        self.title = title
        self.description = description
        self.ownerId = ownerId
        self.poolRole = poolRole
        self.priority = priority
        self.dueAt = dueAt
        self.notBefore = notBefore
    }
}

/// POST /v1/tasks/{id}/{claim|start|hold|resume|complete|cancel|fail}: complete takes the note
/// (the evidence), cancel and fail the reason.
public struct TaskAction: Codable, Sendable {
    public var note: String?
    public var reason: String?
    public init(note: String? = nil, reason: String? = nil) {
        self.note = note
        self.reason = reason
    }
}

/// POST /v1/handoffs/{id}/reassign
public struct Reassignment: Codable, Sendable {
    public var role: Role
    public var memberId: UUID?
    public var reason: String
    public init(role: Role, memberId: UUID? = nil, reason: String) {
        self.role = role
        self.memberId = memberId
        self.reason = reason
    }
}

/// POST /v1/reports/snapshots/{id}/recommendations: a case-review note, and a task if asked.
public struct NewRecommendation: Codable, Sendable {
    public struct Task: Codable, Sendable {
        public var title: String
        public var role: Role
        public var dueAt: Date?
        public init(title: String, role: Role, dueAt: Date? = nil) {
            self.title = title
            self.role = role
            self.dueAt = dueAt
        }
    }
    public var patientId: UUID
    public var text: String
    public var task: Task?
    public init(patientId: UUID, text: String, task: Task? = nil) {
        self.patientId = patientId
        self.text = text
        self.task = task
    }
}

/// POST /v1/webhooks
public struct NewWebhook: Codable, Sendable {
    public var url: String
    public var eventTypes: [String]
    public var teamId: UUID?
    public var description: String?
    public init(url: String, eventTypes: [String], teamId: UUID? = nil, description: String? = nil) {
        self.url = url
        self.eventTypes = eventTypes
        self.teamId = teamId
        self.description = description
    }
}

/// A calendar date, YYYY-MM-DD, in UTC.
public struct Day: Codable, Sendable, Equatable {
    public var date: Date

    public init(_ date: Date) { self.date = date }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = Day.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a date from 1900 to 2999 such as 2026-11-27, got \(text)")
        }
        self.date = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public var text: String { String(Timestamp.iso8601(date, fractionDigits: 0, rounding: .down).prefix(10)) }

    /// YYYY-MM-DD with a year from 1900 to 2999 and a day that exists in its month.
    public static func parse(_ text: String) -> Date? { Timestamp.day(text) }
}

/// POST /v1/tasks/{id}/contraindication-screen: the checklist of the treatment's screen, each
/// question answered true (present) or false (docs/prior-authorisation.md).
public struct ScreenBody: Codable, Sendable {
    public var answers: [String: Bool]
    public var note: String?
    public init(answers: [String: Bool], note: String? = nil) {
        self.answers = answers
        self.note = note
    }
}

/// POST /v1/prior-auth-packets/{id}/status: submitted; approved with `sessions`; denied with
/// the payer's `reason`.
public struct PriorAuthStatusChange: Codable, Sendable {
    public var status: String
    public var sessions: Int?
    public var reason: String?
    public init(status: String, sessions: Int? = nil, reason: String? = nil) {
        self.status = status
        self.sessions = sessions
        self.reason = reason
    }
}

/// POST /v1/referrals/{id}/prior-auth-packets (optional): the payer's criteria set by name.
public struct PacketBody: Codable, Sendable {
    public var criteriaSet: String?
    /// Team-visible notes in the packet too (never psychotherapy notes); default none.
    public var includeNotes: Bool?
    public init(criteriaSet: String?, includeNotes: Bool? = nil) {
        self.criteriaSet = criteriaSet
        self.includeNotes = includeNotes
    }
}

/// PUT /v1/patients/{id}/birth-date: YYYY-MM-DD, or null to clear it.
public struct BirthDateBody: Codable, Sendable {
    public var birthDate: String?
    public init(birthDate: String?) { self.birthDate = birthDate }

    enum CodingKeys: String, CodingKey { case birthDate }

    /// `birth_date` must be sent: null clears the date, and an empty body clears nothing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.contains(.birthDate) else {
            throw DecodingError.keyNotFound(
                CodingKeys.birthDate,
                .init(codingPath: [], debugDescription: "send birth_date: YYYY-MM-DD, or null to clear it"))
        }
        birthDate =
            try container.decodeNil(forKey: .birthDate) ? nil : container.decode(String.self, forKey: .birthDate)
    }

    /// Always sends `birth_date`: null (to clear it) is written, not left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(birthDate, forKey: .birthDate)
    }
}

/// POST /v1/patients/{id}/prior-auth-statements: what the team documents for a payer.
public struct StatementBody: Codable, Sendable {
    public var key: String
    public var text: String
    public init(key: String, text: String) {
        self.key = key
        self.text = text
    }
}
