import CareDomain
import CareStore
import CareWire
import Foundation

// What the API returns: the store's values in the API's shape (see Wire for the conventions).

// The resources themselves are CareWire's (one definition with the CLI); here they are made of
// the store's values. The old names stay as this module's names for them.

typealias RuleInput = CareWire.RuleInput
typealias PatientOut = CareWire.Patient
typealias TaskOut = CareWire.TaskItem
typealias EnteredInErrorOut = CareWire.EnteredInError
typealias NoteOut = CareWire.Note
typealias MeasurementOut = CareWire.Measurement
typealias AdequacyOut = CareWire.Adequacy
typealias TrialOut = CareWire.Trial
typealias ReferralOut = CareWire.Referral
typealias HandoffOut = CareWire.Handoff
typealias OpenHandoffOut = CareWire.OpenHandoff
typealias CarePlanOut = CareWire.CarePlan
typealias SummaryOut = CareWire.Summary
typealias Created = CareWire.Created
typealias CorrectionOut = CareWire.Correction
typealias Moved = CareWire.Moved
typealias OutcomeOut = CareWire.TrialOutcomeResult
typealias ListPage = CareWire.Page

extension CareWire.RuleInput: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { o in
            o.member("name") { $0.string(name) }
            o.member("value") { $0.string(value) }
        }
    }
}

extension RuleInputs {
    var wire: [CareWire.RuleInput] { entries.map { CareWire.RuleInput(name: $0.name, value: $0.value) } }
}

extension CareWire.Patient {
    init(_ p: PatientListItem) {
        self.init(
            id: p.id.lower, teamId: p.teamID.lower, mrn: p.mrn, displayName: p.displayName, status: p.status.rawValue,
            enrolledOn: Day(p.enrolledOn).text,
            latestPhq9: p.latestPHQ9.map {
                LatestScore(
                    total: $0.total, severity: Score.band(.phq9, total: $0.total), takenAt: $0.takenAt,
                    safetySignal: $0.safetySignal)
            }, isTrd: p.isTRD, openItems: p.openItems)
    }
}

extension CareWire.TaskItem: JSONWritable {
    init(_ t: TaskSummary) {
        self.init(
            id: t.id.lower, patientId: t.patientID.lower, title: t.title, status: t.status.rawValue,
            priority: t.priority.rawValue, ownerId: t.ownerID?.lower, poolRole: t.poolRole?.rawValue, dueAt: t.dueAt,
            notBefore: t.notBefore, handoffId: t.handoffID?.lower, statusReason: t.statusReason, evidence: t.evidence,
            causes: t.causes?.map {
                Cause(eventId: $0.eventID, summary: $0.summary, addedAt: $0.addedAt, withdrawnAt: $0.withdrawnAt)
            }, step: t.stepKey)
    }

    /// By hand: the queue is the most read list (50 of these a page); see JSONWriter.
    func write(to json: inout JSONWriter) {
        json.object { o in
            o.optional("causes", causes) { json, causes in json.array(causes) { $1.write(to: &$0) } }
            o.optional("due_at", dueAt) { $0.date($1) }
            o.optional("evidence", evidence) { $0.string($1) }
            o.optional("handoff_id", handoffId) { $0.string($1) }
            o.member("id") { $0.string(id) }
            o.optional("not_before", notBefore) { $0.date($1) }
            o.optional("owner_id", ownerId) { $0.string($1) }
            o.member("patient_id") { $0.string(patientId) }
            o.optional("pool_role", poolRole) { $0.string($1) }
            o.member("priority") { $0.string(priority) }
            o.member("status") { $0.string(status) }
            o.optional("status_reason", statusReason) { $0.string($1) }
            o.optional("step", step) { $0.string($1) }
            o.member("title") { $0.string(title) }
        }
    }
}

extension CareWire.TaskItem.Cause: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { o in
            o.member("added_at") { $0.date(addedAt) }
            o.member("event_id") { $0.int(Int(eventId)) }
            o.member("summary") { $0.string(summary) }
            o.optional("withdrawn_at", withdrawnAt) { $0.date($1) }
        }
    }
}

extension CareWire.EnteredInError {
    /// A record's mark, as every record that has one answers it.
    init?(_ mark: StoreEnteredInError?) {
        guard let mark else { return nil }
        self.init(at: mark.at, by: mark.by?.lower, reason: mark.reason)
    }
}

