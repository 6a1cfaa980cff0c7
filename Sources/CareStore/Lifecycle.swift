import CoreFormats
import CareDomain
import Foundation
import PQ

// Work that follows its cause, and records that can be corrected (docs/domain.md, "Lifecycle
// and corrections"): handoffs acknowledged and reassigned by their receiving role, handoffs
// superseded when their cause is withdrawn, scores, trials, outcomes, referrals and notes
// marked entered in error.

/// A record that can be marked entered in error.
public enum CorrectableRecord: String, Sendable, CaseIterable {
    case measurement
    case trial
    /// A trial's recorded outcome (the trial itself stays, as ongoing).
    case trialOutcome = "trial-outcome"
    case referral
    case note

    var what: String {
        switch self {
        case .measurement: "score"
        case .trial: "trial"
        case .trialOutcome: "trial outcome"
        case .referral: "referral"
        case .note: "note"
        }
    }
}

/// What marking a record entered in error changed.
public struct Correction: Sendable, Equatable {
    public var id: UUID
    public var record: CorrectableRecord
    public var patientID: UUID
    public var at: Date
    public var by: UUID?
    public var reason: String
    /// Open handoffs whose every cause is gone: closed as superseded.
    public var supersededHandoffIDs: [UUID]
    /// The patient no longer meets the TRD definition.
    public var trdWithdrawn: Bool
}

/// A handoff, locked for a change.
struct LockedHandoff {
    var id: UUID
    var taskID: UUID
    var patientID: UUID
    var teamID: UUID
    var role: Role
    var assignedTo: UUID?
    var acknowledgedAt: Date?
    var supersededReason: String?
    var taskStatus: TaskStatus
}

extension CareStore {
    // MARK: Handoffs

    /// Acknowledges a handoff (by its id or its task's: one id for one piece of work), once the
    /// caller holds its receiving role (or is the member it was given to, or the care manager).
    /// Answers with the task the handoff is.
    @discardableResult
    public func acknowledgeHandoff(_ id: UUID, by caller: Caller) async throws -> TaskSummary {
        return try await command(caller) { context in
            guard let memberID = caller.memberID else {
                throw StoreError.invalid("a handoff is acknowledged by a member")
            }
            let handoff = try await context.lockHandoff(id)
            try context.authorizeHandoff(handoff)
            if let reason = handoff.supersededReason {
                throw StoreError.conflict("this handoff was superseded (\(reason)); there is nothing to acknowledge")
            }
            guard handoff.acknowledgedAt == nil else {
                throw StoreError.conflict("this handoff is already acknowledged")
            }
            guard handoff.taskStatus.isOpen else {
                throw StoreError.conflict(
                    "this handoff's task is \(handoff.taskStatus.rawValue); there is nothing to acknowledge")
            }
            await context.connection.sendWithNext(
                "UPDATE handoffs SET acknowledged_by = \(memberID), acknowledged_at = now() WHERE id = \(handoff.id)")
            try await context.append(
                EventType.handoffAcknowledged, teamID: handoff.teamID, patientID: handoff.patientID, actorID: memberID,
                payload: ["handoff_id": handoff.id.lowercasedString, "task_id": handoff.taskID.lowercasedString])
            return try await context.taskSummary(handoff.taskID)
        }
    }

