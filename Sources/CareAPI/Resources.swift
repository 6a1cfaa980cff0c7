import CareDomain
import CareStore
import Foundation

// What the API returns: the store's values in the API's shape (see Wire for the conventions).

struct RuleInput: Codable, Sendable, JSONWritable {
    var name: String
    var value: String

    func write(to json: inout JSONWriter) {
        json.object { o in
            o.member("name") { $0.string(name) }
            o.member("value") { $0.string(value) }
        }
    }
}

extension RuleInputs {
    var wire: [RuleInput] { entries.map { RuleInput(name: $0.name, value: $0.value) } }
}

struct PatientOut: Encodable, Sendable {
    var id: String
    var teamId: String
    var mrn: String
    var displayName: String
    var status: String
    var enrolledOn: Day

    init(_ p: PatientListItem) {
        id = p.id.lower; teamId = p.teamID.lower; mrn = p.mrn; displayName = p.displayName; status = p.status.rawValue;
        enrolledOn = Day(p.enrolledOn)
    }
}

struct TaskOut: Encodable, Sendable, JSONWritable {
    var id: String
    var patientId: String
    var title: String
    var status: String
    var priority: String
    var ownerId: String?
    var poolRole: String?
    var dueAt: Date?
    var notBefore: Date?
    var handoffId: String?
    var statusReason: String?
    /// A handoff's causes (GET /v1/tasks/{id} only).
    var causes: [CauseOut]?

    struct CauseOut: Encodable, Sendable, JSONWritable {
        var eventId: Int64
        var summary: String
        var addedAt: Date
        var withdrawnAt: Date?

        func write(to json: inout JSONWriter) {
            json.object { o in
                o.member("added_at") { $0.date(addedAt) }
                o.member("event_id") { $0.int(Int(eventId)) }
                o.member("summary") { $0.string(summary) }
                o.optional("withdrawn_at", withdrawnAt) { $0.date($1) }
            }
        }
    }

    init(_ t: TaskSummary) {
        id = t.id.lower; patientId = t.patientID.lower; title = t.title; status = t.status.rawValue;
        priority = t.priority.rawValue
        ownerId = t.ownerID?.lower; poolRole = t.poolRole?.rawValue; dueAt = t.dueAt; notBefore = t.notBefore;
        handoffId = t.handoffID?.lower
        statusReason = t.statusReason
        causes = t.causes?.map {
            CauseOut(eventId: $0.eventID, summary: $0.summary, addedAt: $0.addedAt, withdrawnAt: $0.withdrawnAt)
        }
    }

    /// By hand: the queue is the most read list (50 of these a page).
    func write(to json: inout JSONWriter) {
        json.object { o in
            o.optional("causes", causes) { json, causes in json.array(causes) { $1.write(to: &$0) } }
            o.optional("due_at", dueAt) { $0.date($1) }
            o.optional("handoff_id", handoffId) { $0.string($1) }
            o.member("id") { $0.string(id) }
            o.optional("not_before", notBefore) { $0.date($1) }
            o.optional("owner_id", ownerId) { $0.string($1) }
            o.member("patient_id") { $0.string(patientId) }
            o.optional("pool_role", poolRole) { $0.string($1) }
            o.member("priority") { $0.string(priority) }
            o.member("status") { $0.string(status) }
            o.optional("status_reason", statusReason) { $0.string($1) }
            o.member("title") { $0.string(title) }
        }
    }
}

/// A record's entered-in-error mark, as every record that has one answers it.
struct EnteredInErrorOut: Encodable, Sendable {
    var at: Date
    var by: String?
    var reason: String

    init?(_ mark: EnteredInError?) {
        guard let mark else { return nil }
        at = mark.at; by = mark.by?.lower; reason = mark.reason
    }
}

