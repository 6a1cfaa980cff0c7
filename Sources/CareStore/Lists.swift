import CoreFormats
import CareDomain
import Foundation
import PQ

/// One page of a list. `next` is the cursor of the following page (nil on the last one): the
/// id of the last item for keyset lists, which clients pass back without reading it.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: String?

    public init(items: [Item], next: String?) {
        self.items = items
        self.next = next
    }
}

public struct PatientListItem: Sendable, Equatable {
    public var id: UUID
    public var teamID: UUID
    public var mrn: String
    public var displayName: String
    public var status: PatientStatus
    public var enrolledOn: Date
    /// The latest PHQ-9 not entered in error: its total, when, and whether item 9 was above 0.
    public var latestPHQ9: (total: Int, takenAt: Date, safetySignal: Bool)?
    /// Whether the patient meets treatment-resistant depression now (reached, not withdrawn).
    public var isTRD: Bool
    /// Open tasks (handoffs' included).
    public var openItems: Int
    /// When the patient's own row last changed (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil

    public static func == (a: PatientListItem, b: PatientListItem) -> Bool {
        a.id == b.id && a.teamID == b.teamID && a.mrn == b.mrn && a.displayName == b.displayName
            && a.status == b.status && a.enrolledOn == b.enrolledOn && a.latestPHQ9?.total == b.latestPHQ9?.total
            && a.latestPHQ9?.takenAt == b.latestPHQ9?.takenAt
            && a.latestPHQ9?.safetySignal == b.latestPHQ9?.safetySignal && a.isTRD == b.isTRD
            && a.openItems == b.openItems
            && a.updatedAt == b.updatedAt
    }
}

public struct CarePlan: Sendable, Equatable {
    public var patientID: UUID
    public var version: Int
    public var content: CarePlanContent
    public var authorID: UUID?
    public var updatedAt: Date
}

public struct MeasurementItem: Sendable, Equatable {
    public var id: UUID
    public var instrument: Instrument
    public var total: Int
    public var items: [Int]?
    public var safetySignal: Bool
    public var takenAt: Date
    public var recordedBy: UUID?
    public var enteredInError: EnteredInError?
    /// When it was recorded, or marked entered in error since (FHIR's meta.lastUpdated).
    public var updatedAt: Date? = nil

    /// The severity band by its usual name ("moderately severe").
    public var band: String { Score.band(instrument, total: total) }
}

public struct HandoffItem: Sendable, Equatable {
    public var id: UUID
    public var patientID: UUID
    public var role: Role
    public var reason: String
    public var stepKey: String
    public var dueAt: Date
    public var taskID: UUID
    public var acknowledgedBy: UUID?
    public var acknowledgedAt: Date?
    public var escalated: Bool
    public var createdAt: Date
    /// Given to a named member (a reassignment), rather than the role's pool.
    public var assignedTo: UUID?
    public var supersededAt: Date?
    public var supersededReason: String?
    /// The task's status: the handoff is the task.
    public var taskStatus: TaskStatus
}

public struct AuditItem: Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var memberID: UUID?
    public var action: String
    public var patientID: UUID?
    public var resource: String
    public var outcome: String
    public var requestID: String?
    public var detail: String?
}

public struct TeamMemberItem: Sendable, Equatable {
    public var id: UUID
    public var displayName: String
    public var email: String?
    public var isServiceAccount: Bool
    public var roles: [Role]
}

extension CareStore {
    static func clamp(_ limit: Int) -> Int { max(1, min(limit, 200)) }

    /// The keyset condition "(column, id) after the row `after`", true without one. An id that
    /// is not (or no longer, or not for this caller) in the list gives an empty page.
    static func after(_ after: UUID?, table: String, alias: String, time column: String, descending: Bool = false)
        -> PQQuery
    {
        guard let after else { return "true" }
        return
            """
            (\(unescaped: alias).\(unescaped: column), \(unescaped: alias).id) \(unescaped: descending ? "<" : ">") \
            (SELECT \(unescaped: column), id FROM \(unescaped: table) WHERE id = \(after))
            """
    }

