import CoreFormats
import CareDomain
import Foundation
import PQ

/// What a care plan holds; each save is a new version.
public struct CarePlanContent: Sendable, Equatable, Codable {
    public var goals: [String]
    public var problems: [String]
    public var treatmentLine: String

    public init(goals: [String], problems: [String], treatmentLine: String) {
        self.goals = goals
        self.problems = problems
        self.treatmentLine = treatmentLine
    }
}

extension CareStore {
    // MARK: Care plans

    /// Saves a new version of the patient's care plan, if `expectedVersion` is still the active
    /// one: optimistic concurrency, so two clinicians never overwrite each other unawares.
    public func updateCarePlan(patientID: UUID, expectedVersion: Int, content: CarePlanContent, by caller: Caller)
        async throws -> Int
    {
        try await saveCarePlan(patientID: patientID, expectedVersion: expectedVersion, content: content, by: caller)
            .version
    }

    /// `updateCarePlan`, answering with the plan as saved.
    public func saveCarePlan(patientID: UUID, expectedVersion: Int, content: CarePlanContent, by caller: Caller)
        async throws -> CarePlan
    {
        return try await command(caller) { context in
            let actorID = caller.memberID
            let teamID = try await context.patientTeam(patientID, for: .editCarePlan)
            let rows = try await context.connection.query(
                """
                SELECT version FROM care_plans WHERE patient_id = \(patientID) AND is_active FOR UPDATE
                """)
            guard let row = rows.firstRow else { throw StoreError.notFound("care plan of patient \(patientID)") }
            let current = try row.decode(Int.self, at: 0)
            guard current == expectedVersion else {
                throw StoreError.staleVersion(what: "the care plan", current: current, expected: expectedVersion)
            }
            try await context.connection.query(
                "UPDATE care_plans SET is_active = false WHERE patient_id = \(patientID) AND is_active")
            let saved = try await context.connection.query(
                """
                INSERT INTO care_plans (patient_id, version, goals, problems, treatment_line, author_id)
                VALUES (\(patientID), \(current + 1), \(PQJSON(content.goals))::jsonb,
                    \(PQJSON(content.problems))::jsonb, \(content.treatmentLine), \(actorID))
                RETURNING created_at
                """)[0].decode(Date.self, at: 0)
            try await context.append(
                .carePlanUpdated, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["version": "\(current + 1)"])
            return CarePlan(
                patientID: patientID, version: current + 1, content: content, authorID: actorID, updatedAt: saved)
        }
    }

    // MARK: Tasks

    /// A task for a member, or for a role's pool when `ownerID` is nil.
    public func createTask(
        patientID: UUID, title: String, description: String = "", ownerID: UUID? = nil, poolRole: Role? = nil,
        priority: TaskPriority = .routine, dueAt: Date? = nil, notBefore: Date? = nil, by caller: Caller
    ) async throws -> UUID {
        let title = title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !title.isEmpty else { throw StoreError.invalid("a task needs a title") }
        guard ownerID != nil || poolRole != nil else {
            throw StoreError.invalid("a task needs an owner or a role pool")
        }
        if let poolRole, !poolRole.isClinical {
            throw StoreError.invalidValue(
                InvalidValue(
                    field: "pool_role", message: "a task's pool is a clinical role",
                    accepted: Role.allCases.filter(\.isClinical).map(\.rawValue)))
        }
        if let dueAt, let notBefore, notBefore > dueAt {
            throw StoreError.invalid("a task cannot start after it is due")
        }
        return try await command(caller) { context in
            let actorID = caller.memberID
            let teamID = try await context.patientTeam(patientID, for: .workTasks)
            if let ownerID { try await context.requireTeamMember(ownerID, teamID: teamID) }
            let id = try await context.connection.query(
                """
                INSERT INTO tasks (patient_id, title, description, owner_id, pool_role, priority, due_at, not_before,
                    created_by, status)
                VALUES (\(patientID), \(title), \(description), \(ownerID), \(poolRole?.rawValue), \(priority.rawValue),
                    \(dueAt), \(notBefore), \(actorID),
                        \(ownerID == nil ? TaskStatus.requested.rawValue : TaskStatus.accepted.rawValue))
                RETURNING id
                """)[0].decode(UUID.self, at: 0)
            try await context.append(
                .taskCreated, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["task_id": id.lowercasedString])
            return id
        }
    }

