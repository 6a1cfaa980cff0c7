import CoreFormats
import CareDomain
import Foundation
import PQ

extension CareStore {
    // MARK: Teams, members, patients

    /// A new team. A request's caller must be an admin (of any team) and becomes the new
    /// team's first admin; the system's `actingFor` member too, when it names one.
    public func createTeam(name: String, timeZone: String = TeamTimeZone.utc, by caller: Caller) async throws -> UUID {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw StoreError.invalid("a team needs a name") }
        let zone: String
        do { zone = try TeamTimeZone.validate(timeZone) } catch { throw StoreError.invalidValue(error) }
        // Teams and memberships are written with the server's rights, after the gate (migration 0012).
        return try await command(caller, asService: true) { context in
            try context.authorizeAnyTeam(.createTeam)
            do {
                let id = try await context.connection.query(
                    "INSERT INTO teams (name, time_zone) VALUES (\(trimmed), \(zone)) RETURNING id")[0].decode(
                        UUID.self, at: 0)
                if let admin = caller.memberID {
                    try await context.connection.query(
                        "INSERT INTO memberships (team_id, member_id, role) VALUES (\(id), \(admin), 'admin')")
                }
                try await context.append(
                    .teamCreated, teamID: id, patientID: nil, actorID: caller.memberID,
                    payload: ["team_id": id.lowercasedString])
                return id
            } catch let error as PQError where error.constraint == "teams_name_unique" {
                throw StoreError.conflict("a team named \(trimmed) already exists")
            }
        }
    }

    /// Every team with its zone and how many members and patients it has: for the server's
    /// operator (`care-server admin teams`), never for a request.
    public func teamsOverview(by caller: Caller) async throws -> [TeamOverview] {
        guard caller.request == nil else { throw StoreError.forbidden("only the server's operator lists every team") }
        return try await command(caller) { context in
            try await context.connection.query(
                """
                SELECT t.id, t.name, t.time_zone,
                       (SELECT count(DISTINCT m.member_id) FROM memberships m WHERE m.team_id = t.id),
                       (SELECT count(*) FROM patients p WHERE p.team_id = t.id AND p.status <> 'discharged')
                FROM teams t ORDER BY t.name, t.id
                """
            ) { row in
                let (id, name, zone, members, patients) = try row.decode(
                    UUID.self, String.self, String.self, Int.self, Int.self)
                return TeamOverview(id: id, name: name, timeZone: zone, members: members, patients: patients)
            }
        }
    }

    /// Changes a team's time zone (the team's admins): an event, and the report's weeks, "this
    /// week" and date-only inputs follow it from then on (docs/time-zones.md).
    public func setTimeZone(teamID: UUID, _ timeZone: String, by caller: Caller) async throws -> String {
        let zone: String
        do { zone = try TeamTimeZone.validate(timeZone) } catch { throw StoreError.invalidValue(error) }
        return try await command(caller, asService: true) { context in
            try await context.requireTeam(teamID)
            try context.authorize(.manageTeam, teamID: teamID, patientID: nil)
            let previous = try await context.connection.query(
                "SELECT time_zone FROM teams WHERE id = \(teamID) FOR UPDATE")[0].decode(String.self, at: 0)
            guard previous != zone else { return zone }
            try await context.connection.query("UPDATE teams SET time_zone = \(zone) WHERE id = \(teamID)")
            try await context.append(
                .teamTimeZoneChanged, teamID: teamID, patientID: nil, actorID: caller.memberID,
                payload: ["team_id": teamID.lowercasedString, "from": previous, "to": zone])
            return zone
        }
    }

    /// Takes a member off a team (someone leaving, or moving to another team): their roles there
    /// go, so the next request they make no longer reaches its patients, and every open task
    /// they own on its patients goes back to the pool of its role, requested again (a task with
    /// no pool goes to the member's own clinical role there), each with a `task.released`
    /// event. The team's last admin stays (409): make another admin first. Their tokens are
    /// left alone (they may be on other teams): `care-server admin revoke-token --member`.
    public func removeMember(_ memberID: UUID, fromTeam teamID: UUID, by caller: Caller) async throws -> [UUID] {
        try await command(caller, asService: true) { context in
            let place = try await context.managedPlace(of: memberID, on: teamID)
            let roles = place.roles
            guard !roles.isEmpty else { throw StoreError.notFound("member \(memberID) on team \(teamID)") }
            try place.refuseLeavingNoAdmin(staysAdmin: false)
            let fallback = [Role.psychiatrist, .psychologist, .socialWorker, .careManager].first(where: roles.contains)
            let released = try await context.connection.query(
                """
                UPDATE tasks t SET owner_id = NULL, status = 'requested', pool_role = coalesce(t.pool_role, \(
                    fallback?.rawValue)), updated_at = now()
                FROM patients p
                WHERE p.id = t.patient_id AND p.team_id = \(teamID) AND t.owner_id = \(memberID)
                  AND t.status IN ('requested', 'accepted', 'in-progress', 'on-hold')
                RETURNING t.id, t.patient_id, t.pool_role
                """
            ) { row in try row.decode(UUID.self, UUID.self, String?.self) }
            if released.contains(where: { $0.2 == nil }) {
                throw StoreError.conflict(
                    "this member owns tasks on the team with no pool to go back to: give them to someone first")
            }
            try await context.connection.query(
                "DELETE FROM memberships WHERE team_id = \(teamID) AND member_id = \(memberID)")
            // Each released task is a change to its patient's record: audited by patient.
            context.trail.touch(released.map(\.1))
            for (taskID, patientID, pool) in released {
                try await context.append(
                    .taskReleased, teamID: teamID, patientID: patientID, actorID: caller.memberID,
                    payload: [
                        "task_id": taskID.lowercasedString, "from_owner": memberID.lowercasedString,
                        "pool_role": pool ?? "", "reason": "its owner left the team",
                    ])
            }
            try await context.append(
                .memberRemoved, teamID: teamID, patientID: nil, actorID: caller.memberID,
                payload: [
                    "member_id": memberID.lowercasedString,
                    "roles": roles.map(\.rawValue).sorted().joined(separator: ","),
                    "released_tasks": String(released.count),
                ])
            return released.map(\.0).sorted { $0.uuidString < $1.uuidString }
        }
    }

    /// Sets a member's roles on a team: promoting someone to admin, or a change of role. A team's
    /// admin changes only the team's own members (anyone else is 404: an admin learns nothing of
    /// other teams' members); the operator (`.system`, `care-server admin set-roles`) may also
    /// give an existing member roles on another team (moving teams: this on the new team, then
    /// `removeMember` on the old one). Service accounts keep the integration role they were made
    /// with; the team's last admin keeps admin (409). The member as the team now lists them.
    public func setMemberRoles(_ memberID: UUID, onTeam teamID: UUID, roles: [Role], by caller: Caller) async throws
        -> TeamMemberItem
    {
        let wanted = Set(roles)
        guard !wanted.isEmpty else { throw StoreError.invalid("a member needs at least one role on the team") }
        guard !wanted.contains(.integration) else {
            throw StoreError.invalid(
                "integration is for service accounts; create them with care-server admin create-service-account")
        }
        return try await command(caller, asService: true) { context in
            let place = try await context.managedPlace(of: memberID, on: teamID)
            let current = place.roles
            guard let isServiceAccount = place.isServiceAccount else { throw StoreError.notFound("member \(memberID)") }
            if current.isEmpty, caller.request != nil {
                throw StoreError.notFound("member \(memberID) on team \(teamID)")
            }
            if isServiceAccount {
                throw StoreError.invalid("a service account's roles are its scopes: issue it a token with other scopes")
            }
            try place.refuseLeavingNoAdmin(staysAdmin: wanted.contains(.admin))
            if current != wanted {
                for role in current.subtracting(wanted) {
                    await context.connection.sendWithNext(
                        """
                        DELETE FROM memberships WHERE team_id = \(teamID) AND member_id = \(memberID) AND role = \(
                            role.rawValue)
                        """)
                }
                for role in wanted.subtracting(current) {
                    await context.connection.sendWithNext(
                        """
                        INSERT INTO memberships (team_id, member_id, role)
                        VALUES (\(teamID), \(memberID), \(role.rawValue))
                        """)
                }
                try await context.append(
                    .memberRolesChanged, teamID: teamID, patientID: nil, actorID: caller.memberID,
                    payload: [
                        "member_id": memberID.lowercasedString,
                        "from": current.map(\.rawValue).sorted().joined(separator: ","),
                        "to": wanted.map(\.rawValue).sorted().joined(separator: ","),
                    ])
            }
            guard let listed = try await context.members(of: teamID).first(where: { $0.id == memberID }) else {
                throw StoreError.notFound("member \(memberID) on team \(teamID)")
            }
            return listed
        }
    }

    /// A member with their roles on one team.
    public func createMember(
        displayName: String, email: String? = nil, teamID: UUID, roles: [Role], isServiceAccount: Bool = false,
        by caller: Caller
    ) async throws -> UUID {
        let trimmed = try Self.checkedMember(displayName, roles)
        return try await command(caller, asService: true) { context in
            try await context.insertMember(
                trimmed, email: email, teamID: teamID, roles: roles, isServiceAccount: isServiceAccount,
                actorID: caller.memberID)
        }
    }

    /// A member and their first token in one transaction: both or neither. Runs with the
    /// server's rights (care_app may not write tokens nor their team-less events) after the
    /// same check as `createMember`, that the caller manages the team; nothing in it is clinical.
    public func createMemberWithToken(
        displayName: String, email: String? = nil, teamID: UUID, roles: [Role], tokenName: String? = nil,
        expiresAt: Date?, by caller: Caller
    ) async throws -> (memberID: UUID, token: IssuedToken) {
        let trimmed = try Self.checkedMember(displayName, roles)
        return try await command(caller, asService: true) { context in
            // The caller's right to the team first: a stranger learns nothing from the rest.
            try await context.requireTeam(teamID)
            try context.authorize(.manageTeam, teamID: teamID, patientID: nil)
            if let expiresAt, expiresAt <= Date() {
                throw StoreError.invalidValue(
                    InvalidValue(field: "token_expires_at", message: "'token_expires_at' must be in the future"))
            }
            // A token made for a request's caller lasts a year at most (an operator's may last longer).
            if caller.request != nil,
                (expiresAt ?? .distantFuture) > Date().addingTimeInterval(Self.maximumRequestTokenDays * 86_400)
            {
                throw StoreError.invalidValue(
                    InvalidValue(
                        field: "token_expires_at",
                        message:
                            """
                            'token_expires_at' is more than \(Int(Self.maximumRequestTokenDays)) days away; a token \
                            lasts a year at most
                            """
                    ))
            }
            let member = try await context.insertMember(
                trimmed, email: email, teamID: teamID, roles: roles, isServiceAccount: false, actorID: caller.memberID)
            // Named for who issued it unless a name is given.
            let name = tokenName ?? "issued by \(caller.request?.principal.displayName ?? "the server's operator")"
            let token = try await context.insertToken(
                memberID: member, name: name, scopes: [], expiresAt: expiresAt, actorID: caller.memberID)
            return (member, token)
        }
    }

    /// The longest life of a token made through the API.
    public static let maximumRequestTokenDays: TimeInterval = 365

    static func checkedMember(_ displayName: String, _ roles: [Role]) throws -> String {
        let trimmed = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw StoreError.invalid("a member needs a name") }
        guard !roles.isEmpty else { throw StoreError.invalid("a member needs at least one role") }
        return trimmed
    }

    public func createPatient(teamID: UUID, mrn: String, displayName: String, enrolledOn: Date, by caller: Caller)
        async throws -> UUID
    {
        let mrn = mrn.trimmingCharacters(in: .whitespacesAndNewlines)
        let name = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !mrn.isEmpty, !name.isEmpty else { throw StoreError.invalid("a patient needs an MRN and a display name") }
        return try await command(caller) { context in
            let actorID = caller.memberID
            let calendar = try await context.requireTeam(teamID)
            try context.authorize(.managePatients, teamID: teamID, patientID: nil)
            // Enrolled today at the latest, on the team's calendar (docs/time-zones.md).
            let today = calendar.today(at: Date())
            if DayText.startOfDay(enrolledOn) > today {  // stored as its date (UTC), like every date
                throw StoreError.invalidValue(
                    InvalidValue(
                        field: "enrolled_on",
                        message:
                            """
                            'enrolled_on' \(DayText.format(enrolledOn)) is in the future; it can be today \
                            (\(DayText.format(today)) in \(calendar.name), the team's time zone) at the latest
                            """,
                        accepted: ["on or before \(DayText.format(today))"]))
            }
            let id: UUID
            do {
                id = try await context.connection.query(
                    """
                    INSERT INTO patients (team_id, mrn, display_name, enrolled_on, episode_started_on)
                    VALUES (\(teamID), \(mrn), \(name), \(enrolledOn)::date, \(enrolledOn)::date) RETURNING id
                    """)[0].decode(UUID.self, at: 0)
            } catch let error as PQError where error.constraint == "patients_mrn_unique" {
                throw StoreError.conflict("MRN \(mrn) is already enrolled on this team")
            }
            context.trail.touch(id)
            try await context.connection.query(
                "INSERT INTO care_plans (patient_id, version, author_id) VALUES (\(id), 1, \(actorID))")
            try await context.append(
                .patientEnrolled, teamID: teamID, patientID: id, actorID: actorID,
                payload: ["patient_id": id.lowercasedString])
            return id
        }
    }

    /// Moves a patient through enrolled, active, relapse-prevention and discharged. A discharge
    /// closes all of the patient's open work with that reason (handoffs superseded, tasks cancelled).
    @discardableResult
    public func changePatientStatus(_ patientID: UUID, to status: PatientStatus, by caller: Caller) async throws -> (
        handoffs: [UUID], tasks: [UUID]
    ) {
        return try await command(caller) { context in
            let actorID = caller.memberID
            let rows = try await context.connection.query(
                "SELECT team_id, status FROM patients WHERE id = \(patientID) FOR UPDATE")
            guard let row = rows.firstRow else { throw StoreError.notFound("patient \(patientID)") }
            let (teamID, current) = try row.decode(UUID.self, String.self)
            try context.authorize(.managePatients, teamID: teamID, patientID: patientID)
            let from = try checkedTransition(from: current, to: status, of: "patient")
            try await context.connection.query(
                "UPDATE patients SET status = \(status.rawValue), updated_at = now() WHERE id = \(patientID)")
            let event = try await context.append(
                .patientStatusChanged, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["from": from.rawValue, "to": status.rawValue])
            guard status == .discharged else { return ([], []) }
            return try await context.closeOpenWork(
                patientID: patientID, teamID: teamID, byEvent: event.id, reason: "patient discharged", actorID: actorID)
        }
    }

    // MARK: Measurements

    /// Records a score; a PHQ-9 with item 9 above 0 produces same-day safety handoffs.
    public func recordMeasurement(patientID: UUID, score: Score, takenAt: Date, by caller: Caller) async throws -> (
        measurementID: UUID, event: AppendedEvent
    ) {
        return try await command(caller) { context in
            let actorID = caller.memberID
            // The patient and the event's id in one round trip; the score, its event and any
            // safety handoffs go with COMMIT (docs/architecture.md, "The path of a write").
            let patient = try await context.patient(patientID, for: .recordMeasurement, reservingEvents: 1)
            let teamID = patient.teamID
            let rules = try await context.referenceData().recordRules
            try context.checked { () throws(InvalidValue) in
                try rules.checkTime(takenAt, field: "taken_at", now: Date(), enrolledOn: patient.enrolledOn)
            }
            let id = UUID.random()
            await context.connection.sendWithNext(
                """
                INSERT INTO measurements (id, patient_id, instrument, total, items, safety_signal, taken_at,
                    recorded_by)
                VALUES (\(id), \(patientID), \(score.instrument.rawValue), \(score.total), \(score.items),
                    \(score.isSafetySignal), \(takenAt), \(actorID))
                """)
            let event = try await context.append(
                EventType.measurementRecorded, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: [
                    "measurement_id": id.lowercasedString, "instrument": score.instrument.rawValue,
                    "safety_signal": score.isSafetySignal ? "true" : "false",
                ]
            ) { occurredAt in
                PlaybookEvent(
                    type: EventType.measurementRecorded, occurredAt: occurredAt, safetySignal: score.isSafetySignal,
                    summary:
                        """
                        \(score.instrument.rawValue) \(score.total) \
                        (\(score.band))\(score.isSafetySignal ? ", item 9 above 0" : "")
                        """,
                    subjectID: id)
            }
            return (id, event)
        }
    }

    // MARK: Referrals

    /// Makes a referral. A second open referral of the same kind for the patient is refused with
    /// a link to the open one, unless `reason` says why (a second clinic, say).
    public func makeReferral(
        patientID: UUID, kind: ReferralKind, targetClinic: String, note: String = "", reason: String? = nil,
        by caller: Caller
    ) async throws -> (referralID: UUID, event: AppendedEvent) {
        let clinic = targetClinic.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !clinic.isEmpty else {
            throw StoreError.invalidValue(
                InvalidValue(field: "target_clinic", message: "a referral needs a target clinic"))
        }
        let reason = reason.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        return try await command(caller) { context in
            let actorID = caller.memberID
            let teamID = try await context.patientTeam(patientID, for: .refer(kind))
            // The patient's row lock makes two referrals of the same kind take turns.
            // With it, the event's id: the referral, its event and its handoffs go with COMMIT.
            await context.connection.sendWithNext("SELECT 1 FROM patients WHERE id = \(patientID) FOR UPDATE")
            let results = try await context.connection.pipeline([
                """
                SELECT id, status, target_clinic FROM referrals
                WHERE patient_id = \(patientID) AND kind = \(kind.rawValue) AND entered_in_error_at IS NULL
                  AND status NOT IN ('completed', 'declined', 'cancelled')
                ORDER BY created_at LIMIT 1
                """, CommandContext.reservingEvents(1),
            ])
            try context.keepReservedEvents(results[1])
            if let row = results[0].firstRow, reason == nil {
                let (existing, status, existingClinic) = try row.decode(UUID.self, String.self, String.self)
                throw StoreError.alreadyOpen(
                    """
                    a \(kind.rawValue.uppercased()) referral to \(existingClinic) is already open (\(status)); to make \
                    a second one, say why in 'reason'
                    """,
                    existing: "/v1/referrals/\(existing.lowercasedString)")
            }
            let id = UUID.random()
            await context.connection.sendWithNext(
                """
                INSERT INTO referrals (id, patient_id, kind, target_clinic, note, made_by, reason)
                VALUES (\(id), \(patientID), \(kind.rawValue), \(clinic), \(note), \(actorID), \(reason))
                """)
            let event = try await context.append(
                EventType.referralMade, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["referral_id": id.lowercasedString, "kind": kind.rawValue]
            ) { occurredAt in
                PlaybookEvent(
                    type: EventType.referralMade, occurredAt: occurredAt, referralKind: kind,
                    summary: "\(kind.rawValue.uppercased()) referral to \(clinic)", subjectID: id)
            }
            return (id, event)
        }
    }

    /// Moves a referral along its status machine. Declined or cancelled, it withdraws the
    /// handoffs it made: those still open are superseded (answered with their ids).
    @discardableResult
    public func moveReferral(_ referralID: UUID, to status: ReferralStatus, reason: String? = nil, by caller: Caller)
        async throws -> [UUID]
    {
        return try await command(caller) { context in
            let actorID = caller.memberID
            let rows = try await context.connection.query(
                """
                SELECT patient_id, status, kind, entered_in_error_at FROM referrals WHERE id = \(referralID) FOR UPDATE
                """)
            guard let row = rows.firstRow else { throw StoreError.notFound("referral \(referralID)") }
            let (patientID, current, kind, marked) = try row.decode(UUID.self, String.self, String.self, Date?.self)
            let teamID = try await context.patientTeam(patientID, for: .moveReferral)
            if marked != nil {
                throw StoreError.conflict("this referral was entered in error; it does not move any more")
            }
            let from = try checkedTransition(from: current, to: status, of: "referral")
            try await context.connection.query(
                """
                UPDATE referrals SET status = \(status.rawValue), status_reason = coalesce(\(reason), status_reason),
                    updated_at = now()
                WHERE id = \(referralID)
                """)
            let event = try await context.append(
                EventType.referralStatusChanged, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["referral_id": referralID.lowercasedString, "from": from.rawValue, "to": status.rawValue])
            guard status.withdrawsItsWork else { return [] }
            return try await context.withdrawCauses(
                of: [referralID], patientID: patientID, teamID: teamID, byEvent: event.id,
                reason: "the \(kind.uppercased()) referral was \(status.rawValue)")
        }
    }

    // MARK: Handoffs

    /// Escalates handoffs not acknowledged by their due time. Several servers may run this at the
    /// same moment: SKIP LOCKED gives each overdue handoff to exactly one of them. The follow-ups
    /// an escalation makes are not escalated again (no chain of escalations); the report shows
    /// them as overdue.
    @discardableResult
    public func escalateOverdueHandoffs(now: Date = Date(), limit: Int = 100, by caller: Caller) async throws -> [UUID]
    {
        try await command(caller) { context in
            let rows = try await context.connection.query(
                """
                SELECT h.id, h.patient_id, p.team_id, h.step_key, t.title, h.role FROM handoffs h
                JOIN patients p ON p.id = h.patient_id
                JOIN events e ON e.id = h.event_id
                JOIN tasks t ON t.id = h.task_id
                WHERE h.acknowledged_at IS NULL AND h.escalated_at IS NULL AND h.superseded_at IS NULL AND h.due_at <
                    \(now)
                  AND t.status NOT IN ('completed', 'cancelled', 'failed')
                  AND e.type <> \(EventType.handoffEscalated)
                ORDER BY h.due_at LIMIT \(limit)
                FOR UPDATE OF h SKIP LOCKED
                """)
            var escalated: [UUID] = []
            for row in rows {
                let (id, patientID, teamID, stepKey, title, role) = try row.decode(
                    UUID.self, UUID.self, UUID.self, String.self, String.self, String.self)
                try await context.connection.query("UPDATE handoffs SET escalated_at = now() WHERE id = \(id)")
                try await context.append(
                    EventType.handoffEscalated, teamID: teamID, patientID: patientID, actorID: nil,
                    payload: ["handoff_id": id.lowercasedString, "step": stepKey]
                ) { occurredAt in
                    PlaybookEvent(
                        type: EventType.handoffEscalated, occurredAt: occurredAt,
                        summary:
                            """
                            \"\(title)\" for the \(role.replacingOccurrences(of: "_", with: " ")) not acknowledged in \
                            time
                            """,
                        subjectID: id)
                }
                escalated.append(id)
            }
            return escalated
        }
    }
}