    static func page<T>(_ rows: [T], limit: Int, id: (T) -> UUID) -> Page<T> {
        let items = Array(rows.prefix(limit))
        return Page(items: items, next: rows.count > limit ? items.last.map { id($0).lowercasedString } : nil)
    }

    /// A page of a list read whole, with the keyset lists' cursor rules: the items after the
    /// one with id `after` (an id not in the list gives an empty page).
    static func page<T>(_ all: [T], limit: Int, after: UUID?, id: (T) -> UUID) -> Page<T> {
        var rest = all[...]
        if let after {
            guard let index = all.firstIndex(where: { id($0) == after }) else { return Page(items: [], next: nil) }
            rest = all[(index + 1)...]
        }
        return page(Array(rest.prefix(limit + 1)), limit: limit, id: id)
    }

    // MARK: Patients

    /// The patients of the teams whose clinical records the caller may read (the system: every
    /// team), by name; `teamID` narrows to one team, `search` matches name or MRN (any part,
    /// any case) or the start of the id.
    public func patients(
        teamID: UUID? = nil, search: String? = nil, limit: Int = 50, after: UUID? = nil, by caller: Caller
    ) async throws -> Page<PatientListItem> {
        let limit = Self.clamp(limit)
        let pattern = search.map {
            "%"
                + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
        }
        // An id's first characters (8 are shown in the CLI's tables) find the patient too.
        let idPrefix = search.flatMap { IDPrefix($0) }.map { $0.hex.count == 32 ? $0.text : $0.text + "%" }
        return try await command(caller) { context in
            var teamIDs: [UUID]? = teamID.map { [$0] }
            if context.acting != nil {
                let readable = context.teams(allowing: .readClinical)
                teamIDs = teamID.map { readable.contains($0) ? [$0] : [] } ?? readable
            }
            let rows = try await context.connection.query(
                """
                SELECT p.id, p.team_id, p.mrn, p.display_name, p.status, p.enrolled_on, s.total, s.taken_at,
                       coalesce((SELECT e.type = 'patient.trd_reached' FROM events e
                                 WHERE e.patient_id = p.id AND e.type IN ('patient.trd_reached',
                                     'patient.trd_withdrawn')
                                 ORDER BY e.id DESC LIMIT 1), false),
                       (SELECT count(*) FROM tasks t WHERE t.patient_id = p.id
                          AND t.status NOT IN ('completed', 'cancelled', 'failed'))::int,
                       p.updated_at, s.safety_signal
                FROM patients p
                LEFT JOIN LATERAL (
                    SELECT m.total, m.taken_at, m.safety_signal FROM measurements m
                    WHERE m.patient_id = p.id AND m.instrument = 'PHQ-9' AND m.entered_in_error_at IS NULL
                    ORDER BY m.taken_at DESC LIMIT 1
                ) s ON true
                WHERE (\(teamIDs)::uuid[] IS NULL OR p.team_id = ANY(\(teamIDs)))
                  AND (\(pattern)::text IS NULL OR p.display_name ILIKE \(pattern) OR p.mrn ILIKE \(pattern)
                       OR p.id::text LIKE \(idPrefix))
                  AND \(fragment: Self.after(after, table: "patients", alias: "p", time: "display_name"))
                ORDER BY p.display_name, p.id LIMIT \(limit + 1)
                """
            ).map { row in
                let (id, team, mrn, name, status, enrolled) = try row.decode(
                    UUID.self, UUID.self, String.self, String.self, String.self, Date.self)
                let (total, taken, trd, open) = try (
                    row.decode(Int?.self, at: 6), row.decode(Date?.self, at: 7), row.decode(Bool.self, at: 8),
                    row.decode(Int.self, at: 9)
                )
                return PatientListItem(
                    id: id, teamID: team, mrn: mrn, displayName: name,
                    status: try PatientStatus(column: "patients.status", status), enrolledOn: enrolled,
                    latestPHQ9: try total.flatMap { total in
                        try taken.map { (total, $0, try row.decode(Bool?.self, at: 11) ?? false) }
                    }, isTRD: trd, openItems: open,
                    updatedAt: try row.decode(Date.self, at: 10))
            }
            let page = Self.page(rows, limit: limit) { $0.id }
            context.trail.touch(page.items.map(\.id))
            return page
        }
    }