    /// Gives a handoff to another role's pool, or to a named member holding that role, with a
    /// reason. The new receiver acknowledges it afresh. An event, so the patient's history shows it.
    @discardableResult
    public func reassignHandoff(_ id: UUID, to role: Role, member: UUID? = nil, reason: String, by caller: Caller)
        async throws -> TaskSummary
    {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            throw StoreError.invalidValue(InvalidValue(field: "reason", message: "say why the handoff is reassigned"))
        }
        guard role.isClinical else {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "role", message: "a handoff goes to a clinical role",
                    accepted: Role.allCases.filter(\.isClinical).map(\.rawValue)))
        }
        return try await command(caller) { context in
            let actorID = caller.memberID
            let handoff = try await context.lockHandoff(id)
            try context.authorizeHandoff(handoff)
            if let superseded = handoff.supersededReason {
                throw StoreError.conflict("this handoff was superseded (\(superseded)); it cannot be reassigned")
            }
            guard handoff.taskStatus.isOpen else {
                throw StoreError.conflict(
                    "this handoff's task is \(handoff.taskStatus.rawValue); it cannot be reassigned")
            }
            if let member {
                let roles = try await context.roles(of: member, teamID: handoff.teamID)
                guard roles.contains(role) else {
                    throw StoreError.invalidValue(
                        InvalidValue(
                            field: "member_id", message: "that member is not a \(role.spoken) on the patient's team"))
                }
            }
            let status: TaskStatus = member == nil ? .requested : .accepted
            await context.connection.sendWithNext(
                """
                UPDATE handoffs SET role = \(role.rawValue), assigned_member_id = \(member), acknowledged_by = NULL,
                    acknowledged_at = NULL
                WHERE id = \(handoff.id)
                """)
            await context.connection.sendWithNext(
                """
                UPDATE tasks SET pool_role = \(role.rawValue), owner_id = \(member), status = \(status.rawValue),
                    updated_at = now() WHERE id = \(handoff.taskID)
                """)
            var payload = [
                "handoff_id": handoff.id.lowercasedString, "task_id": handoff.taskID.lowercasedString,
                "from_role": handoff.role.rawValue, "to_role": role.rawValue, "reason": reason,
            ]
            if let member { payload["to_member_id"] = member.lowercasedString }
            try await context.append(
                EventType.handoffReassigned, teamID: handoff.teamID, patientID: handoff.patientID, actorID: actorID,
                payload: payload)
            return try await context.taskSummary(handoff.taskID)
        }
    }

    // MARK: Entered in error

    /// Marks a record entered in error with a reason: by whoever recorded it or a psychiatrist
    /// (a note: its author). The row stays, marked; rules, summaries and reports leave it out;
    /// the handoffs it caused are superseded, and a TRD flag that depended on it goes.
    public func markEnteredInError(_ record: CorrectableRecord, id: UUID, reason: String, by caller: Caller)
        async throws -> Correction
    {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            throw StoreError.invalidValue(
                InvalidValue(field: "reason", message: "say why the \(record.what) was entered in error"))
        }
        return try await command(caller) { context -> Correction in
            let actorID = caller.memberID
            switch record {
            case .measurement: return try await context.markMeasurement(id, reason: reason, actorID: actorID)
            case .trial, .trialOutcome:
                return try await context.markTrial(
                    id, outcomeOnly: record == .trialOutcome, reason: reason, actorID: actorID)
            case .referral: return try await context.markReferral(id, reason: reason, actorID: actorID)
            case .note: return try await context.markNote(id, reason: reason, actorID: actorID)
            }
        }
    }
}

extension CommandContext {
    func lockHandoff(_ id: UUID) async throws -> LockedHandoff {
        let rows = try await connection.query(
            """
            SELECT h.id, h.task_id, h.patient_id, p.team_id, h.role, h.assigned_member_id, h.acknowledged_at,
                h.superseded_reason, t.status
            FROM handoffs h JOIN patients p ON p.id = h.patient_id JOIN tasks t ON t.id = h.task_id
            WHERE h.id = \(id) OR h.task_id = \(id)
            FOR UPDATE OF h, t
            """)
        guard let row = rows.firstRow else { throw StoreError.notFound("handoff \(id.lowercasedString)") }
        let (handoffID, taskID, patientID, teamID, role, assigned, acknowledged, superseded, status) = try row.decode(
            UUID.self, UUID.self, UUID.self, UUID.self, String.self, UUID?.self, Date?.self, String?.self, String.self)
        guard let role = Role(rawValue: role), let status = TaskStatus(rawValue: status) else {
            throw PQError(.decoding, "handoff \(handoffID.lowercasedString) has an unknown role or task status")
        }
        return LockedHandoff(
            id: handoffID, taskID: taskID, patientID: patientID, teamID: teamID, role: role, assignedTo: assigned,
            acknowledgedAt: acknowledged, supersededReason: superseded, taskStatus: status)
    }

