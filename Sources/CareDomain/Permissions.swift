import Foundation

/// What a request may do to a patient's data, decided from the caller's roles on the patient's
/// team (and a service account's scopes). The store checks these inside the transaction; row-level
/// security in PostgreSQL is the second line behind them.
public enum Permission: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Summary, care plan, tasks, notes, scores, trials, referrals, history.
    case readClinical
    /// Enrol a patient, change a patient's status.
    case managePatients
    case recordMeasurement
    case addNote
    case addPsychotherapyNote
    case editCarePlan
    /// Create, claim, start, complete and cancel tasks; acknowledge handoffs.
    case workTasks
    case startMedicationTrial
    case recordMedicationOutcome
    case startPsychotherapyTrial
    case recordPsychotherapyOutcome
    case referNeuromodulation
    case referOther
    case moveReferral
    /// Mark a score, trial, outcome, referral or note entered in error (the record's own rule
    /// then asks who recorded it: RecordPermission.mayMarkEnteredInError).
    case correctRecords
    case readAudit
    case manageTeam
    /// The integration feed (GET /v1/events): ids and types of the team's events.
    case readEvents
    /// Webhook subscriptions that receive the team's events.
    case manageWebhooks
    /// The weekly case-review report: the team's clinicians and the compliance role.
    case readReport
    /// Keep a report as shown in the meeting, and record its recommendations.
    case keepReportSnapshot
    /// See the team's members (anyone on the team).
    case readTeam
    /// Create a new team (an admin of any team).
    case createTeam
    /// FHIR Bulk Data export of the team's patients (docs/fhir.md): service accounts with the
    /// `export` scope. A clinician reads one patient's record whole with Patient/$everything.
    case exportBulk
    /// Complete the TMS or ECT contraindication screen (the psychiatrist's screening handoff).
    case screenContraindications
    /// Record what a payer's prior authorisation reads: a date of birth, a documented statement.
    case documentPriorAuthorisation
    /// Make a prior-authorisation packet and record the payer's answers: the social worker, who
    /// holds the authorisation handoff, and the psychiatrist, who referred.
    case makePriorAuthPacket

    public var description: String { rawValue }

    /// Whether a holder of `roles` on the team (with `scopes`, for a service account) may do this.
    public func allows(roles: Set<Role>, scopes: Set<String> = []) -> Bool {
        let clinical = !roles.isDisjoint(with: Role.clinical)
        let integration = roles.contains(.integration)
        switch self {
        case .readClinical:
            return clinical || (integration && scopes.contains("patients:read"))
        case .managePatients, .recordMeasurement, .addNote, .correctRecords:
            return clinical || (integration && scopes.contains("patients:write"))
        case .addPsychotherapyNote:
            return roles.contains(.psychologist) || roles.contains(.psychiatrist)
        case .editCarePlan, .workTasks, .moveReferral, .referOther:
            return clinical
        case .startMedicationTrial, .recordMedicationOutcome, .referNeuromodulation:
            return roles.contains(.psychiatrist)
        case .startPsychotherapyTrial, .recordPsychotherapyOutcome:
            return roles.contains(.psychologist)
        case .readAudit:
            return roles.contains(.compliance)
        case .manageTeam:
            return roles.contains(.admin)
        case .readEvents:
            return clinical || (integration && scopes.contains("events:read"))
        case .manageWebhooks:
            return integration && scopes.contains("webhooks:manage")
        case .readReport:
            return clinical || (integration && scopes.contains("patients:read")) || roles.contains(.compliance)
        case .keepReportSnapshot:
            return clinical
        case .readTeam:
            return !roles.isEmpty
        case .createTeam:
            return roles.contains(.admin)
        case .exportBulk:
            return integration && scopes.contains("export")
        case .screenContraindications:
            return roles.contains(.psychiatrist)
        case .documentPriorAuthorisation:
            return clinical
        case .makePriorAuthPacket:
            return roles.contains(.socialWorker) || roles.contains(.psychiatrist)
        }
    }

    /// The sentence a refused caller reads.
    public var refusal: String {
        switch self {
        case .readClinical: "your roles on this team do not include reading clinical content"
        case .managePatients: "your roles on this team do not include enrolling or discharging patients"
        case .recordMeasurement: "your roles on this team do not include recording scores"
        case .addNote: "your roles on this team do not include adding notes"
        case .addPsychotherapyNote: "only psychologists and psychiatrists write psychotherapy notes"
        case .editCarePlan: "only the team's clinicians edit the care plan"
        case .workTasks: "only the team's clinicians work tasks and handoffs"
        case .startMedicationTrial: "only psychiatrists start medication, augmentation and neuromodulation trials"
        case .recordMedicationOutcome: "only psychiatrists record medication trial outcomes"
        case .startPsychotherapyTrial: "only psychologists start psychotherapy trials"
        case .recordPsychotherapyOutcome: "only psychologists record psychotherapy trial outcomes"
        case .referNeuromodulation: "only psychiatrists make TMS, ECT and esketamine referrals"
        case .referOther: "only the team's clinicians make referrals"
        case .moveReferral: "only the team's clinicians move referrals"
        case .correctRecords: "your roles on this team do not include correcting records"
        case .readAudit: "only the compliance role reads the audit trail"
        case .manageTeam: "only the team's admins manage its members"
        case .readEvents:
            "reading the event feed needs a clinical role on the team, or a service account with the events:read scope"
        case .manageWebhooks: "webhook subscriptions belong to service accounts with the webhooks:manage scope"
        case .readReport: "the weekly report is for the team's clinicians and the compliance role"
        case .keepReportSnapshot: "snapshots and recommendations are kept by the team's clinicians"
        case .readTeam: "only the team's members see its members"
        case .createTeam: "only admins create teams"
        case .exportBulk: "bulk export is for service accounts with the export scope"
        case .screenContraindications: "only psychiatrists complete the contraindication screen"
        case .documentPriorAuthorisation: "only the team's clinicians document for a prior authorisation"
        case .makePriorAuthPacket:
            "prior-authorisation packets are made and moved by the social worker or the psychiatrist"
        }
    }

    /// The one decision (docs/architecture.md, "One gate"): may a holder of `roles` and
    /// `scopes` on the team do this, and, with `record`, to that record? Every store command
    /// asks it, in its own transaction, through `CommandContext.authorize`.
    public static func decide(
        _ permission: Permission, roles: Set<Role>, scopes: Set<String>, memberID: UUID, record: RecordRule? = nil
    ) -> Decision {
        guard permission.allows(roles: roles, scopes: scopes) else { return .refused(permission.refusal) }
        switch record {
        case nil:
            return .allowed
        case .handoff(let role, let assignedTo):
            return RecordPermission.mayWorkHandoff(
                roles: roles, memberID: memberID, handoffRole: role, assignedTo: assignedTo)
                ? .allowed : .refused(RecordPermission.handoffRefusal(handoffRole: role, assignedTo: assignedTo))
        case .correction(let what, let recordedBy, let isNote):
            return RecordPermission.mayMarkEnteredInError(
                recordedBy: recordedBy, memberID: memberID, roles: roles, isNote: isNote)
                ? .allowed : .refused(RecordPermission.enteredInErrorRefusal(what: what, isNote: isNote))
        case .noteAmendment(let author):
            return RecordPermission.mayAmendNote(authorID: author, memberID: memberID)
                ? .allowed : .refused(RecordPermission.amendRefusal)
        case .poolTask(let pool):
            return pool.map { roles.contains($0) } == true
                ? .allowed
                : .refused(
                    """
                    this task is for the \(pool?.spoken ?? "another") pool; only a \(pool?.spoken ?? "member of it") \
                    claims it
                    """
                )
        }
    }
}