    // MARK: Care plan

    public func carePlan(patientID: UUID, by caller: Caller) async throws -> CarePlan {
        try await command(caller) { context in
            let rows = try await context.patientTeam(
                patientID, for: .readClinical,
                reading:
                    """
                    SELECT version, goals, problems, treatment_line, author_id, created_at FROM care_plans
                    WHERE patient_id = \(patientID) AND is_active
                    """)
            guard let row = rows.firstRow else { throw StoreError.notFound("care plan of patient \(patientID)") }
            let (version, goals, problems, line, author, created) = try row.decode(
                Int.self, PQJSON<[String]>.self, PQJSON<[String]>.self, String.self, UUID?.self, Date.self)
            return CarePlan(
                patientID: patientID, version: version,
                content: CarePlanContent(goals: goals.value, problems: problems.value, treatmentLine: line),
                authorID: author, updatedAt: created)
        }
    }

    // MARK: A patient's lists

    /// `withCauses`: each handoff's task with its causes, as `task(_:by:)` gives them.
    public func patientTasks(
        patientID: UUID, status: [TaskStatus]? = nil, limit: Int = 50, after: UUID? = nil, withCauses: Bool = false,
        by caller: Caller
    ) async throws -> Page<TaskSummary> {
        let limit = Self.clamp(limit)
        let condition = Self.after(after, table: "tasks", alias: "t", time: "created_at")
        return try await command(caller) { context in
            let rows = try await context.patientTeam(
                patientID, for: .readClinical,
                reading:
                    """
                    SELECT \(unescaped: Self.taskColumns) FROM tasks t
                    WHERE t.patient_id = \(patientID) AND (\(status?.map(\.rawValue))::text[] IS NULL OR t.status =
                        ANY(\(status?.map(\.rawValue))))
                      AND \(fragment: condition)
                    ORDER BY t.created_at, t.id LIMIT \(limit + 1)
                    """
            ).map(Self.task)
            var page = Self.page(rows, limit: limit) { $0.id }
            if withCauses { try await context.attachCauses(&page.items) }
            return page
        }
    }

    /// A patient's notes, newest first, with their authors' names; psychotherapy notes only to
    /// their author; notes entered in error only when asked for.
    /// `includePsychotherapy` false: none at all, not even the caller's own (FHIR serves none).
    public func notes(
        patientID: UUID, includeEnteredInError: Bool = false, includePsychotherapy: Bool = true, limit: Int = 50,
        after: UUID? = nil, by caller: Caller
    ) async throws -> Page<NoteSummary> {
        let limit = Self.clamp(limit)
        let condition = Self.after(after, table: "notes", alias: "n", time: "created_at", descending: true)
        return try await command(caller) { context in
            let readerID = caller.memberID
            let rows = try await context.patientTeam(
                patientID, for: .readClinical,
                reading:
                    """
                    SELECT \(unescaped: Self.noteColumns) FROM notes n JOIN members a ON a.id = n.author_id
                    WHERE n.patient_id = \(patientID)
                      AND (n.kind <> 'psychotherapy' OR (n.author_id = \(readerID) AND \(includePsychotherapy)))
                      AND (\(includeEnteredInError) OR n.entered_in_error_at IS NULL) AND \(fragment: condition)
                    ORDER BY n.created_at DESC, n.id DESC LIMIT \(limit + 1)
                    """
            ).map(Self.note)
            return Self.page(rows, limit: limit) { $0.id }
        }
    }

