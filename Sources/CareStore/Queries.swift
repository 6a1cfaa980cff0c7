import CoreFormats
import CareDomain
import Foundation
import PQ

public struct TaskSummary: Sendable, Equatable {
    public var id: UUID
    public var patientID: UUID
    public var title: String
    public var status: TaskStatus
    public var priority: TaskPriority
    public var ownerID: UUID?
    public var poolRole: Role?
    public var dueAt: Date?
    public var notBefore: Date?
    public var handoffID: UUID?
    /// Why it was cancelled or failed (or superseded), when it was.
    public var statusReason: String?
    /// What was done, as its completer wrote it (a contraindication screen's answers).
    public var evidence: String? = nil
    /// A handoff's causes, when read one task at a time (nil in lists).
    public var causes: [HandoffCause]?
    /// The playbook step of a handoff's task, when its causes were read.
    public var stepKey: String? { causes?.lazy.compactMap(\.stepKey).first }
    /// When it last changed (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil
}

/// One cause of a handoff: the event that made it or joined it, and whether it was withdrawn.
public struct HandoffCause: Sendable, Equatable {
    /// The record an event is about, by kind (a score, a trial and its kind, a referral).
    public enum Record: Sendable, Equatable {
        case measurement(UUID)
        case trial(UUID, TrialKind)
        case referral(UUID)
    }

    public var eventID: Int64
    public var summary: String
    public var addedAt: Date
    public var withdrawnAt: Date?
    /// The record the cause's event names, when it names one.
    public var record: Record? = nil
    /// The playbook step the handoff is for (`trial-failed.next-step`): every cause of a handoff
    /// has its step (docs/domain.md, "Handoffs").
    public var stepKey: String? = nil

    /// The columns that give a cause: from `handoff_causes hc JOIN events e ON e.id = hc.event_id`.
    /// The trial's kind is found by its primary key: the payload's id as a uuid (comparing
    /// `t.id::text` instead read every trial for each cause, about 1 ms a cause on the synthetic
    /// caseload: BENCHMARKS.md, "bench/fhir", session 17); a payload id that is not a uuid finds
    /// no trial, as before.
    static let columns: PQQuery = """
        hc.event_id, hc.summary, hc.added_at, hc.withdrawn_at, e.payload->>'measurement_id', e.payload->>'trial_id',
        (SELECT t.kind FROM trials t WHERE t.id = CASE
            WHEN e.payload->>'trial_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
            THEN (e.payload->>'trial_id')::uuid END),
        e.payload->>'referral_id', hc.step_key
        """

    /// A cause from the `columns`, starting at `offset`.
    static func from(_ row: PQRow, at offset: Int = 0) throws -> HandoffCause {
        let event = try row.decode(Int64.self, at: offset)
        let summary = try row.decode(String.self, at: offset + 1)
        let added = try row.decode(Date.self, at: offset + 2)
        let withdrawn = try row.decode(Date?.self, at: offset + 3)
        let measurement = try row.decode(String?.self, at: offset + 4).flatMap(UUID.init(hyphenated:))
        let trial = try row.decode(String?.self, at: offset + 5).flatMap(UUID.init(hyphenated:))
        let kind = try row.decode(String?.self, at: offset + 6).flatMap(TrialKind.init(rawValue:))
        let referral = try row.decode(String?.self, at: offset + 7).flatMap(UUID.init(hyphenated:))
        let step = try row.decode(String.self, at: offset + 8)
        var record: Record?
        if let measurement {
            record = .measurement(measurement)
        } else if let trial, let kind {
            record = .trial(trial, kind)
        } else if let referral {
            record = .referral(referral)
        }
        return HandoffCause(
            eventID: event, summary: summary, addedAt: added, withdrawnAt: withdrawn, record: record, stepKey: step)
    }
}