/// The stored status `current`, if it may move to `next`; otherwise the reason it may not.
func checkedTransition<Status: StateMachine>(from current: String, to next: Status, of what: String) throws -> Status {
    guard let from = Status(rawValue: current) else {
        throw PQError(.decoding, "a \(what) has an unknown status \(current)")
    }
    if case .failure(let error) = from.moving(to: next) { throw StoreError.moveNotAllowed(error) }
    return from
}

extension CommandContext {
    /// A member with their roles on a team, once the caller may manage that team.
    func insertMember(
        _ displayName: String, email: String?, teamID: UUID, roles: [Role], isServiceAccount: Bool, actorID: UUID?
    ) async throws -> UUID {
        try await requireTeam(teamID)
        try authorize(.manageTeam, teamID: teamID, patientID: nil)
        let id: UUID
        do {
            id = try await connection.query(
                """
                INSERT INTO members (display_name, email, is_service_account) VALUES (\(displayName), \(email),
                    \(isServiceAccount)) RETURNING id
                """)[0].decode(UUID.self, at: 0)
        } catch let error as PQError where error.constraint == "members_email_unique" {
            throw StoreError.conflict("a member with e-mail \(email ?? "") already exists")
        }
        for role in Set(roles) {
            try await connection.query(
                "INSERT INTO memberships (team_id, member_id, role) VALUES (\(teamID), \(id), \(role.rawValue))")
        }
        try await append(
            .memberCreated, teamID: teamID, patientID: nil, actorID: actorID,
            payload: ["member_id": id.lowercasedString, "roles": roles.map(\.rawValue).sorted().joined(separator: ",")])
        return id
    }