    /// Gives a task to a member of the patient's team.
    @discardableResult
    public func assignTask(_ taskID: UUID, to memberID: UUID, by caller: Caller) async throws -> TaskSummary {
        try await changeTask(taskID, event: .taskAssigned, by: caller) { context, task in
            guard task.status.isOpen else {
                throw StoreError.conflict("this task is \(task.status.rawValue); it cannot be given to anyone")
            }
            try await context.requireTeamMember(memberID, teamID: task.teamID)
            // A requested task becomes accepted by its new owner; one under way stays as it is.
            let next = task.status == .requested ? TaskStatus.accepted : task.status
            try await context.connection.query(
                """
                UPDATE tasks SET owner_id = \(memberID), status = \(next.rawValue), updated_at = now() WHERE id = \
                \(task.id)
                """
            )
            return ["owner_id": memberID.lowercasedString]
        }
    }

    /// A member takes a task from their role's pool.
    @discardableResult
    public func claimTask(_ taskID: UUID, note: String? = nil, by caller: Caller) async throws -> TaskSummary {
        let note = Self.moveNote(note)
        return try await changeTask(taskID, event: .taskClaimed, by: caller) { context, task in
            let memberID = try Self.member(caller, "claims a task")
            if task.ownerID != nil, task.status != .requested {
                throw StoreError.conflict("this task is already claimed")
            }
            if case .failure(let error) = task.status.moving(to: .accepted) { throw StoreError.moveNotAllowed(error) }
            try await context.requirePool(task, memberID: memberID)
            try await context.connection.query(
                "UPDATE tasks SET owner_id = \(memberID), status = 'accepted', updated_at = now() WHERE id = \(task.id)"
            )
            return note.map { ["note": $0] } ?? [:]
        }
    }

    /// Starts a task; an unclaimed one is claimed for the member in the same step.
    @discardableResult
    public func startTask(_ taskID: UUID, note: String? = nil, by caller: Caller) async throws -> TaskSummary {
        try await moveTask(taskID, to: .inProgress, event: .taskStarted, by: caller, note: note)
    }

    /// Completes a task; a requested or accepted one is claimed for the completer in the same step.
    @discardableResult
    public func completeTask(_ taskID: UUID, evidence: String? = nil, by caller: Caller) async throws -> TaskSummary {
        try await moveTask(
            taskID, to: .completed, event: EventType.taskCompleted, by: caller, evidence: evidence, note: evidence)
    }

    /// Completes a task after `first` has done what completing it records, in the same
    /// transaction (the contraindication screen: PriorAuth.swift).
    func completeTask(
        _ taskID: UUID, evidence: String?, by caller: Caller,
        first: @escaping @Sendable (CommandContext, LockedTask) async throws -> [String: String]
    ) async throws -> TaskSummary {
        try await moveTask(
            taskID, to: .completed, event: EventType.taskCompleted, by: caller, evidence: evidence, first: first)
    }

    /// Cancels an open task, with a reason.
    @discardableResult
    public func cancelTask(_ taskID: UUID, reason: String?, by caller: Caller) async throws -> TaskSummary {
        try await moveTask(taskID, to: .cancelled, event: .taskCancelled, by: caller, reason: reason)
    }

    /// Closes an open task as failed (it could not be done), with a reason.
    @discardableResult
    public func failTask(_ taskID: UUID, reason: String?, by caller: Caller) async throws -> TaskSummary {
        try await moveTask(taskID, to: .failed, event: .taskFailed, by: caller, reason: reason)
    }

    /// Puts an open task on hold (waiting for something outside the team).
    @discardableResult
    public func holdTask(_ taskID: UUID, reason: String? = nil, by caller: Caller) async throws -> TaskSummary {
        try await moveTask(taskID, to: .onHold, event: .taskHeld, by: caller, reason: reason)
    }

    /// Takes a task off hold: back under way when someone owns it, back to its pool otherwise.
    @discardableResult
    public func resumeTask(_ taskID: UUID, note: String? = nil, by caller: Caller) async throws -> TaskSummary {
        try await moveTask(taskID, to: nil, event: .taskResumed, by: caller, note: note)
    }