public struct NoteSummary: Sendable, Equatable {
    public var id: UUID
    public var authorID: UUID
    public var authorName: String
    public var kind: NoteKind
    public var body: String
    public var amends: UUID?
    public var createdAt: Date
    /// Later notes that amend this one, oldest first.
    public var amendedBy: [UUID]
    public var enteredInError: EnteredInError?
    /// When it was written, or marked entered in error since (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil
}

/// A record's entered-in-error mark.
public struct EnteredInError: Sendable, Equatable {
    public var at: Date
    public var by: UUID?
    public var reason: String

    public init(at: Date, by: UUID?, reason: String) {
        self.at = at
        self.by = by
        self.reason = reason
    }

    static func from(_ at: Date?, _ by: UUID?, _ reason: String?) -> EnteredInError? {
        guard let at else { return nil }
        return EnteredInError(at: at, by: by, reason: reason ?? "")
    }
}

public struct ScoreSummary: Sendable, Equatable {
    public var id: UUID
    public var instrument: Instrument
    public var total: Int
    public var takenAt: Date
    public var safetySignal: Bool

    /// The severity band by its usual name ("moderately severe").
    public var band: String { Score.band(instrument, total: total) }
}

public struct TrialSummary: Sendable, Equatable {
    public var id: UUID
    public var kind: TrialKind
    public var drug: String?
    /// The psychotherapy (CBT, behavioural activation...), shown where a drug would be.
    public var therapy: String?
    public var sessions: Int?
    public var stopReason: String?
    public var enteredInError: EnteredInError?
    /// Outcomes recorded and then marked entered in error, as they were recorded.
    public var withdrawnOutcomes: [WithdrawnOutcome]
    public var startedOn: Date
    public var stoppedOn: Date?
    public var outcome: TrialOutcome?
    public var isFailed: Bool
    public var adequacy: AdequacyAssessment?
    /// The daily doses, each from its date (medication and augmentation trials).
    public var doses: [DoseStep] = []
    /// The share of doses taken, 0 to 1, when recorded.
    public var adherence: Double? = nil
    /// When it last changed (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil
}

public struct ReferralSummary: Sendable, Equatable {
    public var id: UUID
    public var kind: ReferralKind
    public var status: ReferralStatus
    public var targetClinic: String
    public var createdAt: Date
    public var reason: String?
    public var statusReason: String?
    public var enteredInError: EnteredInError?
    /// When it last changed (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil
}

public struct WithdrawnOutcome: Sendable, Equatable, Codable {
    public var outcome: String
    public var stoppedOn: String?
    public var reason: String
    public var withdrawnAt: Date
    public var withdrawnBy: UUID?

    enum CodingKeys: String, CodingKey {
        case outcome, reason
        case stoppedOn = "stopped_on", withdrawnAt = "withdrawn_at", withdrawnBy = "withdrawn_by"
    }
}

public struct HandoffSummary: Sendable, Equatable {
    public var id: UUID
    public var role: Role
    public var reason: String
    public var dueAt: Date
    public var taskID: UUID
    public var escalated: Bool
}

/// Everything a team member sees about a patient, as of `asOf`.
public struct PatientSummary: Sendable, Equatable {
    public var id: UUID
    public var teamID: UUID
    public var mrn: String
    public var displayName: String
    public var status: PatientStatus
    public var enrolledOn: Date
    /// When the patient's own row last changed (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil
    public var plan: CarePlanContent
    public var planVersion: Int
    public var openTasks: [TaskSummary]
    public var recentNotes: [NoteSummary]
    public var scores: [ScoreSummary]
    /// The latest PHQ-9 against the first (baseline), when there are two.
    public var response: ResponseAssessment?
    public var trials: [TrialSummary]
    public var trd: TRDStatus
    public var thaseRush: ThaseRushAssessment
    public var maudsley: MaudsleyAssessment?
    public var referrals: [ReferralSummary]
    public var openHandoffs: [HandoffSummary]
}

extension CareStore {
    /// The summary of a patient for `readerID`: psychotherapy notes appear only to their author.
    public func patientSummary(_ patientID: UUID, asOf: Date = Date(), by caller: Caller) async throws -> PatientSummary
    {
        try await command(caller, isolation: .repeatableRead) { context in
            try await context.patientSummary(patientID, asOf: asOf)
        }
    }
}