    /// Amends a note: a new note of the same kind pointing at it, written by the note's author
    /// (anyone else adds a note of their own).
    public func amendNote(_ noteID: UUID, body: String, by caller: Caller) async throws -> (id: UUID, patientID: UUID) {
        // This check leaves the Idempotency-Key to the amendment that follows it.
        let found = try await command(caller, claimsKey: false) { context -> (UUID, String, UUID) in
            let authorID = try Self.member(caller, "amends a note")
            let rows = try await context.connection.query(
                """
                SELECT n.patient_id, n.kind, n.author_id, p.team_id FROM notes n JOIN patients p ON p.id = n.patient_id
                    WHERE n.id = \(noteID)
                """)
            guard let row = rows.firstRow else { throw StoreError.notFound("note \(noteID)") }
            let (patientID, kind, author, teamID) = try row.decode(UUID.self, String.self, UUID.self, UUID.self)
            if kind == NoteKind.psychotherapy.rawValue, author != authorID {
                throw StoreError.notFound("note \(noteID)")
            }
            try context.authorize(
                .readClinical, teamID: teamID, patientID: patientID, record: .noteAmendment(author: author))
            return (patientID, kind, author)
        }
        guard let kind = NoteKind(rawValue: found.1) else {
            throw PQError(.decoding, "note \(noteID.lowercasedString) has an unknown kind \(found.1)")
        }
        let id = try await addNote(patientID: found.0, kind: kind, body: body, amends: noteID, by: caller)
        return (id, found.0)
    }

    /// A patient's scores, oldest first (newest first when asked: the latest score on a first
    /// page of one); those entered in error only when asked for.
    public func measurements(
        patientID: UUID, includeEnteredInError: Bool = false, instrument: Instrument? = nil, newestFirst: Bool = false,
        limit: Int = 50, after: UUID? = nil, by caller: Caller
    ) async throws -> Page<MeasurementItem> {
        let limit = Self.clamp(limit)
        let condition = Self.after(after, table: "measurements", alias: "m", time: "taken_at", descending: newestFirst)
        let order = newestFirst ? "m.taken_at DESC, m.id DESC" : "m.taken_at, m.id"
        return try await command(caller) { context in
            let rows = try await context.patientTeam(
                patientID, for: .readClinical,
                reading:
                    """
                    SELECT \(fragment: Self.measurementColumns) FROM measurements m
                    WHERE m.patient_id = \(patientID) AND (\(includeEnteredInError) OR m.entered_in_error_at IS NULL)
                      AND (\(instrument?.rawValue)::text IS NULL OR m.instrument = \(instrument?.rawValue)) AND
                          \(fragment: condition)
                    ORDER BY \(unescaped: order) LIMIT \(limit + 1)
                    """
            ).map(Self.measurement)
            return Self.page(rows, limit: limit) { $0.id }
        }
    }

    /// One score, with its patient: 404 for a patient of another team (row-level security hides it).
    public func measurement(_ id: UUID, by caller: Caller) async throws -> (patientID: UUID, item: MeasurementItem) {
        try await command(caller) { context in
            let found = try await context.connection.query(
                "SELECT m.patient_id FROM measurements m WHERE m.id = \(id)"
            ).firstRow
            guard let patientID = try found?.decode(UUID.self, at: 0) else {
                throw StoreError.notFound("score \(id.lowercasedString)")
            }
            _ = try await context.patientTeam(patientID, for: .readClinical)
            let row = try await context.connection.query(
                "SELECT \(fragment: Self.measurementColumns) FROM measurements m WHERE m.id = \(id)"
            )[0]
            return (patientID, try Self.measurement(row))
        }
    }