    /// The team's calendar, if the team exists.
    @discardableResult
    func requireTeam(_ teamID: UUID) async throws -> LocalCalendar {
        let team = try await connection.query("SELECT time_zone FROM teams WHERE id = \(teamID)")
        guard let row = team.firstRow else { throw StoreError.notFound("team \(teamID)") }
        return LocalCalendar(identifier: try row.decode(String.self, at: 0))
    }

    /// A member's place on a team whose members the caller manages (404 without the team, 403
    /// without the right), read under the team's row lock: two changes to a team's members take
    /// turns, so two admins removing each other cannot leave it with none.
    func managedPlace(of memberID: UUID, on teamID: UUID) async throws -> TeamPlace {
        try await requireTeam(teamID)
        try authorize(.manageTeam, teamID: teamID, patientID: nil)
        let results = try await connection.pipeline([
            "SELECT 1 FROM teams WHERE id = \(teamID) FOR UPDATE",
            "SELECT is_service_account FROM members WHERE id = \(memberID)",
            "SELECT role FROM memberships WHERE team_id = \(teamID) AND member_id = \(memberID)",
            "SELECT count(DISTINCT member_id)::int FROM memberships WHERE team_id = \(teamID) AND role = 'admin'",
        ])
        return TeamPlace(
            roles: Set(try results[2].map { try Role(column: "memberships.role", $0.decode(String.self, at: 0)) }),
            isServiceAccount: try results[1].firstRow?.decode(Bool.self, at: 0),
            admins: try results[3][0].decode(Int.self, at: 0))
    }