extension CommandContext {
    /// The summary, inside a command (the patient's team checked for reading clinical records).
    func patientSummary(_ patientID: UUID, asOf: Date) async throws -> PatientSummary {
        let readerID = caller.memberID
        let connection = self.connection
        _ = try await self.patientTeam(patientID, for: .readClinical)
        let patientRows = try await connection.query(
            """
            SELECT p.team_id, p.mrn, p.display_name, p.status, p.enrolled_on, coalesce(p.episode_started_on,
                p.enrolled_on), p.psychotic_features,
                   c.version, c.goals, c.problems, c.treatment_line, p.updated_at
            FROM patients p JOIN care_plans c ON c.patient_id = p.id AND c.is_active
            WHERE p.id = \(patientID)
            """)
        guard let row = patientRows.firstRow else { throw StoreError.notFound("patient \(patientID)") }
        let (
            teamID, mrn, name, status, enrolledOn, episodeStart, psychotic, version, goals, problems, treatmentLine
        ) = try row.decode(
            UUID.self, String.self, String.self, String.self, Date.self, Date.self, Bool.self,
            Int.self, PQJSON<[String]>.self, PQJSON<[String]>.self, String.self)
        let reference = try await self.referenceData()

        let openTasks = try await connection.query(
            """
            SELECT \(unescaped: CareStore.taskColumns) FROM tasks t
            WHERE t.patient_id = \(patientID) AND t.status NOT IN ('completed', 'cancelled', 'failed')
            ORDER BY \(unescaped: CareStore.taskOrder)
            """
        ).map(CareStore.task)

        let notes = try await connection.query(
            """
            SELECT \(unescaped: CareStore.noteColumns) FROM notes n JOIN members a ON a.id = n.author_id
            WHERE n.patient_id = \(patientID) AND (n.kind <> 'psychotherapy' OR n.author_id = \(readerID)) AND
                n.entered_in_error_at IS NULL
            ORDER BY n.created_at DESC, n.id DESC LIMIT 20
            """
        ).map(CareStore.note)

        let scoreRows = try await connection.query(
            """
            SELECT id, instrument, total, taken_at, safety_signal FROM measurements
            WHERE patient_id = \(patientID) AND entered_in_error_at IS NULL ORDER BY taken_at
            """)
        let scores = try scoreRows.map { row in
            let (id, instrument, total, takenAt, signal) = try row.decode(
                UUID.self, String.self, Int.self, Date.self, Bool.self)
            guard let instrument = Instrument(rawValue: instrument) else {
                throw PQError(.decoding, "a score has an unknown instrument \(instrument)")
            }
            return ScoreSummary(
                id: id, instrument: instrument, total: total, takenAt: takenAt, safetySignal: signal)
        }
        let phq9 = scores.filter { $0.instrument == .phq9 }
        var response: ResponseAssessment?
        if let first = phq9.first, let last = phq9.last, phq9.count >= 2 {
            response = try reference.responseRules.assess(
                baseline: Score(.phq9, total: first.total), latest: Score(.phq9, total: last.total))
        }

        let trials = try await self.loadTrials(patientID: patientID, reference: reference, asOf: asOf).filter {
            $0.summary.enteredInError == nil
        }
        var failed: [FailedTrial] = []
        var failedMedications = 0
        let augmentationUsed = trials.contains { $0.summary.kind == .augmentation }
        let ectUsed = trials.contains { $0.summary.kind == .neuromodulation && $0.isBilateralECT }
        for trial in trials where trial.summary.isFailed && trial.summary.startedOn >= episodeStart {
            failed.append(
                FailedTrial(
                    kind: trial.summary.kind, drugClass: trial.drugClass, isBilateralECT: trial.isBilateralECT))
            if trial.summary.kind == .medication { failedMedications += 1 }
        }
        let trd = reference.trialRules.trdStatus(failed: failed)
        let thaseRush = Staging.thaseRush(failed: failed)
        var maudsley: MaudsleyAssessment?
        if let baseline = phq9.first {
            let severity = MaudsleySeverity.from(
                try Score(.phq9, total: baseline.total), psychoticFeatures: psychotic)
            maudsley = Staging.maudsley(
                MaudsleyFacts(
                    episodeStart: episodeStart, asOf: asOf, severity: severity,
                    failedMedications: failedMedications, augmentationUsed: augmentationUsed, ectUsed: ectUsed))
        }

        let referrals = try await self.loadReferrals(patientID: patientID).filter { $0.enteredInError == nil }
        let handoffs = try await connection.query(
            """
            SELECT h.id, h.role, h.reason, h.due_at, h.task_id, h.escalated_at IS NOT NULL FROM handoffs h JOIN tasks t
                ON t.id = h.task_id
            WHERE h.patient_id = \(patientID) AND h.acknowledged_at IS NULL AND h.superseded_at IS NULL
              AND t.status NOT IN ('completed', 'cancelled', 'failed')
            ORDER BY h.due_at
            """
        ).map { row in
            let (id, role, reason, due, task, escalated) = try row.decode(
                UUID.self, String.self, String.self, Date.self, UUID.self, Bool.self)
            return HandoffSummary(
                id: id, role: try Role(column: "handoffs.role", role), reason: reason, dueAt: due, taskID: task,
                escalated: escalated)
        }
        return PatientSummary(
            id: patientID, teamID: teamID, mrn: mrn, displayName: name,
            status: try PatientStatus(column: "patients.status", status),
            enrolledOn: enrolledOn, updatedAt: try row.decode(Date.self, at: 11),
            plan: CarePlanContent(goals: goals.value, problems: problems.value, treatmentLine: treatmentLine),
            planVersion: version, openTasks: openTasks, recentNotes: notes, scores: scores, response: response,
            trials: trials.map(\.summary),
            trd: trd, thaseRush: thaseRush, maudsley: maudsley, referrals: referrals, openHandoffs: handoffs)
    }
}