    static let measurementColumns: PQQuery = """
        m.id, m.instrument, m.total, m.items, m.safety_signal, m.taken_at, m.recorded_by,
        m.entered_in_error_at, m.entered_in_error_by, m.entered_in_error_reason, greatest(m.created_at, \
        m.entered_in_error_at)
        """

    static func measurement(_ row: PQRow) throws -> MeasurementItem {
        let (id, instrumentText, total, items, signal, taken, by, markedAt, markedBy, markedReason) =
            try row.decode(
                UUID.self, String.self, Int.self, [Int]?.self, Bool.self, Date.self, UUID?.self, Date?.self,
                UUID?.self, String?.self)
        guard let instrument = Instrument(rawValue: instrumentText) else {
            throw PQError(.decoding, "score \(id.lowercasedString) has an unknown instrument \(instrumentText)")
        }
        return MeasurementItem(
            id: id, instrument: instrument, total: total, items: items, safetySignal: signal, takenAt: taken,
            recordedBy: by, enteredInError: EnteredInError.from(markedAt, markedBy, markedReason),
            updatedAt: try row.decode(Date.self, at: 10))
    }

    // MARK: Handoffs

    /// Open handoffs (unacknowledged, not superseded, task not done) for the roles the member
    /// holds on each of their teams (or given to them by name), soonest due first;
    /// `includeAcknowledged` adds the closed ones.
    public func handoffs(includeAcknowledged: Bool = false, limit: Int = 50, after: UUID? = nil, by caller: Caller)
        async throws -> Page<HandoffItem>
    {
        let limit = Self.clamp(limit)
        let condition = Self.after(after, table: "handoffs", alias: "h", time: "due_at")
        return try await command(caller) { context in
            let memberID = try Self.member(caller, "receives handoffs")
            let rows = try await context.connection.query(
                """
                SELECT h.id, h.patient_id, h.role, h.reason, h.step_key, h.due_at, h.task_id, h.acknowledged_by,
                    h.acknowledged_at,
                       h.escalated_at IS NOT NULL, h.created_at, h.assigned_member_id, h.superseded_at,
                           h.superseded_reason, t.status
                FROM handoffs h JOIN patients p ON p.id = h.patient_id JOIN tasks t ON t.id = h.task_id
                WHERE (h.assigned_member_id = \(memberID)
                       OR (h.assigned_member_id IS NULL AND EXISTS (
                            SELECT 1 FROM memberships m WHERE m.member_id = \(memberID) AND m.team_id = p.team_id AND
                                m.role = h.role)))
                  AND (\(includeAcknowledged)
                       OR (h.acknowledged_at IS NULL AND h.superseded_at IS NULL AND t.status NOT IN ('completed',
                           'cancelled', 'failed')))
                  AND \(fragment: condition)
                ORDER BY h.due_at, h.id LIMIT \(limit + 1)
                """
            ).map { row in
                let (id, patient, role, reason, step, due, task, ackBy, ackAt, escalated, created) = try row.decode(
                    UUID.self, UUID.self, String.self, String.self, String.self, Date.self, UUID.self, UUID?.self,
                    Date?.self, Bool.self, Date.self)
                let assigned = try row.decode(UUID?.self, at: 11), supersededAt = try row.decode(Date?.self, at: 12)
                let supersededReason = try row.decode(String?.self, at: 13),
                    status = try row.decode(String.self, at: 14)
                guard let role = Role(rawValue: role), let status = TaskStatus(rawValue: status) else {
                    throw PQError(.decoding, "handoff \(id.lowercasedString) has an unknown role or task status")
                }
                return HandoffItem(
                    id: id, patientID: patient, role: role, reason: reason, stepKey: step, dueAt: due,
                    taskID: task, acknowledgedBy: ackBy, acknowledgedAt: ackAt, escalated: escalated,
                    createdAt: created,
                    assignedTo: assigned, supersededAt: supersededAt, supersededReason: supersededReason,
                    taskStatus: status)
            }
            let page = Self.page(rows, limit: limit) { $0.id }
            context.trail.touch(page.items.map(\.patientID))
            return page
        }
    }

