import Foundation

// The API's resources (docs/openapi.json), defined once: care-server encodes them (CareAPI makes
// them from the store's values) and the care CLI decodes them (CareClient). Field names are the
// document's in camelCase; both sides' JSON coders convert them to and from snake_case.

/// A page of a list, with the cursor of the next page (nil on the last).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

extension Page: Encodable where Item: Encodable {}
extension Page: Decodable where Item: Decodable {}
extension Page: Equatable where Item: Equatable {}

/// A rule's input, by name, as every assessment shows it.
public struct RuleInput: Codable, Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A record's entered-in-error mark.
public struct EnteredInError: Codable, Sendable, Equatable {
    public var at: Date
    public var by: String?
    public var reason: String

    public init(at: Date, by: String? = nil, reason: String) {
        self.at = at
        self.by = by
        self.reason = reason
    }
}

/// A patient as lists show them.
public struct Patient: Codable, Sendable, Equatable {
    /// A score as a list shows it: total, band, when.
    public struct LatestScore: Codable, Sendable, Equatable {
        public var total: Int
        public var severity: String
        public var takenAt: Date
        /// PHQ-9 item 9 (thoughts of self-harm) above 0: a safety signal.
        public var safetySignal: Bool?
        public init(total: Int, severity: String, takenAt: Date, safetySignal: Bool? = nil) {
            self.total = total
            self.severity = severity
            self.takenAt = takenAt
            self.safetySignal = safetySignal
        }
    }
    public var id: String
    public var teamId: String
    public var mrn: String
    public var displayName: String
    public var status: String
    public var enrolledOn: String
    /// The latest PHQ-9 (absent when none is recorded).
    public var latestPhq9: LatestScore?
    /// Whether the patient meets treatment-resistant depression now.
    public var isTrd: Bool?
    /// Open tasks, handoffs' included.
    public var openItems: Int?

    public init(
        id: String, teamId: String, mrn: String, displayName: String, status: String, enrolledOn: String,
        latestPhq9: LatestScore? = nil, isTrd: Bool? = nil, openItems: Int? = nil
    ) {
        self.id = id
        self.teamId = teamId
        self.mrn = mrn
        self.displayName = displayName
        self.status = status
        self.enrolledOn = enrolledOn
        self.latestPhq9 = latestPhq9
        self.isTrd = isTrd
        self.openItems = openItems
    }
}

/// A task (a handoff's too): GET /v1/tasks, /v1/tasks/{id}, a patient's tasks, status moves.
public struct TaskItem: Codable, Sendable, Equatable {
    /// What made a handoff, or joined it.
    public struct Cause: Codable, Sendable, Equatable {
        public var eventId: Int64
        public var summary: String
        public var addedAt: Date
        public var withdrawnAt: Date?

        public init(eventId: Int64, summary: String, addedAt: Date, withdrawnAt: Date? = nil) {
            self.eventId = eventId
            self.summary = summary
            self.addedAt = addedAt
            self.withdrawnAt = withdrawnAt
        }
    }

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
    /// What was done, as its completer wrote it (`note` when completing).
    public var evidence: String?
    /// A handoff's causes (GET /v1/tasks/{id} only).
    public var causes: [Cause]?
    /// A handoff's playbook step, such as `trial-failed.next-step` (GET /v1/tasks/{id} only).
    public var step: String?

    public init(
        id: String, patientId: String, title: String, status: String, priority: String, ownerId: String? = nil,
        poolRole: String? = nil, dueAt: Date? = nil, notBefore: Date? = nil, handoffId: String? = nil,
        statusReason: String? = nil, evidence: String? = nil, causes: [Cause]? = nil, step: String? = nil
    ) {
        self.id = id
        self.patientId = patientId
        self.title = title
        self.status = status
        self.priority = priority
        self.ownerId = ownerId
        self.poolRole = poolRole
        self.dueAt = dueAt
        self.notBefore = notBefore
        self.handoffId = handoffId
        self.statusReason = statusReason
        self.evidence = evidence
        self.causes = causes
        self.step = step
    }
}

/// A handoff: GET /v1/handoffs.
public struct Handoff: Codable, Sendable, Equatable {
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
    /// open, acknowledged, superseded, or the task's own closing status (completed, cancelled, failed).
    public var status: String?
    public var assignedMemberId: String?
    public var supersededReason: String?