    /// A move's note or reason, trimmed; nil when empty. It travels in the move's event (the patient's
    /// history shows it), so that nothing a clinician wrote with a move is dropped.
    static func moveNote(_ note: String?) -> String? {
        note.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// One move of the task status machine (docs/domain.md). `next` nil: resume from on-hold.
    private func moveTask(
        _ taskID: UUID, to requested: TaskStatus?, event: EventType, by caller: Caller, evidence: String? = nil,
        reason: String? = nil, note: String? = nil,
        first: (@Sendable (CommandContext, LockedTask) async throws -> [String: String])? = nil
    ) async throws -> TaskSummary {
        let note = Self.moveNote(note)
        let reason = Self.moveNote(reason)
        return try await changeTask(taskID, event: event, by: caller) { context, task in
            let actorID = try Self.member(caller, "works a task")
            let next: TaskStatus
            if let requested {
                next = requested
            } else {
                guard task.status == .onHold else {
                    throw StoreError.moveNotAllowed(
                        TransitionError(
                            subject: "task", from: task.status.rawValue, to: "resumed",
                            allowed: task.status.allowedNextInOrder.map(\.rawValue)))
                }
                next = task.ownerID == nil ? .requested : .inProgress
            }
            if case .failure(let error) = task.status.moving(to: next) { throw StoreError.moveNotAllowed(error) }
            if next.needsReason, reason == nil {
                throw StoreError.invalidValue(
                    InvalidValue(field: "reason", message: "say why the task is \(next.rawValue)"))
            }
            var owner = task.ownerID
            var payload = ["from": task.status.rawValue, "to": next.rawValue]
            if let note { payload["note"] = note }
            if let reason { payload["reason"] = reason }
            if let first { payload.merge(try await first(context, task)) { $1 } }
            // Starting or completing an unclaimed task claims it for whoever does it.
            if owner == nil, next == .inProgress || next == .completed {
                try await context.requirePool(task, memberID: actorID)
                owner = actorID
                payload["claimed_by"] = actorID.lowercasedString
            }
            // The reason belongs to the status it explains: a hold's reason goes when the task is
            // resumed or done (the move's event keeps it for the history).
            let statusReason = [.onHold, .cancelled, .failed].contains(next) ? reason : nil
            try await context.connection.query(
                """
                UPDATE tasks SET status = \(next.rawValue), owner_id = \(owner), updated_at = now(),
                    evidence = coalesce(\(evidence), evidence), status_reason = \(statusReason),
                    completed_at = CASE WHEN \(next.rawValue) = 'completed' THEN now() ELSE completed_at END
                WHERE id = \(task.id)
                """)
            return payload
        }
    }

    private func changeTask(
        _ taskID: UUID, event: EventType, by caller: Caller,
        _ change: @Sendable (CommandContext, LockedTask) async throws -> [String: String]
    ) async throws -> TaskSummary {
        return try await command(caller) { context in
            let actorID = caller.memberID
            // A handoff's id names its task too.
            let rows = try await context.connection.query(
                """
                SELECT t.id, t.patient_id, p.team_id, t.status, t.owner_id, t.pool_role FROM tasks t JOIN patients p ON
                    p.id = t.patient_id
                WHERE t.id = \(taskID) OR t.handoff_id = \(taskID) FOR UPDATE OF t
                """)
            guard let row = rows.firstRow else { throw StoreError.notFound("task \(taskID.lowercasedString)") }
            let (id, patientID, teamID, status, owner, pool) = try row.decode(
                UUID.self, UUID.self, UUID.self, String.self, UUID?.self, String?.self)
            try context.authorize(.workTasks, teamID: teamID, patientID: patientID)
            guard let current = TaskStatus(rawValue: status) else {
                throw PQError(.decoding, "task \(id.lowercasedString) has an unknown status \(status)")
            }
            let task = LockedTask(
                id: id, patientID: patientID, teamID: teamID, status: current, ownerID: owner,
                poolRole: try pool.map { try Role(column: "tasks.pool_role", $0) })
            var payload = try await change(context, task)
            payload["task_id"] = id.lowercasedString
            try await context.append(event, teamID: teamID, patientID: patientID, actorID: actorID, payload: payload)
            // The task as changed, from the same transaction.
            return try await context.taskSummary(id)
        }
    }

    // MARK: Notes

    /// Adds a note; with `amends`, a new note pointing at the one it corrects (notes are never edited).
    public func addNote(patientID: UUID, kind: NoteKind, body: String, amends: UUID? = nil, by caller: Caller)
        async throws -> UUID
    {
        guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw StoreError.invalid("a note needs a body")
        }
        return try await command(caller) { context in
            let authorID = try Self.member(caller, "writes a note")
            let teamID = try await context.patientTeam(
                patientID, for: kind == .psychotherapy ? .addPsychotherapyNote : .addNote)
            try await context.requireTeamMember(authorID, teamID: teamID)
            if let amends {
                let original = try await context.connection.query(
                    "SELECT patient_id, author_id, kind, entered_in_error_at FROM notes WHERE id = \(amends)")
                guard let row = original.firstRow else { throw StoreError.notFound("note \(amends)") }
                let (originalPatient, originalAuthor, originalKind, marked) = try row.decode(
                    UUID.self, UUID.self, String.self, Date?.self)
                guard originalPatient == patientID else {
                    throw StoreError.invalid("an amendment must be about the same patient")
                }
                // Nobody else may see a psychotherapy note, so nobody else may amend one.
                if originalKind == NoteKind.psychotherapy.rawValue, originalAuthor != authorID {
                    throw StoreError.notFound("note \(amends)")
                }
                try context.authorize(
                    .addNote, teamID: teamID, patientID: patientID, record: .noteAmendment(author: originalAuthor))
                // The system acting for a member is held to the same authorship rule.
                if context.acting == nil,
                    case .refused(let reason) = Permission.decide(
                        .addNote, roles: Role.clinical, scopes: [], memberID: authorID,
                        record: .noteAmendment(author: originalAuthor))
                {
                    throw StoreError.forbidden(reason)
                }
                guard originalKind == kind.rawValue else {
                    throw StoreError.invalidValue(
                        InvalidValue(
                            field: "kind",
                            message: "an amendment keeps the kind of the note it amends (\(originalKind))",
                            accepted: [originalKind]))
                }
                if marked != nil {
                    throw StoreError.conflict("this note was entered in error; write a new note instead")
                }
            }
            let id = try await context.connection.query(
                """
                INSERT INTO notes (patient_id, author_id, kind, body, amends_id) VALUES (\(patientID), \(authorID),
                    \(kind.rawValue), \(body), \(amends))
                RETURNING id
                """)[0].decode(UUID.self, at: 0)
            // Events carry ids and kinds, never a note's body.
            try await context.append(
                amends == nil ? .noteAdded : .noteAmended, teamID: teamID, patientID: patientID, actorID: authorID,
                payload: ["note_id": id.lowercasedString, "kind": kind.rawValue])
            return id
        }
    }
}