    // MARK: Audit

    /// A patient's audit trail, newest first, for the compliance role.
    public func audit(patientID: UUID, limit: Int = 100, before: Int64? = nil, by caller: Caller) async throws -> Page<
        AuditItem
    > {
        let limit = Self.clamp(limit)
        return try await command(caller) { context in
            let rows = try await context.patientTeam(
                patientID, for: .readAudit,
                reading:
                    """
                    SELECT id, at, member_id, action, patient_id, resource, outcome, request_id, detail
                    FROM audit_entries WHERE patient_id = \(patientID) AND id < \(before ?? Int64.max)
                    ORDER BY id DESC LIMIT \(limit + 1)
                    """
            ).map { row in
                let (id, at, member, action, patient, resource, outcome, request, detail) = try row.decode(
                    Int64.self, Date.self, UUID?.self, String.self, UUID?.self, String.self, String.self, String?.self,
                    String?.self)
                return AuditItem(
                    id: id, at: at, memberID: member, action: action, patientID: patient, resource: resource,
                    outcome: outcome, requestID: request, detail: detail)
            }
            let items = Array(rows.prefix(limit))
            return Page(items: items, next: rows.count > limit ? items.last.map { "\($0.id)" } : nil)
        }
    }

    /// One audit entry of a patient, for someone who may read that patient's audit trail.
    public func auditEntry(_ id: Int64, by caller: Caller) async throws -> AuditItem {
        try await command(caller) { context in
            let found = try await context.connection.query(
                "SELECT patient_id FROM audit_entries WHERE id = \(id) AND patient_id IS NOT NULL"
            ).firstRow
            guard let patientID = try found?.decode(UUID.self, at: 0) else {
                throw StoreError.notFound("audit entry \(id)")
            }
            _ = try await context.patientTeam(patientID, for: .readAudit)
            let row = try await context.connection.query(
                """
                SELECT id, at, member_id, action, patient_id, resource, outcome, request_id, detail FROM audit_entries \
                WHERE id = \(id)
                """
            )[0]
            let (entry, at, member, action, patient, resource, outcome, request, detail) = try row.decode(
                Int64.self, Date.self, UUID?.self, String.self, UUID?.self, String.self, String.self, String?.self,
                String?.self)
            return AuditItem(
                id: entry, at: at, memberID: member, action: action, patientID: patient, resource: resource,
                outcome: outcome, requestID: request, detail: detail)
        }
    }

    // MARK: Teams

    /// A team's name and members, for someone who may read the team (FHIR's CareTeam).
    public func careTeam(teamID: UUID, by caller: Caller) async throws -> (name: String, members: [TeamMemberItem]) {
        let list = try await teamMembers(teamID: teamID, by: caller)
        // Read only once the gate above has let the caller see the team.
        let name = try await pool.query("SELECT name FROM teams WHERE id = \(teamID)").firstRow?.decode(
            String.self, at: 0)
        return (name ?? "", list)
    }

    /// The team of a patient whose records the caller may read (404 otherwise).
    public func teamOf(patientID: UUID, by caller: Caller) async throws -> UUID {
        try await command(caller) { context in
            try await context.patientTeam(patientID, for: .readClinical)
        }
    }

    public func teamMembers(teamID: UUID, by caller: Caller) async throws -> [TeamMemberItem] {
        try await command(caller) { context in
            try await context.requireTeam(teamID)
            try context.authorize(.readTeam, teamID: teamID, patientID: nil)
            return try await context.members(of: teamID)
        }
    }
}

extension CommandContext {
    /// A team's members with their roles, by name (the caller was let see the team).
    func members(of teamID: UUID) async throws -> [TeamMemberItem] {
        try await connection.query(Self.membersQuery(teamID)).map(Self.member)
    }