extension CareWire.Note {
    init(_ n: NoteSummary) {
        self.init(
            id: n.id.lower, authorId: n.authorID.lower, authorName: n.authorName, kind: n.kind.rawValue, body: n.body,
            amendsId: n.amends?.lower, createdAt: n.createdAt, isAmended: !n.amendedBy.isEmpty,
            amendedBy: n.amendedBy.map(\.lower), enteredInError: CareWire.EnteredInError(n.enteredInError))
    }
}

extension CareWire.Measurement {
    init(_ m: MeasurementItem) {
        self.init(
            id: m.id.lower, instrument: m.instrument.rawValue, total: m.total, items: m.items,
            safetySignal: m.safetySignal, takenAt: m.takenAt, recordedBy: m.recordedBy?.lower, severity: m.band,
            enteredInError: CareWire.EnteredInError(m.enteredInError))
    }
}

extension CareWire.Adequacy: JSONWritable {
    init(_ a: AdequacyAssessment) {
        self.init(
            isAdequate: a.isAdequate, weeksAtAdequateDose: (a.weeksAtAdequateDose * 10).rounded() / 10,
            drugClass: a.drugClass?.rawValue, reason: a.reason, inputs: a.inputs.wire)
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

extension CareWire.Trial {
    init(_ t: TrialSummary) {
        self.init(
            id: t.id.lower, kind: t.kind.rawValue, drug: t.drug, therapy: t.therapy, sessions: t.sessions,
            startedOn: Day(t.startedOn).text, stoppedOn: t.stoppedOn.map { Day($0).text }, outcome: t.outcome?.rawValue,
            stopReason: t.stopReason, isFailed: t.isFailed, adequacy: t.adequacy.map(CareWire.Adequacy.init),
            enteredInError: CareWire.EnteredInError(t.enteredInError),
            withdrawnOutcomes: t.withdrawnOutcomes.map {
                Withdrawn(
                    outcome: $0.outcome, stoppedOn: $0.stoppedOn, reason: $0.reason, withdrawnAt: $0.withdrawnAt,
                    withdrawnBy: $0.withdrawnBy?.lower)
            },
            doseSteps: t.doses.isEmpty
                ? nil : t.doses.map { DoseStep(from: Day($0.from).text, dailyDoseMg: $0.dailyDoseMg) })
    }
}

extension CareWire.Referral {
    init(_ r: ReferralSummary) {
        self.init(
            id: r.id.lower, kind: r.kind.rawValue, status: r.status.rawValue, targetClinic: r.targetClinic,
            createdAt: r.createdAt, reason: r.reason, statusReason: r.statusReason,
            enteredInError: CareWire.EnteredInError(r.enteredInError))
    }
}

extension CareWire.Handoff {
    init(_ h: HandoffItem) {
        self.init(
            id: h.id.lower, patientId: h.patientID.lower, role: h.role.rawValue, reason: h.reason, step: h.stepKey,
            dueAt: h.dueAt, taskId: h.taskID.lower, acknowledgedBy: h.acknowledgedBy?.lower,
            acknowledgedAt: h.acknowledgedAt, escalated: h.escalated, createdAt: h.createdAt,
            status: h.supersededAt != nil
                ? "superseded"
                : !h.taskStatus.isOpen ? h.taskStatus.rawValue : h.acknowledgedAt != nil ? "acknowledged" : "open",
            assignedMemberId: h.assignedTo?.lower, supersededReason: h.supersededReason)
    }
}

extension CareWire.OpenHandoff {
    init(_ h: HandoffSummary) {
        self.init(
            id: h.id.lower, role: h.role.rawValue, reason: h.reason, dueAt: h.dueAt, taskId: h.taskID.lower,
            escalated: h.escalated)
    }
}

extension CareWire.CarePlan {
    init(_ p: StoreCarePlan) {
        self.init(
            patientId: p.patientID.lower, version: p.version, goals: p.content.goals, problems: p.content.problems,
            treatmentLine: p.content.treatmentLine, authorId: p.authorID?.lower, updatedAt: p.updatedAt)
    }
}

extension CareWire.Summary {
    init(_ s: PatientSummary) {
        self.init(
            id: s.id.lower, teamId: s.teamID.lower, mrn: s.mrn, displayName: s.displayName, status: s.status.rawValue,
            enrolledOn: Day(s.enrolledOn).text,
            carePlan: Plan(
                version: s.planVersion, goals: s.plan.goals, problems: s.plan.problems,
                treatmentLine: s.plan.treatmentLine),
            scores: s.scores.map {
                Score(
                    id: $0.id.lower, instrument: $0.instrument.rawValue, total: $0.total, severity: $0.band,
                    takenAt: $0.takenAt, safetySignal: $0.safetySignal)
            },
            response: s.response.map {
                Response(
                    category: $0.category.rawValue, improvement: ($0.improvement * 1000).rounded() / 1000,
                    isResponse: $0.isResponse, isRemission: $0.isRemission, inputs: $0.inputs.wire)
            },
            trials: s.trials.map(CareWire.Trial.init),
            trd: TRD(
                isTrd: s.trd.isTRD, failedTrials: s.trd.failedTrials, distinctClasses: s.trd.distinctClasses,
                inputs: s.trd.inputs.wire),
            thaseRush: Stage(stage: s.thaseRush.stage.label, inputs: s.thaseRush.inputs.wire),
            maudsley: s.maudsley.map { Maudsley(total: $0.total, band: $0.band.rawValue, inputs: $0.inputs.wire) },
            referrals: s.referrals.map(CareWire.Referral.init), openTasks: s.openTasks.map(CareWire.TaskItem.init),
            openHandoffs: s.openHandoffs.map(CareWire.OpenHandoff.init),
            recentNotes: s.recentNotes.map(CareWire.Note.init))
    }
}

extension CareWire.Correction {
    /// What marking a record entered in error answers.
    init(_ c: StoreCorrection) {
        self.init(
            id: c.id.lower, record: c.record.rawValue, patientId: c.patientID.lower,
            enteredInError: CareWire.EnteredInError(at: c.at, by: c.by?.lower, reason: c.reason),
            supersededHandoffIds: c.supersededHandoffIDs.map(\.lower), trdWithdrawn: c.trdWithdrawn)
    }
}

extension CareWire.TrialOutcomeResult: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { o in
            o.optional("adequacy", adequacy) { $1.write(to: &$0) }
            o.member("handoff_ids") { $0.array(handoffIds) { $0.string($1) } }
            o.member("is_failed") { $0.bool(isFailed) }
            o.optional("joined_handoff_ids", joinedHandoffIds) { json, ids in json.array(ids) { $0.string($1) } }
            o.member("outcome") { $0.string(outcome) }
            o.member("trd_reached") { $0.bool(trdReached) }
            o.member("trial_id") { $0.string(trialId) }
        }
    }
}