    public init(
        id: String, patientId: String, role: String, reason: String, step: String, dueAt: Date, taskId: String,
        acknowledgedBy: String? = nil, acknowledgedAt: Date? = nil, escalated: Bool, createdAt: Date,
        status: String? = nil, assignedMemberId: String? = nil, supersededReason: String? = nil
    ) {
        self.id = id
        self.patientId = patientId
        self.role = role
        self.reason = reason
        self.step = step
        self.dueAt = dueAt
        self.taskId = taskId
        self.acknowledgedBy = acknowledgedBy
        self.acknowledgedAt = acknowledgedAt
        self.escalated = escalated
        self.createdAt = createdAt
        self.status = status
        self.assignedMemberId = assignedMemberId
        self.supersededReason = supersededReason
    }
}

/// A note (a psychotherapy note to its author only).
public struct Note: Codable, Sendable, Equatable {
    public var id: String
    public var authorId: String
    public var authorName: String?
    public var kind: String
    public var body: String
    public var amendsId: String?
    public var createdAt: Date
    /// Whether a later note amends this one, and which.
    public var isAmended: Bool?
    public var amendedBy: [String]?
    public var enteredInError: EnteredInError?

    public init(
        id: String, authorId: String, authorName: String? = nil, kind: String, body: String, amendsId: String? = nil,
        createdAt: Date, isAmended: Bool? = nil, amendedBy: [String]? = nil, enteredInError: EnteredInError? = nil
    ) {
        self.id = id
        self.authorId = authorId
        self.authorName = authorName
        self.kind = kind
        self.body = body
        self.amendsId = amendsId
        self.createdAt = createdAt
        self.isAmended = isAmended
        self.amendedBy = amendedBy
        self.enteredInError = enteredInError
    }
}

/// A score.
public struct Measurement: Codable, Sendable, Equatable {
    public var id: String
    public var instrument: String
    public var total: Int
    public var items: [Int]?
    public var safetySignal: Bool
    public var takenAt: Date
    public var recordedBy: String?
    /// The severity band by its usual name: "moderately severe".
    public var severity: String?
    public var enteredInError: EnteredInError?

    public init(
        id: String, instrument: String, total: Int, items: [Int]? = nil, safetySignal: Bool, takenAt: Date,
        recordedBy: String? = nil, severity: String? = nil, enteredInError: EnteredInError? = nil
    ) {
        self.id = id
        self.instrument = instrument
        self.total = total
        self.items = items
        self.safetySignal = safetySignal
        self.takenAt = takenAt
        self.recordedBy = recordedBy
        self.severity = severity
        self.enteredInError = enteredInError
    }
}

/// Whether a trial was adequate, and why.
public struct Adequacy: Codable, Sendable, Equatable {
    public var isAdequate: Bool
    public var weeksAtAdequateDose: Double
    public var drugClass: String?
    public var reason: String
    public var inputs: [RuleInput]

    public init(
        isAdequate: Bool, weeksAtAdequateDose: Double, drugClass: String? = nil, reason: String, inputs: [RuleInput]
    ) {
        self.isAdequate = isAdequate
        self.weeksAtAdequateDose = weeksAtAdequateDose
        self.drugClass = drugClass
        self.reason = reason
        self.inputs = inputs
    }
}

/// A treatment trial.
public struct Trial: Codable, Sendable, Equatable {
    /// An outcome entered in error.
    public struct Withdrawn: Codable, Sendable, Equatable {
        public var outcome: String
        public var stoppedOn: String?
        public var reason: String
        public var withdrawnAt: Date
        public var withdrawnBy: String?

        public init(
            outcome: String, stoppedOn: String? = nil, reason: String, withdrawnAt: Date, withdrawnBy: String? = nil
        ) {
            self.outcome = outcome
            self.stoppedOn = stoppedOn
            self.reason = reason
            self.withdrawnAt = withdrawnAt
            self.withdrawnBy = withdrawnBy
        }
    }

    /// A daily dose from a date on (a titration is several).
    public struct DoseStep: Codable, Sendable, Equatable {
        /// YYYY-MM-DD.
        public var from: String
        public var dailyDoseMg: Double

        public init(from: String, dailyDoseMg: Double) {
            self.from = from
            self.dailyDoseMg = dailyDoseMg
        }
    }

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
    /// Outcomes recorded and then entered in error, oldest first.
    public var withdrawnOutcomes: [Withdrawn]?
    /// A medication or augmentation trial's daily doses, oldest first.
    public var doseSteps: [DoseStep]?