    /// The team-wide check (clinicians work handoffs), then the handoff's own: its receiving role.
    func authorizeHandoff(_ handoff: LockedHandoff) throws {
        try authorize(
            .workTasks, teamID: handoff.teamID, patientID: handoff.patientID,
            record: .handoff(role: handoff.role, assignedTo: handoff.assignedTo))
    }

    /// The team-wide permission, then the record's own rule for an entered-in-error mark.
    func authorizeCorrection(_ record: CorrectableRecord, teamID: UUID, patientID: UUID, recordedBy: UUID?) throws {
        try authorize(
            record == .note ? .addNote : .correctRecords, teamID: teamID, patientID: patientID,
            record: .correction(what: record.what, recordedBy: recordedBy, isNote: record == .note))
    }

    func taskSummary(_ taskID: UUID) async throws -> TaskSummary {
        try CareStore.task(
            try await connection.query(
                "SELECT \(unescaped: CareStore.taskColumns) FROM tasks t WHERE t.id = \(taskID)")[0])
    }

    // MARK: Withdrawing causes

    /// Withdraws the causes that `subjects` (records, or the patient for reaching TRD) carried.
    /// A handoff left with no cause while its task is open is superseded; one that keeps other
    /// causes has its title count them again. Escalation follow-ups of a superseded handoff go
    /// with it. Returns the superseded handoffs.
    func withdrawCauses(of subjects: [UUID], patientID: UUID, teamID: UUID, byEvent: Int64, reason: String) async throws
        -> [UUID]
    {
        var superseded: [UUID] = []
        var subjects = subjects
        while !subjects.isEmpty {
            let touched = try await connection.query(
                """
                UPDATE handoff_causes SET withdrawn_at = now(), withdrawn_by_event = \(byEvent)
                WHERE patient_id = \(patientID) AND subject_id = ANY(\(subjects)) AND withdrawn_at IS NULL
                RETURNING handoff_id
                """
            ).column(UUID.self)
            guard !touched.isEmpty else { break }
            let rows = try await connection.query(
                """
                SELECT h.id, h.task_id, t.title, t.status,
                       (SELECT count(*) FROM handoff_causes c WHERE c.handoff_id = h.id AND c.withdrawn_at IS NULL)::int
                FROM handoffs h JOIN tasks t ON t.id = h.task_id
                WHERE h.id = ANY(\(Array(Set(touched)))) AND h.superseded_at IS NULL
                """)
            var closing: [(handoff: UUID, task: UUID)] = []
            var retitled: [PQQuery] = []
            for row in rows {
                let (id, taskID, title, status, remaining) = try row.decode(
                    UUID.self, UUID.self, String.self, String.self, Int.self)
                guard try TaskStatus(column: "tasks.status", status).isOpen else { continue }
                if remaining > 0 {
                    retitled.append(
                        """
                        UPDATE tasks SET title = \(HandoffPlan.title(Self.baseTitle(title), causes: remaining)), \
                        updated_at = now() WHERE id = \(taskID)
                        """
                    )
                    // Its reason is again the newest cause still standing, never a withdrawn one.
                    retitled.append(
                        """
                        UPDATE handoffs h SET reason = (
                            SELECT c.summary FROM handoff_causes c WHERE c.handoff_id = h.id AND c.withdrawn_at IS NULL
                            ORDER BY c.added_at DESC, c.event_id DESC LIMIT 1)
                        WHERE h.id = \(id)
                        """
                    )
                } else {
                    closing.append((id, taskID))
                }
            }
            if !retitled.isEmpty { _ = try await connection.pipeline(retitled) }
            try await supersede(closing, patientID: patientID, teamID: teamID, byEvent: byEvent, reason: reason)
            superseded += closing.map(\.handoff)
            subjects = closing.map(\.handoff)
        }
        return superseded
    }