extension CareStore {

    /// A member's queue: open tasks they own, and requested tasks in the pools of their roles on
    /// the patient's team; by priority (stat first), then due time; nothing before its not-before.
    public func queue(asOf: Date = Date(), limit: Int = 200, by caller: Caller) async throws -> [TaskSummary] {
        try await queuePage(asOf: asOf, limit: limit, offset: 0, by: caller).items
    }

    /// One page of the queue; `offset` is what an opaque cursor carries (the queue's order is by
    /// priority and due time, which changes as tasks move, so the cursor is a position in it).
    public func queuePage(
        asOf: Date = Date(), status: [TaskStatus]? = nil, role: Role? = nil, dueBefore: Date? = nil,
        limit: Int = 50, offset: Int = 0, by caller: Caller
    ) async throws -> Page<TaskSummary> {
        return try await command(caller) { context in
            let memberID = try Self.member(caller, "has a queue")
            let statuses = (status ?? [.requested, .accepted, .inProgress, .onHold]).map(\.rawValue)
            // Filters go into the SQL only when asked for, so the planner sees the query it runs.
            var filters: PQQuery = ""
            if let role { filters = "\(fragment: filters) AND t.pool_role = \(role.rawValue)" }
            if let dueBefore { filters = "\(fragment: filters) AND t.due_at < \(dueBefore)" }
            // The member's teams are written into the statement's text as constants (UUIDs, sorted,
            // so one set of teams is one statement): the planner then sees how small a team is and
            // walks its patients, instead of every open task in the database (a plan for "any team"
            // does that), and the statement is still prepared once per connection and its plan
            // kept, instead of planned anew for every request (0.3 ms of PostgreSQL's time a read,
            // BENCHMARKS.md, session 16). A connection holds one such statement per set of teams.
            let teams: [UUID]
            if let actor = context.acting, actor.principal.memberID == memberID {
                teams = Array(actor.principal.roles.keys)
            } else {
                teams = try await context.connection.query(
                    "SELECT DISTINCT team_id FROM memberships WHERE member_id = \(memberID)"
                ).map { try $0.decode(UUID.self, at: 0) }
            }
            let tasks = try await context.connection.query(
                """
                SELECT \(unescaped: Self.taskColumns) FROM tasks t JOIN patients p ON p.id = t.patient_id
                WHERE p.team_id = ANY(\(unescaped: Self.uuidArrayConstant(teams)))
                  AND t.status = ANY(\(statuses))
                  AND (t.not_before IS NULL OR t.not_before <= \(asOf))
                  AND (t.owner_id = \(memberID)
                       OR (t.owner_id IS NULL AND t.status = 'requested' AND EXISTS (
                            SELECT 1 FROM memberships m WHERE m.member_id = \(memberID) AND m.team_id = p.team_id AND
                                m.role = t.pool_role)))
                  \(fragment: filters)
                ORDER BY \(unescaped: Self.taskOrder), t.id
                LIMIT \(limit + 1) OFFSET \(offset)
                """
            ).map(Self.task)
            let page = Page(items: Array(tasks.prefix(limit)), next: tasks.count > limit ? "\(offset + limit)" : nil)
            context.trail.touch(page.items.map(\.patientID))
            return page
        }
    }

