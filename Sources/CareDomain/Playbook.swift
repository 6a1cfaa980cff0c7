import Foundation

/// The event types of the log that the rules and the playbook know.
/// Every kind of event the log holds (docs/domain.md, "The event log"), by the name it is
/// stored and published under.
public enum EventType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case teamCreated = "team.created"
    /// A team's admin changed its time zone (docs/time-zones.md).
    case teamTimeZoneChanged = "team.time_zone_changed"
    case memberCreated = "member.created"
    /// A member was taken off a team by its admin (their tasks there went back to the pools).
    case memberRemoved = "member.removed"
    /// A member's roles on a team changed, or an existing member joined another team.
    case memberRolesChanged = "member.roles_changed"
    case tokenIssued = "token.issued"
    case tokenRevoked = "token.revoked"
    case patientEnrolled = "patient.enrolled"
    case patientStatusChanged = "patient.status_changed"
    case trdReached = "patient.trd_reached"
    /// The patient no longer meets the TRD definition (a failed trial was entered in error).
    case trdWithdrawn = "patient.trd_withdrawn"
    case carePlanUpdated = "care_plan.updated"
    case taskCreated = "task.created"
    case taskAssigned = "task.assigned"
    case taskClaimed = "task.claimed"
    case taskStarted = "task.started"
    case taskHeld = "task.held"
    case taskResumed = "task.resumed"
    case taskCompleted = "task.completed"
    case taskCancelled = "task.cancelled"
    case taskFailed = "task.failed"
    /// Its owner left the team: back in the pool of its role, requested again.
    case taskReleased = "task.released"
    case noteAdded = "note.added"
    case noteAmended = "note.amended"
    case noteEnteredInError = "note.entered_in_error"
    case measurementRecorded = "measurement.recorded"
    case measurementEnteredInError = "measurement.entered_in_error"
    case trialStarted = "trial.started"
    case trialDoseChanged = "trial.dose_changed"
    case trialOutcomeRecorded = "trial.outcome_recorded"
    case trialFailed = "trial.failed"
    case trialOutcomeEnteredInError = "trial.outcome_entered_in_error"
    case trialEnteredInError = "trial.entered_in_error"
    case referralMade = "referral.made"
    case referralStatusChanged = "referral.status_changed"
    case referralEnteredInError = "referral.entered_in_error"
    case handoffCreated = "handoff.created"
    case handoffAcknowledged = "handoff.acknowledged"
    case handoffEscalated = "handoff.escalated"
    case handoffReassigned = "handoff.reassigned"
    /// Its cause was withdrawn: the handoff's task is closed as cancelled, never deleted.
    case handoffSuperseded = "handoff.superseded"
    /// A later cause attached to a one-per-patient handoff that was still open.
    case handoffCauseAdded = "handoff.cause_added"
    /// A prior-authorisation packet was sent to the payer, approved (with sessions) or denied
    /// (with the payer's reason): docs/prior-authorisation.md, "The authorisation's life".
    case priorAuthSubmitted = "prior_auth.submitted"
    case priorAuthApproved = "prior_auth.approved"
    case priorAuthDenied = "prior_auth.denied"

    /// Its stored name ("trial.failed"), wherever it is written into text.
    public var description: String { rawValue }

    /// The note events that carry a note's kind (psychotherapy ones are shown to their author only).
    public static let noteEvents: [EventType] = [.noteAdded, .noteAmended, .noteEnteredInError]

    /// Every type an integration can subscribe to: the events of a team and its patients.
    /// (Token events name no team and stay in the log only.)
    public static let integration: [EventType] = allCases.filter { $0 != .tokenIssued && $0 != .tokenRevoked }
}

/// When a playbook step applies to an event of its type.
public enum PlaybookCondition: Sendable, Equatable, Codable {
    case always
    case referralKind(ReferralKind)
    /// A PHQ-9 whose item 9 is above 0.
    case safetySignal
}

/// One step of the playbook: an event of `event` (meeting `condition`) gives `role` a handoff.
public struct PlaybookStep: Sendable, Equatable, Codable {
    /// Stable key; a handoff is made once per (event, step key).
    public var key: String
    public var event: EventType
    public var condition: PlaybookCondition
    public var role: Role
    public var title: String
    public var priority: TaskPriority
    public var dueInHours: Int
    /// One open piece of work per patient: a later cause attaches to the open handoff (its
    /// causes list grows) instead of making another.
    public var onePerPatient: Bool