    /// Closes open handoffs as superseded: the task cancelled with the reason (never deleted),
    /// the handoff marked, and a handoff.superseded event pointing at the withdrawing event.
    func supersede(
        _ handoffs: [(handoff: UUID, task: UUID)], patientID: UUID, teamID: UUID, byEvent: Int64, reason: String
    ) async throws {
        guard !handoffs.isEmpty else { return }
        var statements: [PQQuery] = [
            """
            UPDATE handoffs SET superseded_at = now(), superseded_by_event = \(byEvent), superseded_reason = \(reason)
            WHERE id = ANY(\(handoffs.map(\.handoff)))
            """,
            """
            UPDATE tasks SET status = 'cancelled', status_reason = \("superseded: " + reason), superseded_by_event =
                \(byEvent), updated_at = now()
            WHERE id = ANY(\(handoffs.map(\.task))) AND status NOT IN ('completed', 'cancelled', 'failed')
            """,
        ]
        for (handoff, task) in handoffs {
            let payload: [String: String] = [
                "handoff_id": handoff.lowercasedString, "task_id": task.lowercasedString,
                "by_event_id": String(byEvent), "reason": reason,
            ]
            statements.append(
                """
                INSERT INTO events (type, team_id, patient_id, actor_id, payload)
                VALUES (\(EventType.handoffSuperseded), \(teamID), \(patientID), NULL, \(PQJSON(payload))::jsonb)
                """)
        }
        _ = try await connection.pipeline(statements)
    }

    /// A discharge closes all of the patient's open work with that reason: handoffs superseded,
    /// other tasks cancelled (each with a task.cancelled event naming the discharge).
    func closeOpenWork(patientID: UUID, teamID: UUID, byEvent: Int64, reason: String, actorID: UUID?) async throws -> (
        handoffs: [UUID], tasks: [UUID]
    ) {
        let open = try await connection.query(
            """
            SELECT h.id, h.task_id FROM handoffs h JOIN tasks t ON t.id = h.task_id
            WHERE h.patient_id = \(patientID) AND h.superseded_at IS NULL AND t.status NOT IN ('completed', 'cancelled',
                'failed')
            FOR UPDATE OF h, t
            """
        ).map { try $0.decode(UUID.self, UUID.self) }
        if !open.isEmpty {
            try await connection.query(
                """
                UPDATE handoff_causes SET withdrawn_at = now(), withdrawn_by_event = \(byEvent)
                WHERE handoff_id = ANY(\(open.map(\.0))) AND withdrawn_at IS NULL
                """)
            try await supersede(
                open.map { (handoff: $0.0, task: $0.1) }, patientID: patientID, teamID: teamID, byEvent: byEvent,
                reason: reason)
        }
        let tasks = try await connection.query(
            """
            UPDATE tasks SET status = 'cancelled', status_reason = \(reason), superseded_by_event = \(byEvent),
                updated_at = now()
            WHERE patient_id = \(patientID) AND handoff_id IS NULL AND status NOT IN ('completed', 'cancelled',
                'failed')
            RETURNING id
            """
        ).column(UUID.self)
        if !tasks.isEmpty {
            _ = try await connection.pipeline(
                tasks.map { task in
                    let payload: [String: String] = [
                        "task_id": task.lowercasedString, "by_event_id": String(byEvent), "reason": reason,
                    ]
                    return """
                        INSERT INTO events (type, team_id, patient_id, actor_id, payload)
                        VALUES ('task.cancelled', \(teamID), \(patientID), \(actorID), \(PQJSON(payload))::jsonb)
                        """
                })
        }
        return (open.map(\.0), tasks)
    }

    /// A one-per-patient task's title without its "(N causes)".
    static func baseTitle(_ title: String) -> String {
        guard let match = title.firstMatch(of: /\s\(\d+ causes\)$/) else { return title }
        return String(title[..<match.range.lowerBound])
    }

    // MARK: Marking records entered in error

    private func alreadyMarked(_ at: Date?, _ what: String) throws {
        if let at {
            throw StoreError.conflict("this \(what) was already marked entered in error on \(DayText.format(at))")
        }
    }