    /// UUIDs as an SQL array constant, sorted: `ARRAY['…', '…']::uuid[]`. Safe to write into a
    /// statement's text because a UUID's text is hex digits and dashes only.
    static func uuidArrayConstant(_ ids: [UUID]) -> String {
        "ARRAY[" + ids.map { "'\($0.lowercasedString)'" }.sorted().joined(separator: ", ") + "]::uuid[]"
    }

    /// A page of a patient's history, newest first; `before` is the last event id of the previous page.
    public func patientEventsPage(_ patientID: UUID, before: Int64? = nil, limit: Int = 100, by caller: Caller)
        async throws -> Page<FeedEvent>
    {
        try await command(caller) { context in
            _ = try await context.patientTeam(patientID, for: .readClinical)
            let events = try await context.connection.query(
                """
                SELECT id, tx_id::text::bigint, type, team_id, patient_id, actor_id, occurred_at, payload
                FROM events WHERE patient_id = \(patientID) AND id < \(before ?? Int64.max)
                  AND NOT (type IN ('note.added', 'note.amended', 'note.entered_in_error') AND payload->>'kind' =
                      'psychotherapy'
                           AND actor_id IS DISTINCT FROM \(context.acting?.principal.memberID))
                ORDER BY id DESC LIMIT \(limit + 1)
                """
            ).map(Self.feedEvent)
            let items = Array(events.prefix(limit))
            return Page(items: items, next: events.count > limit ? items.last.map { "\($0.id)" } : nil)
        }
    }

    /// A patient's trials with their adequacy, oldest first.
    public func trials(patientID: UUID, asOf: Date = Date(), by caller: Caller) async throws -> [TrialSummary] {
        try await command(caller) { context in
            _ = try await context.patientTeam(patientID, for: .readClinical)
            return try await context.loadTrials(
                patientID: patientID, reference: try await context.referenceData(), asOf: asOf
            ).map(\.summary)
        }
    }

    /// One page of a patient's trials (the whole history is read: adequacy and staging need it);
    /// trials entered in error only when asked for.
    public func trials(
        patientID: UUID, includeEnteredInError: Bool = false, limit: Int, after: UUID?, by caller: Caller
    ) async throws -> Page<TrialSummary> {
        let all = try await trials(patientID: patientID, by: caller).filter {
            includeEnteredInError || $0.enteredInError == nil
        }
        return Self.page(all, limit: Self.clamp(limit), after: after) { $0.id }
    }