struct NoteOut: Encodable, Sendable {
    var id: String
    var authorId: String
    var authorName: String
    var kind: String
    var body: String
    var amendsId: String?
    var createdAt: Date
    /// Whether a later note amends this one, and which.
    var isAmended: Bool
    var amendedBy: [String]
    var enteredInError: EnteredInErrorOut?

    init(_ n: NoteSummary) {
        id = n.id.lower; authorId = n.authorID.lower; authorName = n.authorName; kind = n.kind.rawValue; body = n.body;
        amendsId = n.amends?.lower
        createdAt = n.createdAt; isAmended = !n.amendedBy.isEmpty; amendedBy = n.amendedBy.map(\.lower);
        enteredInError = EnteredInErrorOut(n.enteredInError)
    }
}

struct MeasurementOut: Encodable, Sendable {
    var id: String
    var instrument: String
    var total: Int
    var items: [Int]?
    var safetySignal: Bool
    var takenAt: Date
    var recordedBy: String?
    /// The severity band by its usual name: "moderately severe".
    var severity: String
    var enteredInError: EnteredInErrorOut?

    init(_ m: MeasurementItem) {
        id = m.id.lower; instrument = m.instrument.rawValue; total = m.total; items = m.items;
        safetySignal = m.safetySignal; takenAt = m.takenAt; recordedBy = m.recordedBy?.lower
        severity = m.band; enteredInError = EnteredInErrorOut(m.enteredInError)
    }
}

struct AdequacyOut: Encodable, Sendable, JSONWritable {
    var isAdequate: Bool
    var weeksAtAdequateDose: Double
    var drugClass: String?
    var reason: String
    var inputs: [RuleInput]

    init(_ a: AdequacyAssessment) {
        isAdequate = a.isAdequate; weeksAtAdequateDose = (a.weeksAtAdequateDose * 10).rounded() / 10;
        drugClass = a.drugClass?.rawValue; reason = a.reason; inputs = a.inputs.wire
    }

    func write(to json: inout JSONWriter) {
        json.object { o in
            o.optional("drug_class", drugClass) { $0.string($1) }
            o.member("inputs") { $0.array(inputs) { $1.write(to: &$0) } }
            o.member("is_adequate") { $0.bool(isAdequate) }
            o.member("reason") { $0.string(reason) }
            o.member("weeks_at_adequate_dose") { $0.double(weeksAtAdequateDose) }
        }
    }
}

struct TrialOut: Encodable, Sendable {
    struct Withdrawn: Encodable, Sendable {
        var outcome: String; var stoppedOn: String?; var reason: String; var withdrawnAt: Date; var withdrawnBy: String?
    }
    var id: String
    var kind: String
    var drug: String?
    var therapy: String?
    var sessions: Int?
    var startedOn: Day
    var stoppedOn: Day?
    var outcome: String?
    var stopReason: String?
    var isFailed: Bool
    var adequacy: AdequacyOut?
    var enteredInError: EnteredInErrorOut?
    var withdrawnOutcomes: [Withdrawn]

    init(_ t: TrialSummary) {
        id = t.id.lower; kind = t.kind.rawValue; drug = t.drug; therapy = t.therapy; sessions = t.sessions;
        startedOn = Day(t.startedOn)
        stoppedOn = t.stoppedOn.map(Day.init); outcome = t.outcome?.rawValue; stopReason = t.stopReason;
        isFailed = t.isFailed
        adequacy = t.adequacy.map(AdequacyOut.init); enteredInError = EnteredInErrorOut(t.enteredInError)
        withdrawnOutcomes = t.withdrawnOutcomes.map {
            Withdrawn(
                outcome: $0.outcome, stoppedOn: $0.stoppedOn, reason: $0.reason, withdrawnAt: $0.withdrawnAt,
                withdrawnBy: $0.withdrawnBy?.lower)
        }
    }
}

struct ReferralOut: Encodable, Sendable {
    var id: String
    var kind: String
    var status: String
    var targetClinic: String
    var createdAt: Date
    /// Why a second open referral of the same kind was made.
    var reason: String?
    var statusReason: String?
    var enteredInError: EnteredInErrorOut?