extension CareStore {
    /// The member a command records as having done it; the system acting for nobody cannot.
    static func member(_ caller: Caller, _ what: String) throws -> UUID {
        guard let member = caller.memberID else {
            throw StoreError.invalid("a member \(what); the system acts for nobody here")
        }
        return member
    }
}

struct LockedTask {
    var id: UUID
    var patientID: UUID
    var teamID: UUID
    var status: TaskStatus
    var ownerID: UUID?
    var poolRole: Role?
}

extension CommandContext {
    func roles(of memberID: UUID, teamID: UUID) async throws -> Set<Role> {
        let rows = try await connection.query(
            "SELECT role FROM memberships WHERE member_id = \(memberID) AND team_id = \(teamID)")
        return Set(try rows.column(String.self).map { try Role(column: "memberships.role", $0) })
    }

    /// Claiming a pool's task takes a member of that pool: the permission table's rule, asked
    /// with the claiming member's roles (also when the system acts for them).
    func requirePool(_ task: LockedTask, memberID: UUID) async throws {
        let roles = try await roles(of: memberID, teamID: task.teamID)
        let decision = Permission.decide(
            .workTasks, roles: roles, scopes: [], memberID: memberID, record: .poolTask(pool: task.poolRole))
        if case .refused(let reason) = decision { throw StoreError.forbidden(reason) }
    }

    func requireTeamMember(_ memberID: UUID, teamID: UUID) async throws {
        if try await roles(of: memberID, teamID: teamID).isEmpty {
            throw StoreError.invalid("member \(memberID) is not on the patient's team")
        }
    }
}