    /// One page of a patient's referrals, oldest first; those entered in error only when asked for.
    public func referrals(
        patientID: UUID, includeEnteredInError: Bool = false, limit: Int, after: UUID?, by caller: Caller
    ) async throws -> Page<ReferralSummary> {
        let all = try await referrals(patientID: patientID, by: caller).filter {
            includeEnteredInError || $0.enteredInError == nil
        }
        return Self.page(all, limit: Self.clamp(limit), after: after) { $0.id }
    }

    /// A patient's referrals, oldest first.
    public func referrals(patientID: UUID, by caller: Caller) async throws -> [ReferralSummary] {
        try await command(caller) { context in
            _ = try await context.patientTeam(patientID, for: .readClinical)
            return try await context.loadReferrals(patientID: patientID)
        }
    }

    static let taskColumns =
        """
        t.id, t.patient_id, t.title, t.status, t.priority, t.owner_id, t.pool_role, t.due_at, t.not_before, \
        t.handoff_id, t.status_reason, t.updated_at, t.evidence
        """
    static let taskOrder =
        "array_position(ARRAY['stat', 'asap', 'urgent', 'routine'], t.priority), t.due_at NULLS LAST, t.created_at"

    static func task(_ row: PQRow) throws -> TaskSummary {
        let (id, patient, title, status, priority, owner, pool, due, notBefore, handoff, reason) = try row.decode(
            UUID.self, UUID.self, String.self, String.self, String.self, UUID?.self, String?.self, Date?.self,
            Date?.self, UUID?.self, String?.self)
        guard let status = TaskStatus(rawValue: status), let priority = TaskPriority(rawValue: priority) else {
            throw PQError(.decoding, "task \(id.lowercasedString) has an unknown status or priority")
        }
        return TaskSummary(
            id: id, patientID: patient, title: title, status: status, priority: priority, ownerID: owner,
            poolRole: try pool.map { try Role(column: "tasks.pool_role", $0) }, dueAt: due, notBefore: notBefore,
            handoffID: handoff, statusReason: reason, evidence: try row.decode(String?.self, at: 12),
            updatedAt: try row.decode(Date.self, at: 11))
    }

    /// A note with its author's name and the notes that amend it (read with `note`).
    static let noteColumns = """
        n.id, n.author_id, a.display_name, n.kind, n.body, n.amends_id, n.created_at, n.entered_in_error_at, \
        n.entered_in_error_by,
        n.entered_in_error_reason, ARRAY(SELECT x.id FROM notes x WHERE x.amends_id = n.id ORDER BY x.created_at, x.id),
        greatest(n.created_at, n.entered_in_error_at)
        """

    static func note(_ row: PQRow) throws -> NoteSummary {
        let (id, author, name, kind, body, amends, created, markedAt, markedBy, markedReason, amendedBy) =
            try row.decode(
                UUID.self, UUID.self, String.self, String.self, String.self, UUID?.self, Date.self, Date?.self,
                UUID?.self, String?.self, [UUID].self)
        guard let kind = NoteKind(rawValue: kind) else {
            throw PQError(.decoding, "note \(id.lowercasedString) has an unknown kind \(kind)")
        }
        return NoteSummary(
            id: id, authorID: author, authorName: name, kind: kind, body: body, amends: amends, createdAt: created,
            amendedBy: amendedBy, enteredInError: EnteredInError.from(markedAt, markedBy, markedReason),
            updatedAt: try row.decode(Date.self, at: 11))
    }

    static func feedEvent(_ row: PQRow) throws -> FeedEvent {
        let (id, transaction, type, team, patient, actor, occurredAt, payload) = try row.decode(
            Int64.self, Int64.self, String.self, UUID?.self, UUID?.self, UUID?.self, Date.self,
            PQJSON<[String: String]>.self)
        return FeedEvent(
            id: id, type: type, teamID: team, patientID: patient, actorID: actor, occurredAt: occurredAt,
            payload: payload.value, cursor: FeedCursor(transaction: transaction, id: id))
    }
}

public struct TeamMembership: Sendable, Equatable {
    public var teamID: UUID
    public var name: String
    public var roles: [Role]
    /// The team's IANA time zone (docs/time-zones.md).
    public var timeZone: String = TeamTimeZone.utc
}