    static func membersQuery(_ teamID: UUID) -> PQQuery { membersQuery(team: "\(teamID)") }

    /// `membersQuery` for the team of a patient (for a pipeline that checks the team as it reads).
    static func membersQuery(teamOf patientID: UUID) -> PQQuery {
        membersQuery(team: "(SELECT p.team_id FROM patients p WHERE p.id = \(patientID))")
    }

    private static func membersQuery(team: PQQuery) -> PQQuery {
        """
        SELECT m.id, m.display_name, m.email, m.is_service_account, array_agg(ms.role ORDER BY ms.role)
        FROM memberships ms JOIN members m ON m.id = ms.member_id WHERE ms.team_id = \(fragment: team)
        GROUP BY m.id ORDER BY m.display_name, m.id
        """
    }

    /// A row of `membersQuery`.
    static func member(_ row: PQRow) throws -> TeamMemberItem {
        let (id, name, email, service, roles) = try row.decode(
            UUID.self, String.self, String?.self, Bool.self, [String].self)
        return TeamMemberItem(
            id: id, displayName: name, email: email, isServiceAccount: service,
            roles: try roles.map { try Role(column: "memberships.role", $0) })
    }
}

extension CareStore {
    /// One task, if the caller may read its patient's record.
    public func task(_ taskID: UUID, by caller: Caller) async throws -> TaskSummary {
        try await command(caller) { context in
            // A handoff's id names its task too.
            let rows = try await context.connection.query(
                "SELECT \(unescaped: Self.taskColumns) FROM tasks t WHERE t.id = \(taskID) OR t.handoff_id = \(taskID)")
            guard let row = rows.firstRow else { throw StoreError.notFound("task \(taskID.lowercasedString)") }
            var task = try Self.task(row)
            _ = try await context.patientTeam(task.patientID, for: .readClinical)
            if let handoff = task.handoffID {
                task.causes = try await context.connection.query(
                    """
                    SELECT \(fragment: HandoffCause.columns) FROM handoff_causes hc JOIN events e ON e.id = hc.event_id
                    WHERE hc.handoff_id = \(handoff) ORDER BY hc.added_at, hc.event_id
                    """
                ).map { try HandoffCause.from($0) }
            }
            return task
        }
    }
}

/// The first characters of an id as a person types them (hex digits in any case, hyphens where
/// the id has them or none at all), at least 4: what they are as text (`text`, hyphenated as ids print)
/// and the lowest and highest ids that start with them (a range the primary key can walk).
public struct IDPrefix: Sendable, Equatable {
    public let hex: String

    public init?(_ typed: String) {
        let trimmed = typed.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.filter { $0 != "-" }
        guard (4...32).contains(digits.count), digits.allSatisfy(\.isHexDigit) else { return nil }
        // Hyphens where an id has them, or none.
        guard trimmed == digits || trimmed == Self.hyphenated(digits) else { return nil }
        hex = digits
    }

    /// 8-4-4-4-12, as far as the digits go.
    static func hyphenated(_ digits: String) -> String {
        var out = ""
        for (index, digit) in digits.enumerated() {
            if [8, 12, 16, 20].contains(index) { out.append("-") }
            out.append(digit)
        }
        return out
    }

    public var text: String { Self.hyphenated(hex) }
    public var lowest: UUID {
        UUID(uuidString: Self.hyphenated(hex.padding(toLength: 32, withPad: "0", startingAt: 0)))!
    }
    public var highest: UUID {
        UUID(uuidString: Self.hyphenated(hex.padding(toLength: 32, withPad: "f", startingAt: 0)))!
    }
}

/// What an id prefix names: the record's id, its patient and a few words for a person to tell
/// candidates apart.
public struct ResolvedID: Sendable, Equatable {
    public var id: UUID
    public var kind: ResolvableKind
    public var patientID: UUID?
    public var label: String
}