    /// A score or a referral: lock the row, ask the gate, mark it, announce it, and withdraw the
    /// causes it carried. `table`, `recorder` and `kind` are column names from this file, never input.
    private func markRow(
        _ record: CorrectableRecord, id: UUID, table: String, recorder: String, kind: String, event: EventType,
        idKey: String,
        reason: String, actorID: UUID?, withdrawal: (String) -> String
    ) async throws -> Correction {
        let rows = try await connection.query(
            """
            SELECT r.patient_id, p.team_id, r.\(unescaped: recorder), r.entered_in_error_at, r.\(unescaped: kind)
            FROM \(unescaped: table) r JOIN patients p ON p.id = r.patient_id WHERE r.id = \(id) FOR UPDATE OF r
            """)
        guard let row = rows.firstRow else { throw StoreError.notFound("\(record.what) \(id.lowercasedString)") }
        let (patientID, teamID, recordedBy, marked, kindValue) = try row.decode(
            UUID.self, UUID.self, UUID?.self, Date?.self, String.self)
        try authorizeCorrection(record, teamID: teamID, patientID: patientID, recordedBy: recordedBy)
        try alreadyMarked(marked, record.what)
        let at = try await connection.query(
            """
            UPDATE \(unescaped: table) SET entered_in_error_at = now(), entered_in_error_by = \(actorID),
                entered_in_error_reason = \(reason)
            WHERE id = \(id) RETURNING entered_in_error_at
            """)[0].decode(Date.self, at: 0)
        let announced = try await append(
            event, teamID: teamID, patientID: patientID, actorID: actorID,
            payload: [idKey: id.lowercasedString, kind: kindValue])
        let superseded = try await withdrawCauses(
            of: [id], patientID: patientID, teamID: teamID, byEvent: announced.id, reason: withdrawal(kindValue))
        return Correction(
            id: id, record: record, patientID: patientID, at: at, by: actorID, reason: reason,
            supersededHandoffIDs: superseded, trdWithdrawn: false)
    }

    func markMeasurement(_ id: UUID, reason: String, actorID: UUID?) async throws -> Correction {
        try await markRow(
            .measurement, id: id, table: "measurements", recorder: "recorded_by", kind: "instrument",
            event: EventType.measurementEnteredInError, idKey: "measurement_id", reason: reason, actorID: actorID
        ) { instrument in
            "the \(instrument) it followed was entered in error"
        }
    }

    func markTrial(_ id: UUID, outcomeOnly: Bool, reason: String, actorID: UUID?) async throws -> Correction {
        let record: CorrectableRecord = outcomeOnly ? .trialOutcome : .trial
        let results = try await connection.pipeline([
            """
            SELECT t.patient_id, p.team_id, t.recorded_by, t.outcome_recorded_by, t.entered_in_error_at, t.outcome,
                t.is_failed, t.kind, t.drug
            FROM trials t JOIN patients p ON p.id = t.patient_id WHERE t.id = \(id)
            FOR UPDATE OF t, p
            """, CommandContext.failedTrials(ofPatientOfTrial: id),
        ])
        guard let row = results[0].firstRow else { throw StoreError.notFound("trial \(id.lowercasedString)") }
        let (patientID, teamID, recordedBy, outcomeBy, marked, outcome, isFailed, kind, drug) = try row.decode(
            UUID.self, UUID.self, UUID?.self, UUID?.self, Date?.self, String?.self, Bool.self, String.self, String?.self
        )
        try authorizeCorrection(
            record, teamID: teamID, patientID: patientID,
            recordedBy: outcomeOnly ? (outcomeBy ?? recordedBy) : recordedBy)
        try alreadyMarked(marked, "trial")
        let name = drug ?? kind
        let at: Date
        let event: AppendedEvent
        if outcomeOnly {
            guard let outcome else { throw StoreError.conflict("this trial has no outcome recorded") }
            at = try await connection.query(
                """
                UPDATE trials SET withdrawn_outcomes = withdrawn_outcomes || jsonb_build_array(jsonb_build_object(
                        'outcome', outcome, 'stopped_on', stopped_on, 'adherence', adherence, 'sessions', sessions,
                            'stop_reason', stop_reason,
                        'is_failed', is_failed, 'recorded_by', outcome_recorded_by, 'withdrawn_at', now(),
                            'withdrawn_by', \(actorID)::uuid,
                        'reason', \(reason)::text)),
                    outcome = NULL, stopped_on = NULL, adherence = NULL, stop_reason = NULL, is_failed = false,
                        outcome_recorded_by = NULL,
                    updated_at = now()
                WHERE id = \(id) RETURNING now()
                """)[0].decode(Date.self, at: 0)
            event = try await append(
                EventType.trialOutcomeEnteredInError, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["trial_id": id.lowercasedString, "outcome": outcome])
        } else {
            at = try await connection.query(
                """
                UPDATE trials SET entered_in_error_at = now(), entered_in_error_by = \(actorID), entered_in_error_reason
                    = \(reason), updated_at = now()
                WHERE id = \(id) RETURNING entered_in_error_at
                """)[0].decode(Date.self, at: 0)
            event = try await append(
                EventType.trialEnteredInError, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["trial_id": id.lowercasedString, "kind": kind])
        }
        let superseded = try await withdrawCauses(
            of: [id], patientID: patientID, teamID: teamID, byEvent: event.id,
            reason: outcomeOnly
                ? "the \(name) outcome it followed was entered in error"
                : "the \(name) trial it followed was entered in error")
        var trdWithdrawn = false
        var all = superseded
        if isFailed {
            // TRD as it stood, and without this trial.
            let rules = try await referenceData().trialRules
            let before = try CommandContext.failedTrials(results[1])
            var after = before
            if let index = try results[1].firstIndex(where: { try $0.decode(UUID.self, at: 3) == id }) {
                after.remove(at: index)
            }
            if rules.trdStatus(failed: before).isTRD, !rules.trdStatus(failed: after).isTRD {
                trdWithdrawn = true
                let status = rules.trdStatus(failed: after)
                let withdrawn = try await append(
                    EventType.trdWithdrawn, teamID: teamID, patientID: patientID, actorID: actorID,
                    payload: [
                        "failed_trials": "\(status.failedTrials)", "classes": "\(status.distinctClasses)",
                        "by_event_id": String(event.id),
                    ])
                all += try await withdrawCauses(
                    of: [patientID], patientID: patientID, teamID: teamID, byEvent: withdrawn.id,
                    reason: "the patient no longer meets the treatment-resistant depression definition")
            }
        }
        return Correction(
            id: id, record: record, patientID: patientID, at: at, by: actorID, reason: reason,
            supersededHandoffIDs: all, trdWithdrawn: trdWithdrawn)
    }