    /// The patient's team and enrolment date, once the caller may do `permission` there.
    /// `reservingEvents`: ids for the events the command will append, taken in the same round
    /// trip (`reservingEvents(_:)`), so that its appends go with COMMIT.
    func patient(_ patientID: UUID, for permission: Permission, reservingEvents events: Int = 0) async throws -> (
        teamID: UUID, enrolledOn: Date, calendar: LocalCalendar
    ) {
        trail.touch(patientID)
        let read: PQQuery = """
            SELECT p.team_id, p.enrolled_on, t.time_zone FROM patients p JOIN teams t ON t.id = p.team_id WHERE p.id = \
            \(patientID)
            """
        let rows: PQRows
        if events > 0 {
            let results = try await connection.pipeline([read, Self.reservingEvents(events)])
            try keepReservedEvents(results[1])
            rows = results[0]
        } else {
            rows = try await connection.query(read)
        }
        guard let row = rows.firstRow else { throw StoreError.notFound("patient \(patientID)") }
        let (teamID, enrolledOn, zone) = try row.decode(UUID.self, Date.self, String.self)
        try authorize(permission, teamID: teamID, patientID: patientID)
        return (teamID, enrolledOn, LocalCalendar(identifier: zone))
    }

    /// A domain rule's refusal as the store's (422, naming the field).
    func checked<T>(_ body: () throws(InvalidValue) -> T) throws -> T {
        do { return try body() } catch { throw StoreError.invalidValue(error) }
    }