/// The records the CLI names by an id prefix. A handoff's id is its task's.
public enum ResolvableKind: String, NamedValues {
    case task, trial, referral, note, measurement, snapshot
}

extension CareStore {
    /// The caller's records of `kind` whose id starts with `prefix` (at most 10), for the CLI's
    /// short ids. Row-level security keeps it to the caller's teams (and psychotherapy notes to
    /// their author); each patient named is audited as read.
    public func resolve(_ kind: ResolvableKind, prefix: IDPrefix, by caller: Caller) async throws -> [ResolvedID] {
        try await command(caller) { context in
            let readable = context.acting == nil ? nil : context.teams(allowing: .readClinical)
            let (low, high) = (prefix.lowest, prefix.highest)
            let query: PQQuery
            switch kind {
            case .task:
                query = """
                    SELECT t.id, t.patient_id, t.title || ' (' || t.status || ')' FROM tasks t JOIN patients p ON p.id =
                        t.patient_id
                    WHERE t.id BETWEEN \(low) AND \(high) AND (\(readable)::uuid[] IS NULL OR p.team_id =
                        ANY(\(readable)))
                    ORDER BY t.id LIMIT 10
                    """
            case .trial:
                query = """
                    SELECT t.id, t.patient_id, coalesce(t.drug, t.therapy, t.kind) || ', from ' || t.started_on::text
                        FROM trials t
                    JOIN patients p ON p.id = t.patient_id
                    WHERE t.id BETWEEN \(low) AND \(high) AND (\(readable)::uuid[] IS NULL OR p.team_id =
                        ANY(\(readable)))
                    ORDER BY t.id LIMIT 10
                    """
            case .referral:
                query = """
                    SELECT r.id, r.patient_id, upper(r.kind) || ' to ' || r.target_clinic || ' (' || r.status || ')'
                        FROM referrals r
                    JOIN patients p ON p.id = r.patient_id
                    WHERE r.id BETWEEN \(low) AND \(high) AND (\(readable)::uuid[] IS NULL OR p.team_id =
                        ANY(\(readable)))
                    ORDER BY r.id LIMIT 10
                    """
            case .note:
                query = """
                    SELECT n.id, n.patient_id, n.kind || ' note of ' || to_char(n.created_at, 'YYYY-MM-DD') FROM notes n
                    JOIN patients p ON p.id = n.patient_id
                    WHERE n.id BETWEEN \(low) AND \(high) AND (\(readable)::uuid[] IS NULL OR p.team_id =
                        ANY(\(readable)))
                    ORDER BY n.id LIMIT 10
                    """
            case .measurement:
                query = """
                    SELECT m.id, m.patient_id, m.instrument || ' ' || m.total || ' of ' || to_char(m.taken_at,
                        'YYYY-MM-DD') FROM measurements m
                    JOIN patients p ON p.id = m.patient_id
                    WHERE m.id BETWEEN \(low) AND \(high) AND (\(readable)::uuid[] IS NULL OR p.team_id =
                        ANY(\(readable)))
                    ORDER BY m.id LIMIT 10
                    """
            case .snapshot:
                query = """
                    SELECT s.id, NULL::uuid, 'report of ' || s.iso_week FROM report_snapshots s
                    WHERE s.id BETWEEN \(low) AND \(high) AND (\(readable)::uuid[] IS NULL OR s.team_id =
                        ANY(\(readable)))
                    ORDER BY s.id LIMIT 10
                    """
            }
            let found = try await context.connection.query(query).map { row in
                let (id, patient, label) = try row.decode(UUID.self, UUID?.self, String.self)
                return ResolvedID(id: id, kind: kind, patientID: patient, label: label)
            }
            context.trail.touch(found.compactMap(\.patientID))
            context.trail.skipWhenNoPatient = true
            return found
        }
    }
}