    func markReferral(_ id: UUID, reason: String, actorID: UUID?) async throws -> Correction {
        try await markRow(
            .referral, id: id, table: "referrals", recorder: "made_by", kind: "kind",
            event: EventType.referralEnteredInError, idKey: "referral_id", reason: reason, actorID: actorID
        ) { kind in
            "the \(kind.uppercased()) referral it followed was entered in error"
        }
    }

    func markNote(_ id: UUID, reason: String, actorID: UUID?) async throws -> Correction {
        // Row-level security hides other members' psychotherapy notes: not found, as for anyone else.
        let rows = try await connection.query(
            """
            SELECT n.patient_id, p.team_id, n.author_id, n.entered_in_error_at, n.kind
            FROM notes n JOIN patients p ON p.id = n.patient_id WHERE n.id = \(id) FOR UPDATE OF n
            """)
        guard let row = rows.firstRow else { throw StoreError.notFound("note \(id.lowercasedString)") }
        let (patientID, teamID, author, marked, kind) = try row.decode(
            UUID.self, UUID.self, UUID.self, Date?.self, String.self)
        if kind == NoteKind.psychotherapy.rawValue, let reader = acting?.principal.memberID, reader != author {
            throw StoreError.notFound("note \(id.lowercasedString)")
        }
        try authorizeCorrection(.note, teamID: teamID, patientID: patientID, recordedBy: author)
        try alreadyMarked(marked, "note")
        let at = try await connection.query(
            """
            UPDATE notes SET entered_in_error_at = now(), entered_in_error_by = \(actorID), entered_in_error_reason =
                \(reason)
            WHERE id = \(id) RETURNING entered_in_error_at
            """)[0].decode(Date.self, at: 0)
        try await append(
            EventType.noteEnteredInError, teamID: teamID, patientID: patientID, actorID: actorID,
            payload: ["note_id": id.lowercasedString, "kind": kind])
        return Correction(
            id: id, record: .note, patientID: patientID, at: at, by: actorID, reason: reason, supersededHandoffIDs: [],
            trdWithdrawn: false)
    }
}