/// What a permission is asked about beyond the team: the record's own rule.
public enum RecordRule: Sendable, Equatable {
    /// A handoff for `role`, or given to a named member.
    case handoff(role: Role, assignedTo: UUID?)
    /// Marking a record (`what`: "score", "trial"...) entered in error; `recordedBy` recorded it.
    case correction(what: String, recordedBy: UUID?, isNote: Bool)
    /// Amending a note written by `author`.
    case noteAmendment(author: UUID)
    /// Claiming (or starting or completing, which claim) a task waiting in `pool`.
    case poolTask(pool: Role?)
}

public enum Decision: Sendable, Equatable {
    case allowed
    /// The sentence the refused caller reads.
    case refused(String)
}

extension Permission {
    /// Trials: who starts them and who records how they ended.
    public static func startTrial(_ kind: TrialKind) -> Permission {
        kind == .psychotherapy ? .startPsychotherapyTrial : .startMedicationTrial
    }

    public static func recordOutcome(_ kind: TrialKind) -> Permission {
        kind == .psychotherapy ? .recordPsychotherapyOutcome : .recordMedicationOutcome
    }

    public static func refer(_ kind: ReferralKind) -> Permission {
        kind == .other ? .referOther : .referNeuromodulation
    }
}

/// Who may act on one piece of work or one record, beyond the team-wide permissions above: the
/// rules that depend on the record itself (its receiving role, its author, its recorder).
/// docs/domain.md, "Lifecycle and corrections".
public enum RecordPermission {
    /// A handoff belongs to its receiving role: members holding that role (or the member it was
    /// given to) acknowledge or reassign it; the care manager may too, as coordinator.
    public static func mayWorkHandoff(roles: Set<Role>, memberID: UUID, handoffRole: Role, assignedTo: UUID?) -> Bool {
        if roles.contains(.careManager) { return true }
        if let assignedTo { return assignedTo == memberID }
        return roles.contains(handoffRole)
    }

    public static func handoffRefusal(handoffRole: Role, assignedTo: UUID?) -> String {
        if assignedTo != nil {
            return "this handoff was given to another member; only they or the care manager acknowledge or reassign it"
        }
        return
            """
            this handoff is for the \(handoffRole.spoken); only a \(handoffRole.spoken) of the team or the care \
            manager acknowledges or reassigns it
            """
    }

    /// A score, trial, outcome or referral is marked entered in error by whoever recorded it, or
    /// by a psychiatrist; a note only by its author.
    public static func mayMarkEnteredInError(recordedBy: UUID?, memberID: UUID, roles: Set<Role>, isNote: Bool) -> Bool
    {
        if isNote { return recordedBy == memberID }
        return recordedBy == memberID || roles.contains(.psychiatrist)
    }

    public static func enteredInErrorRefusal(what: String, isNote: Bool) -> String {
        isNote
            ? "only the author of a note marks it entered in error"
            : "only whoever recorded this \(what), or a psychiatrist, marks it entered in error"
    }

    /// Only a note's author amends it; others add a note of their own.
    public static func mayAmendNote(authorID: UUID, memberID: UUID) -> Bool { authorID == memberID }

    public static let amendRefusal = "only the author of a note amends it; add a note of your own instead"
}

extension Role {
    /// The role as a sentence names it: "social worker", "care manager".
    public var spoken: String { rawValue.replacingOccurrences(of: "_", with: " ") }
}