    /// The patient's team, once the caller may do `permission` there; otherwise notFound (not
    /// the caller's team: its existence is not revealed) or forbidden (their roles do not allow it).
    func patientTeam(_ patientID: UUID, for permission: Permission) async throws -> UUID {
        trail.touch(patientID)
        let rows = try await connection.query(Self.teamOf(patientID))
        return try checkTeam(rows, patientID, for: permission)
    }

    /// `patientTeam` and one read of the patient's records, sent together in one round trip:
    /// the gate decides (404, 403) before the rows are used, and they are dropped with the
    /// refusal. For a read whose statement does not depend on the team.
    func patientTeam(_ patientID: UUID, for permission: Permission, reading query: PQQuery) async throws -> PQRows {
        trail.touch(patientID)
        let results = try await connection.pipeline([Self.teamOf(patientID), query])
        _ = try checkTeam(results[0], patientID, for: permission)
        return results[1]
    }

    /// The statement `patientTeam` reads the team with.
    static func teamOf(_ patientID: UUID) -> PQQuery { "SELECT team_id FROM patients WHERE id = \(patientID)" }

    /// The gate on `teamOf`'s rows (the patient is noted for the audit entry either way).
    func checkTeam(_ rows: PQRows, _ patientID: UUID, for permission: Permission) throws -> UUID {
        trail.touch(patientID)
        guard let row = rows.firstRow else { throw StoreError.notFound("patient \(patientID)") }
        let teamID = try row.decode(UUID.self, at: 0)
        try authorize(permission, teamID: teamID, patientID: patientID)
        return teamID
    }
}

/// A team as its operator sees it (`care-server admin teams`).
public struct TeamOverview: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var timeZone: String
    public var members: Int
    /// Not discharged.
    public var patients: Int
}

/// A member's roles on one team (none: not on it), whether they are a service account (nil: no
/// such member), and how many admins the team has (`CommandContext.managedPlace`).
struct TeamPlace {
    var roles: Set<Role>
    var isServiceAccount: Bool?
    var admins: Int

    /// Refuses a change that would leave the team without an admin (409).
    func refuseLeavingNoAdmin(staysAdmin: Bool) throws {
        if roles.contains(.admin), !staysAdmin, admins <= 1 {
            throw StoreError.conflict("this member is the team's last admin: make another member admin first")
        }
    }
}