    public init(
        id: String, kind: String, drug: String? = nil, therapy: String? = nil, sessions: Int? = nil, startedOn: String,
        stoppedOn: String? = nil, outcome: String? = nil, stopReason: String? = nil, isFailed: Bool,
        adequacy: Adequacy? = nil, enteredInError: EnteredInError? = nil, withdrawnOutcomes: [Withdrawn]? = nil,
        doseSteps: [DoseStep]? = nil
    ) {
        self.doseSteps = doseSteps
        self.id = id
        self.kind = kind
        self.drug = drug
        self.therapy = therapy
        self.sessions = sessions
        self.startedOn = startedOn
        self.stoppedOn = stoppedOn
        self.outcome = outcome
        self.stopReason = stopReason
        self.isFailed = isFailed
        self.adequacy = adequacy
        self.enteredInError = enteredInError
        self.withdrawnOutcomes = withdrawnOutcomes
    }
}

/// A TMS or ECT referral.
public struct Referral: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    public var status: String
    public var targetClinic: String
    public var createdAt: Date
    /// Why a second open referral of the same kind was made.
    public var reason: String?
    public var statusReason: String?
    public var enteredInError: EnteredInError?

    public init(
        id: String, kind: String, status: String, targetClinic: String, createdAt: Date, reason: String? = nil,
        statusReason: String? = nil, enteredInError: EnteredInError? = nil
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.targetClinic = targetClinic
        self.createdAt = createdAt
        self.reason = reason
        self.statusReason = statusReason
        self.enteredInError = enteredInError
    }
}

/// A patient's care plan (its version is the ETag).
public struct CarePlan: Codable, Sendable, Equatable {
    public var patientId: String
    public var version: Int
    public var goals: [String]
    public var problems: [String]
    public var treatmentLine: String
    public var authorId: String?
    public var updatedAt: Date

    public init(
        patientId: String, version: Int, goals: [String], problems: [String], treatmentLine: String,
        authorId: String? = nil, updatedAt: Date
    ) {
        self.patientId = patientId
        self.version = version
        self.goals = goals
        self.problems = problems
        self.treatmentLine = treatmentLine
        self.authorId = authorId
        self.updatedAt = updatedAt
    }
}

/// An open handoff as a patient's summary lists it.
public struct OpenHandoff: Codable, Sendable, Equatable {
    public var id: String
    public var role: String
    public var reason: String
    public var dueAt: Date
    public var taskId: String
    public var escalated: Bool

    public init(id: String, role: String, reason: String, dueAt: Date, taskId: String, escalated: Bool) {
        self.id = id
        self.role = role
        self.reason = reason
        self.dueAt = dueAt
        self.taskId = taskId
        self.escalated = escalated
    }
}

/// GET /v1/patients/{id}: the patient at a glance.
public struct Summary: Codable, Sendable, Equatable {
    /// The care plan's current version.
    public struct Plan: Codable, Sendable, Equatable {
        public var version: Int
        public var goals: [String]
        public var problems: [String]
        public var treatmentLine: String

        public init(version: Int, goals: [String], problems: [String], treatmentLine: String) {
            self.version = version
            self.goals = goals
            self.problems = problems
            self.treatmentLine = treatmentLine
        }
    }

    /// A recent score.
    public struct Score: Codable, Sendable, Equatable {
        public var id: String
        public var instrument: String
        public var total: Int
        public var severity: String?
        public var takenAt: Date
        public var safetySignal: Bool

        public init(
            id: String, instrument: String, total: Int, severity: String? = nil, takenAt: Date, safetySignal: Bool
        ) {
            self.id = id
            self.instrument = instrument
            self.total = total
            self.severity = severity
            self.takenAt = takenAt
            self.safetySignal = safetySignal
        }
    }

    /// Response against the episode's baseline.
    public struct Response: Codable, Sendable, Equatable {
        public var category: String
        public var improvement: Double
        public var isResponse: Bool
        public var isRemission: Bool
        public var inputs: [RuleInput]

        public init(category: String, improvement: Double, isResponse: Bool, isRemission: Bool, inputs: [RuleInput]) {
            self.category = category
            self.improvement = improvement
            self.isResponse = isResponse
            self.isRemission = isRemission
            self.inputs = inputs
        }
    }

    /// Treatment-resistant depression.
    public struct TRD: Codable, Sendable, Equatable {
        public var isTrd: Bool
        public var failedTrials: Int
        public var distinctClasses: Int
        public var inputs: [RuleInput]

        public init(isTrd: Bool, failedTrials: Int, distinctClasses: Int, inputs: [RuleInput]) {
            self.isTrd = isTrd
            self.failedTrials = failedTrials
            self.distinctClasses = distinctClasses
            self.inputs = inputs
        }
    }