    public init(
        key: String, event: EventType, condition: PlaybookCondition = .always, role: Role, title: String,
        priority: TaskPriority = .routine, dueInHours: Int, onePerPatient: Bool = false
    ) {
        self.key = key
        self.event = event
        self.condition = condition
        self.role = role
        self.title = title
        self.priority = priority
        self.dueInHours = dueInHours
        self.onePerPatient = onePerPatient
    }

    enum CodingKeys: String, CodingKey { case key, event, condition, role, title, priority, dueInHours, onePerPatient }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            key: try c.decode(String.self, forKey: .key), event: try c.decode(EventType.self, forKey: .event),
            condition: try c.decode(PlaybookCondition.self, forKey: .condition),
            role: try c.decode(Role.self, forKey: .role),
            title: try c.decode(String.self, forKey: .title),
            priority: try c.decode(TaskPriority.self, forKey: .priority),
            dueInHours: try c.decode(Int.self, forKey: .dueInHours),
            onePerPatient: try c.decodeIfPresent(Bool.self, forKey: .onePerPatient) ?? false)
    }
}

/// What the playbook is told about an event.
public struct PlaybookEvent: Sendable, Equatable {
    public var type: EventType
    public var occurredAt: Date
    public var referralKind: ReferralKind?
    public var safetySignal: Bool
    /// What happened in a clinician's words ("sertraline, non-response after 8 weeks at 100 mg"),
    /// after the event's own name in a handoff's reason ("Failed trial: ...", see Wording.swift).
    public var summary: String
    /// The record the event is about (the trial, referral, score, or escalated handoff): when it
    /// is withdrawn, the handoffs it caused are superseded.
    public var subjectID: UUID?

    public init(
        type: EventType, occurredAt: Date, referralKind: ReferralKind? = nil, safetySignal: Bool = false,
        summary: String,
        subjectID: UUID? = nil
    ) {
        self.type = type
        self.occurredAt = occurredAt
        self.referralKind = referralKind
        self.safetySignal = safetySignal
        self.summary = summary
        self.subjectID = subjectID
    }
}

/// A handoff the playbook asks for; the store turns it into a task in the role's pool.
public struct HandoffPlan: Sendable, Equatable {
    public var stepKey: String
    public var role: Role
    public var title: String
    public var reason: String
    public var priority: TaskPriority
    public var due: Date
    public var onePerPatient: Bool

    /// The title of a handoff with `causes` causes: the step's title, saying how many when more than one.
    public static func title(_ base: String, causes: Int) -> String {
        causes > 1 ? "\(base) (\(causes) causes)" : base
    }
}

/// The handoff playbook: data, seeded with docs/domain.md's defaults and editable by an admin.
public struct Playbook: Sendable, Equatable, Codable {
    public var steps: [PlaybookStep]

    public init(steps: [PlaybookStep]) { self.steps = steps }

    /// The keys of the one-per-patient steps that events of these types can reach, whatever
    /// their conditions: what a command reads ahead, under the patient's lock, to find the open
    /// handoffs a new cause would join.
    public func onePerPatientSteps(for types: [EventType]) -> [String] {
        steps.filter { $0.onePerPatient && types.contains($0.event) }.map(\.key)
    }

    /// The handoffs `event` produces, one per matching step.
    public func handoffs(for event: PlaybookEvent) -> [HandoffPlan] {
        steps.filter { step in
            guard step.event == event.type else { return false }
            switch step.condition {
            case .always: return true
            case .referralKind(let kind): return event.referralKind == kind
            case .safetySignal: return event.safetySignal
            }
        }
        .map { step in
            HandoffPlan(
                stepKey: step.key, role: step.role, title: step.title,
                reason: "\(event.type.inWords): \(event.summary)", priority: step.priority,
                due: event.occurredAt.addingTimeInterval(Double(step.dueInHours) * 3600),
                onePerPatient: step.onePerPatient)
        }
    }