extension PatientEvent {
    init(_ e: FeedEvent) {
        self.init(
            id: e.id, type: e.type, teamId: e.teamID?.lower, patientId: e.patientID?.lower, actorId: e.actorID?.lower,
            occurredAt: e.occurredAt, payload: e.payload)
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

extension Team {
    init(_ m: TeamMembership) {
        self.init(id: m.teamID.lower, name: m.name, roles: m.roles.map(\.rawValue).sorted(), timeZone: m.timeZone)
    }
}

extension Member {
    init(_ m: TeamMemberItem) {
        self.init(
            id: m.id.lower, displayName: m.displayName, email: m.email, isServiceAccount: m.isServiceAccount,
            roles: m.roles.map(\.rawValue).sorted())
    }
}

extension Webhook {
    init(_ s: WebhookSubscription) {
        self.init(
            id: s.id.lower, url: s.url, eventTypes: s.eventTypes, teamId: s.teamID?.lower, description: s.description,
            status: s.status.rawValue, disabledReason: s.disabledReason, createdAt: s.createdAt, updatedAt: s.updatedAt,
            secret: s.secret)
    }
}

extension Delivery {
    init(_ d: WebhookDelivery) {
        self.init(
            id: d.id.lower, webhookId: d.subscriptionID.lower, eventId: String(d.eventID), eventType: d.eventType,
            status: d.status.rawValue, attempts: d.attempts, nextAttemptAt: d.nextAttemptAt,
            lastAttemptAt: d.lastAttemptAt, lastStatus: d.lastStatus, lastError: d.lastError,
            deliveredAt: d.deliveredAt, createdAt: d.createdAt)
    }
}