    init(_ r: ReferralSummary) {
        id = r.id.lower; kind = r.kind.rawValue; status = r.status.rawValue; targetClinic = r.targetClinic;
        createdAt = r.createdAt
        reason = r.reason; statusReason = r.statusReason; enteredInError = EnteredInErrorOut(r.enteredInError)
    }
}

struct HandoffOut: Encodable, Sendable {
    var id: String
    var patientId: String
    var role: String
    var reason: String
    var step: String
    var dueAt: Date
    var taskId: String
    var acknowledgedBy: String?
    var acknowledgedAt: Date?
    var escalated: Bool
    var createdAt: Date
    /// open, acknowledged, superseded, or the task's own closing status (completed, cancelled, failed).
    var status: String
    var assignedMemberId: String?
    var supersededReason: String?

    init(_ h: HandoffItem) {
        id = h.id.lower; patientId = h.patientID.lower; role = h.role.rawValue; reason = h.reason; step = h.stepKey;
        dueAt = h.dueAt
        taskId = h.taskID.lower; acknowledgedBy = h.acknowledgedBy?.lower; acknowledgedAt = h.acknowledgedAt;
        escalated = h.escalated; createdAt = h.createdAt
        assignedMemberId = h.assignedTo?.lower; supersededReason = h.supersededReason
        status =
            h.supersededAt != nil
            ? "superseded"
            : !h.taskStatus.isOpen ? h.taskStatus.rawValue : h.acknowledgedAt != nil ? "acknowledged" : "open"
    }
}

struct OpenHandoffOut: Encodable, Sendable {
    var id: String
    var role: String
    var reason: String
    var dueAt: Date
    var taskId: String
    var escalated: Bool

    init(_ h: HandoffSummary) {
        id = h.id.lower; role = h.role.rawValue; reason = h.reason; dueAt = h.dueAt; taskId = h.taskID.lower;
        escalated = h.escalated
    }
}

struct CarePlanOut: Encodable, Sendable {
    var patientId: String
    var version: Int
    var goals: [String]
    var problems: [String]
    var treatmentLine: String
    var authorId: String?
    var updatedAt: Date

    init(_ p: CarePlan) {
        patientId = p.patientID.lower; version = p.version; goals = p.content.goals; problems = p.content.problems
        treatmentLine = p.content.treatmentLine; authorId = p.authorID?.lower; updatedAt = p.updatedAt
    }
}

struct EventOut: Encodable, Sendable {
    var id: Int64
    var type: String
    var teamId: String?
    var patientId: String?
    var actorId: String?
    var occurredAt: Date
    var payload: [String: String]

    init(_ e: FeedEvent) {
        id = e.id; type = e.type; teamId = e.teamID?.lower; patientId = e.patientID?.lower; actorId = e.actorID?.lower;
        occurredAt = e.occurredAt; payload = e.payload
    }
}

struct AuditOut: Encodable, Sendable {
    var id: Int64
    var at: Date
    var memberId: String?
    var action: String
    var patientId: String?
    var resource: String
    var outcome: String
    var requestId: String?
    var detail: String?

    init(_ a: AuditItem) {
        id = a.id; at = a.at; memberId = a.memberID?.lower; action = a.action; patientId = a.patientID?.lower;
        resource = a.resource
        outcome = a.outcome; requestId = a.requestID; detail = a.detail
    }
}

struct SummaryOut: Encodable, Sendable {
    struct Response: Encodable, Sendable {
        var category: String
        var improvement: Double
        var isResponse: Bool
        var isRemission: Bool
        var inputs: [RuleInput]
    }
    struct TRD: Encodable, Sendable {
        var isTrd: Bool
        var failedTrials: Int
        var distinctClasses: Int
        var inputs: [RuleInput]
    }
    struct ThaseRush: Encodable, Sendable { var stage: String; var inputs: [RuleInput] }
    struct Maudsley: Encodable, Sendable { var total: Int; var band: String; var inputs: [RuleInput] }
    struct Score: Encodable, Sendable {
        var id: String; var instrument: String; var total: Int; var severity: String; var takenAt: Date;
        var safetySignal: Bool
    }