extension CareStore {
    /// The teams a member belongs to, with their roles on each.
    public func memberships(of memberID: UUID) async throws -> [TeamMembership] {
        try await pool.query(
            """
            SELECT t.id, t.name, array_agg(m.role ORDER BY m.role), t.time_zone FROM memberships m JOIN teams t ON t.id
                = m.team_id
            WHERE m.member_id = \(memberID) GROUP BY t.id, t.name ORDER BY t.name
            """
        ).map { row in
            let (id, name, roles) = try row.decode(UUID.self, String.self, [String].self)
            return TeamMembership(
                teamID: id, name: name, roles: try roles.map { try Role(column: "memberships.role", $0) },
                timeZone: try row.decode(String.self, at: 3))
        }
    }
}

/// A trial as the summary and the trial list read it, with what TRD and staging need besides.
struct LoadedTrial {
    var summary: TrialSummary
    var isBilateralECT: Bool
    var drugClass: DrugClass?
}

extension CommandContext {
    func loadTrials(patientID: UUID, reference: ReferenceData, asOf: Date) async throws -> [LoadedTrial] {
        try await loadTrials(patients: [patientID], reference: reference, asOf: asOf).map(\.trial)
    }

    /// The trials of several patients at once (the bulk export), by patient, each patient's oldest
    /// first; `since`: only those changed after it.
    func loadTrials(patients: [UUID], since: Date? = nil, reference: ReferenceData, asOf: Date) async throws -> [(
        patientID: UUID, trial: LoadedTrial
    )] {
        try await connection.query(Self.trialsQuery(patients: patients, since: since)).map {
            try Self.loadedTrial($0, reference: reference, asOf: asOf)
        }
    }

    static func trialsQuery(patients: [UUID], since: Date?) -> PQQuery {
        """
        SELECT t.id, t.kind, t.drug, t.dose_steps, t.started_on, t.stopped_on, t.outcome, t.is_failed, t.adherence,
            t.sessions,
               t.is_bilateral_ect, d.drug_class, t.therapy, t.stop_reason, t.entered_in_error_at, t.entered_in_error_by,
                   t.entered_in_error_reason,
               t.withdrawn_outcomes, t.patient_id, t.updated_at
        FROM trials t LEFT JOIN dose_table d ON d.drug = t.drug
        WHERE t.patient_id \(fragment: matching(patients)) AND (\(since)::timestamptz IS NULL OR t.updated_at >
            \(since))
        ORDER BY t.patient_id, t.started_on, t.id
        """
    }

    /// A row of `trialsQuery`, with its adequacy as of `asOf`.
    static func loadedTrial(_ row: PQRow, reference: ReferenceData, asOf: Date) throws -> (
        patientID: UUID, trial: LoadedTrial
    ) {
        let (
            id, kindText, drug, steps, started, stopped, outcomeText, isFailed, adherence, sessions, bilateral,
            drugClass
        ) = try row.decode(
            UUID.self, String.self, String?.self, PQJSON<[StoredDoseStep]>.self, Date.self, Date?.self,
            String?.self, Bool.self,
            Double?.self, Int?.self, Bool.self, String?.self)
        let therapy = try row.decode(String?.self, at: 12), stopReason = try row.decode(String?.self, at: 13)
        let marked = EnteredInError.from(
            try row.decode(Date?.self, at: 14), try row.decode(UUID?.self, at: 15),
            try row.decode(String?.self, at: 16))
        let withdrawn = try row.decode(PQJSON<[WithdrawnOutcome]>.self, at: 17).value
        guard let kind = TrialKind(rawValue: kindText) else {
            throw PQError(.decoding, "trial \(id.lowercasedString) has an unknown kind \(kindText)")
        }
        let outcome = try outcomeText.map { try TrialOutcome(column: "trials.outcome", $0) }
        let facts = TrialFacts(
            kind: kind, drug: drug, isBilateralECT: bilateral,
            doses: steps.value.map { DoseStep(from: $0.from, dailyDoseMg: $0.dailyDoseMg) },
            start: started, stop: stopped, adherence: adherence, outcome: outcome, sessions: sessions)
        let adequacy = try? reference.trialRules.adequacy(of: facts, doseTable: reference.doseTable, asOf: asOf)
        return (
            try row.decode(UUID.self, at: 18),
            LoadedTrial(
                summary: TrialSummary(
                    id: id, kind: kind, drug: drug, therapy: therapy, sessions: sessions, stopReason: stopReason,
                    enteredInError: marked, withdrawnOutcomes: withdrawn,
                    startedOn: started, stoppedOn: stopped, outcome: outcome,
                    isFailed: isFailed && marked == nil, adequacy: adequacy, doses: facts.doses,
                    adherence: adherence, updatedAt: try row.decode(Date.self, at: 19)),
                isBilateralECT: bilateral,
                drugClass: try drugClass.map { try DrugClass(column: "dose_table.drug_class", $0) })
        )
    }