    /// A staging result.
    public struct Stage: Codable, Sendable, Equatable {
        public var stage: String
        public var inputs: [RuleInput]

        public init(stage: String, inputs: [RuleInput]) {
            self.stage = stage
            self.inputs = inputs
        }
    }

    /// The Maudsley Staging Method.
    public struct Maudsley: Codable, Sendable, Equatable {
        public var total: Int
        public var band: String
        public var inputs: [RuleInput]

        public init(total: Int, band: String, inputs: [RuleInput]) {
            self.total = total
            self.band = band
            self.inputs = inputs
        }
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

    public init(
        id: String, teamId: String, mrn: String, displayName: String, status: String, enrolledOn: String,
        carePlan: Plan, scores: [Score], response: Response? = nil, trials: [Trial], trd: TRD, thaseRush: Stage,
        maudsley: Maudsley? = nil, referrals: [Referral], openTasks: [TaskItem], openHandoffs: [OpenHandoff],
        recentNotes: [Note]
    ) {
        self.id = id
        self.teamId = teamId
        self.mrn = mrn
        self.displayName = displayName
        self.status = status
        self.enrolledOn = enrolledOn
        self.carePlan = carePlan
        self.scores = scores
        self.response = response
        self.trials = trials
        self.trd = trd
        self.thaseRush = thaseRush
        self.maudsley = maudsley
        self.referrals = referrals
        self.openTasks = openTasks
        self.openHandoffs = openHandoffs
        self.recentNotes = recentNotes
    }
}

/// What a POST that creates something returns.
public struct Created: Codable, Sendable, Equatable {
    public var id: String
    public var handoffIds: [String]?
    /// A score's severity band ("moderately severe").
    public var severity: String?

    public init(id: String, handoffIds: [String]? = nil, severity: String? = nil) {
        self.id = id
        self.handoffIds = handoffIds
        self.severity = severity
    }
}

/// A status move's answer: the open handoffs it superseded (and, for a discharge, the tasks cancelled).
public struct Moved: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var supersededHandoffIds: [String]
    public var cancelledTaskIds: [String]?

    public init(id: String, status: String, supersededHandoffIds: [String], cancelledTaskIds: [String]? = nil) {
        self.id = id
        self.status = status
        self.supersededHandoffIds = supersededHandoffIds
        self.cancelledTaskIds = cancelledTaskIds
    }
}

/// A record marked entered in error.
public struct Correction: Codable, Sendable, Equatable {
    public var id: String
    public var record: String
    public var patientId: String
    public var enteredInError: EnteredInError?
    public var supersededHandoffIds: [String]
    public var trdWithdrawn: Bool

    public init(
        id: String, record: String, patientId: String, enteredInError: EnteredInError? = nil,
        supersededHandoffIds: [String], trdWithdrawn: Bool
    ) {
        self.id = id
        self.record = record
        self.patientId = patientId
        self.enteredInError = enteredInError
        self.supersededHandoffIds = supersededHandoffIds
        self.trdWithdrawn = trdWithdrawn
    }
}

/// What recording a trial's outcome answers.
public struct TrialOutcomeResult: Codable, Sendable, Equatable {
    public var trialId: String
    public var outcome: String
    public var isFailed: Bool
    public var trdReached: Bool
    public var adequacy: Adequacy?
    /// Handoffs made.
    public var handoffIds: [String]
    /// Open one-per-patient handoffs this failure joined as one more cause (none from an older server).
    public var joinedHandoffIds: [String]?

    public init(
        trialId: String, outcome: String, isFailed: Bool, trdReached: Bool, adequacy: Adequacy? = nil,
        handoffIds: [String], joinedHandoffIds: [String]? = nil
    ) {
        self.joinedHandoffIds = joinedHandoffIds
        self.trialId = trialId
        self.outcome = outcome
        self.isFailed = isFailed
        self.trdReached = trdReached
        self.adequacy = adequacy
        self.handoffIds = handoffIds
    }
}

/// PUT /v1/patients/{id}/birth-date's answer.
public struct BirthDateRecorded: Codable, Sendable, Equatable {
    public var patientId: String
    public var birthDate: String?
}

/// POST /v1/patients/{id}/prior-auth-statements' answer.
public struct StatementRecorded: Codable, Sendable, Equatable {
    public var id: String
    public var patientId: String
    public var key: String
}

/// POST /v1/tasks/{id}/contraindication-screen's answer: the findings (the contraindications
/// found present; none is a negative screen).
public struct ScreenRecorded: Codable, Sendable, Equatable {
    public var screenId: String
    public var treatment: String
    public var findings: [String]
}