    public static let `default` = Playbook(steps: [
        // A trial fails.
        PlaybookStep(
            key: "trial-failed.next-step", event: EventType.trialFailed, role: .psychiatrist,
            title: "Plan the next treatment step: optimise, switch, augment or refer", priority: .urgent,
            dueInHours: 72,
            onePerPatient: true),
        PlaybookStep(
            key: "trial-failed.psychotherapy-review", event: EventType.trialFailed, role: .psychologist,
            title: "Review psychotherapy: adequacy, augmentation with CBT or behavioural activation", dueInHours: 168,
            onePerPatient: true),
        PlaybookStep(
            key: "trial-failed.barriers", event: EventType.trialFailed, role: .socialWorker,
            title: "Screen for barriers: adherence, money, housing, support", dueInHours: 168, onePerPatient: true),
        // The patient now meets the TRD definition.
        PlaybookStep(
            key: "trd.evaluate-neuromodulation", event: EventType.trdReached, role: .psychiatrist,
            title: "Evaluate for TMS, ECT or esketamine", priority: .urgent, dueInHours: 168, onePerPatient: true),
        // A TMS referral is made.
        PlaybookStep(
            key: "tms.prior-authorisation", event: EventType.referralMade, condition: .referralKind(.tms),
            role: .socialWorker,
            title:
                """
                Insurance prior authorisation for TMS: every prior trial with drug, class, dates, dose, weeks at dose, \
                reason stopped, PHQ-9 before and after
                """,
            priority: .urgent, dueInHours: 72),
        PlaybookStep(
            key: "tms.transport", event: EventType.referralMade, condition: .referralKind(.tms), role: .socialWorker,
            title: "Arrange transport for daily TMS sessions (20-36 sessions over 4-6 weeks)", dueInHours: 168),
        PlaybookStep(
            key: "tms.contraindications", event: EventType.referralMade, condition: .referralKind(.tms),
            role: .psychiatrist,
            title:
                """
                Screen for TMS contraindications: metal implants, devices, seizure risk, medicines that lower the \
                seizure threshold
                """,
            priority: .urgent, dueInHours: 72),
        PlaybookStep(
            key: "tms.education", event: EventType.referralMade, condition: .referralKind(.tms), role: .psychologist,
            title: "TMS education and continued therapy during the course", dueInHours: 168),
        // An ECT referral is made.
        PlaybookStep(
            key: "ect.authorisation-transport", event: EventType.referralMade, condition: .referralKind(.ect),
            role: .socialWorker,
            title: "ECT prior authorisation, escort and transport (no driving during the course), work or leave letter",
            priority: .urgent, dueInHours: 72),
        PlaybookStep(
            key: "ect.workup", event: EventType.referralMade, condition: .referralKind(.ect), role: .psychiatrist,
            title:
                """
                ECT medical and anaesthesia workup, labs, taper of interfering medicines (benzodiazepines, \
                anticonvulsants)
                """,
            priority: .urgent, dueInHours: 72),
        PlaybookStep(
            key: "ect.consent-cognition", event: EventType.referralMade, condition: .referralKind(.ect),
            role: .psychologist,
            title: "ECT consent support and a baseline cognitive assessment", dueInHours: 120),
        // A PHQ-9 with item 9 above 0: same-day safety assessment.
        PlaybookStep(
            key: "safety.psychiatrist", event: EventType.measurementRecorded, condition: .safetySignal,
            role: .psychiatrist,
            title: "Urgent safety assessment (PHQ-9 item 9 above 0)", priority: .stat, dueInHours: 8),
        PlaybookStep(
            key: "safety.psychologist", event: EventType.measurementRecorded, condition: .safetySignal,
            role: .psychologist,
            title: "Urgent safety assessment (PHQ-9 item 9 above 0)", priority: .stat, dueInHours: 8),
        // A handoff not acknowledged in time.
        PlaybookStep(
            key: "escalation.follow-up", event: EventType.handoffEscalated, role: .careManager,
            title: "Follow up an overdue handoff with the team", priority: .urgent, dueInHours: 24),
        // A payer denied a prior authorisation: both answers start at once.
        PlaybookStep(
            key: "prior-auth-denied.peer-review", event: EventType.priorAuthDenied, role: .psychiatrist,
            title: "Request a peer-to-peer review with the payer about the denied prior authorisation",
            priority: .urgent, dueInHours: 72),
        PlaybookStep(
            key: "prior-auth-denied.appeal", event: EventType.priorAuthDenied, role: .socialWorker,
            title: "Appeal the denied prior authorisation: answer the payer's reason with a new packet",
            priority: .urgent, dueInHours: 72),
    ])
}