    func loadReferrals(patientID: UUID) async throws -> [ReferralSummary] {
        try await loadReferrals(patients: [patientID]).map(\.referral)
    }

    /// The referrals of several patients at once (the bulk export), by patient, each patient's
    /// oldest first; `since`: only those changed after it.
    func loadReferrals(patients: [UUID], since: Date? = nil) async throws -> [(
        patientID: UUID, referral: ReferralSummary
    )] {
        try await connection.query(Self.referralsQuery(patients: patients, since: since)).map(Self.referral)
    }

    static func referralsQuery(patients: [UUID], since: Date?) -> PQQuery {
        """
        SELECT id, kind, status, target_clinic, created_at, reason, status_reason, entered_in_error_at,
            entered_in_error_by, entered_in_error_reason,
               patient_id, updated_at
        FROM referrals WHERE patient_id \(fragment: matching(patients)) AND (\(since)::timestamptz IS NULL OR updated_at
            > \(since))
        ORDER BY patient_id, created_at, id
        """
    }

    /// A row of `referralsQuery`.
    static func referral(_ row: PQRow) throws -> (patientID: UUID, referral: ReferralSummary) {
        let (id, kind, status, clinic, created, reason, statusReason, markedAt, markedBy, markedReason) =
            try row.decode(
                UUID.self, String.self, String.self, String.self, Date.self, String?.self, String?.self, Date?.self,
                UUID?.self, String?.self)
        guard let kind = ReferralKind(rawValue: kind), let status = ReferralStatus(rawValue: status) else {
            throw PQError(.decoding, "referral \(id.lowercasedString) has an unknown kind or status")
        }
        return (
            try row.decode(UUID.self, at: 10),
            ReferralSummary(
                id: id, kind: kind, status: status, targetClinic: clinic, createdAt: created, reason: reason,
                statusReason: statusReason, enteredInError: EnteredInError.from(markedAt, markedBy, markedReason),
                updatedAt: try row.decode(Date.self, at: 11))
        )
    }
}

/// The clinical records that can be looked up by id alone (FHIR reads: docs/fhir.md).
public enum RecordTable: String, Sendable {
    case trials, referrals, measurements, tasks, notes
}

extension CareStore {
    /// The patient a record belongs to, if the caller may read that patient's clinical records:
    /// 404 otherwise, for another team's record as for none (row-level security hides it).
    public func patientOf(_ table: RecordTable, _ id: UUID, by caller: Caller) async throws -> UUID {
        try await command(caller) { context in
            let found = try await context.connection.query(
                "SELECT patient_id FROM \(unescaped: table.rawValue) WHERE id = \(id)"
            ).firstRow
            guard let patientID = try found?.decode(UUID.self, at: 0) else {
                throw StoreError.notFound("\(table.rawValue.dropLast()) \(id.lowercasedString)")
            }
            _ = try await context.patientTeam(patientID, for: .readClinical)
            return patientID
        }
    }
}