    var id: String
    var teamId: String
    var mrn: String
    var displayName: String
    var status: String
    var enrolledOn: Day
    var carePlan: Plan
    var scores: [Score]
    var response: Response?
    var trials: [TrialOut]
    var trd: TRD
    var thaseRush: ThaseRush
    var maudsley: Maudsley?
    var referrals: [ReferralOut]
    var openTasks: [TaskOut]
    var openHandoffs: [OpenHandoffOut]
    var recentNotes: [NoteOut]

    struct Plan: Encodable, Sendable {
        var version: Int; var goals: [String]; var problems: [String]; var treatmentLine: String
    }

    init(_ s: PatientSummary) {
        id = s.id.lower; teamId = s.teamID.lower; mrn = s.mrn; displayName = s.displayName; status = s.status.rawValue;
        enrolledOn = Day(s.enrolledOn)
        carePlan = Plan(
            version: s.planVersion, goals: s.plan.goals, problems: s.plan.problems, treatmentLine: s.plan.treatmentLine)
        scores = s.scores.map {
            Score(
                id: $0.id.lower, instrument: $0.instrument.rawValue, total: $0.total, severity: $0.band,
                takenAt: $0.takenAt, safetySignal: $0.safetySignal)
        }
        response = s.response.map {
            Response(
                category: $0.category.rawValue, improvement: ($0.improvement * 1000).rounded() / 1000,
                isResponse: $0.isResponse,
                isRemission: $0.isRemission, inputs: $0.inputs.wire)
        }
        trials = s.trials.map(TrialOut.init)
        trd = TRD(
            isTrd: s.trd.isTRD, failedTrials: s.trd.failedTrials, distinctClasses: s.trd.distinctClasses,
            inputs: s.trd.inputs.wire)
        thaseRush = ThaseRush(stage: s.thaseRush.stage.label, inputs: s.thaseRush.inputs.wire)
        maudsley = s.maudsley.map { Maudsley(total: $0.total, band: $0.band.rawValue, inputs: $0.inputs.wire) }
        referrals = s.referrals.map(ReferralOut.init)
        openTasks = s.openTasks.map(TaskOut.init)
        openHandoffs = s.openHandoffs.map(OpenHandoffOut.init)
        recentNotes = s.recentNotes.map(NoteOut.init)
    }
}

struct TeamOut: Encodable, Sendable { var id: String; var name: String; var roles: [String] }

struct MemberOut: Encodable, Sendable {
    var id: String
    var displayName: String
    var email: String?
    var isServiceAccount: Bool
    var roles: [String]

    init(_ m: TeamMemberItem) {
        id = m.id.lower; displayName = m.displayName; email = m.email; isServiceAccount = m.isServiceAccount;
        roles = m.roles.map(\.rawValue).sorted()
    }
}

/// What a POST that creates something returns.
struct Created: Encodable, Sendable {
    var id: String
    var handoffIds: [String]?
    /// A score's severity band ("moderately severe").
    var severity: String?
}

/// What marking a record entered in error answers.
struct CorrectionOut: Encodable, Sendable {
    var id: String
    var record: String
    var patientId: String
    var enteredInError: EnteredInErrorOut?
    var supersededHandoffIds: [String]
    var trdWithdrawn: Bool

    init(_ c: Correction) {
        id = c.id.lower; record = c.record.rawValue; patientId = c.patientID.lower
        enteredInError = EnteredInErrorOut(EnteredInError(at: c.at, by: c.by, reason: c.reason))
        supersededHandoffIds = c.supersededHandoffIDs.map(\.lower); trdWithdrawn = c.trdWithdrawn
    }
}
