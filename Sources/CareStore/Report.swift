import CoreFormats
import CareDomain
import Foundation
import PQ

/// An ISO 8601 week, "2026-W48": Monday 00:00 to the next Monday, in UTC or in a team's zone
/// (docs/time-zones.md: a week with a daylight-saving change is 167 or 169 hours long).
public struct ISOWeek: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public let year: Int
    public let week: Int

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    public init?(_ text: String) {
        guard let match = text.wholeMatch(of: /(\d{4})-W(\d{2})/), let year = Int(match.1), let week = Int(match.2),
            (1900...2999).contains(year), (1...53).contains(week)
        else { return nil }
        self.year = year
        self.week = week
        // Week 53 exists only in some years.
        guard ISOWeek(containing: start).week == week else { return nil }
    }

    public init(containing date: Date) {
        let parts = Self.calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
        year = parts.yearForWeekOfYear!
        week = parts.weekOfYear!
    }

    public var start: Date {
        Self.calendar.date(
            from: DateComponents(
                timeZone: TimeZone(identifier: "UTC"), weekday: 2, weekOfYear: week, yearForWeekOfYear: year))!
    }

    public var end: Date { start.addingTimeInterval(7 * 86_400) }

    static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = zone
        return calendar
    }

    /// The week holding `date` on the calendar of `zone`.
    public init(containing date: Date, in zone: TimeZone) {
        let parts = Self.calendar(zone).dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
        year = parts.yearForWeekOfYear!
        week = parts.weekOfYear!
    }

    /// Monday 00:00 in `zone`.
    public func start(in zone: TimeZone) -> Date {
        Self.calendar(zone).date(
            from: DateComponents(timeZone: zone, weekday: 2, weekOfYear: week, yearForWeekOfYear: year))!
    }

    /// The next Monday 00:00 in `zone`.
    public func end(in zone: TimeZone) -> Date {
        Self.calendar(zone).date(byAdding: .weekOfYear, value: 1, to: start(in: zone))!
    }

    public var description: String { String(format: "%04d-W%02d", year, week) }
}

/// An open handoff of a patient, as the review gathers it.
public struct OpenHandoff: Sendable, Equatable {
    public var role: Role
    /// What to do: its task's title (with its number of causes when more than one).
    public var title: String
    public var reason: String
    public var dueAt: Date
    public var overdue: Bool
    public var escalated: Bool
}

/// An open task of a patient that is not a handoff's, as the review gathers it.
public struct OpenTask: Sendable, Equatable {
    public var title: String
    public var status: TaskStatus
    public var priority: TaskPriority
    /// The owner's name, or the pool's role.
    public var assignee: String
    public var dueAt: Date?
    public var overdue: Bool
}

/// One patient of the caseload in the review's week: what the store gathered, what the
/// domain made of it (`WeeklyReview.assess`), and what the report shows beside it.
public struct ReviewedPatient: Sendable, Equatable {
    public var id: UUID
    public var mrn: String
    public var displayName: String
    public var status: PatientStatus
    public var facts: ReviewFacts
    public var assessment: ReviewAssessment
    /// The last PHQ-9 scores (up to 12), oldest first.
    public var trend: [ReviewFacts.DatedScore]
    public var openHandoffs: [OpenHandoff]
    public var openTasks: [OpenTask]
    /// Scores and non-psychotherapy notes this week.
    public var contactsThisWeek: Int
}

/// A team's week as the case review sees it: every patient on the caseload (listed or not),
/// and the week's handoffs. CareAPI makes the report of it.
public struct TeamWeekReview: Sendable, Equatable {
    public var teamID: UUID
    public var teamName: String
    public var week: ISOWeek
    public var window: ReviewWindow
    /// The team's time zone, and the week's bounds in it (docs/time-zones.md).
    public var timeZone: String = "UTC"
    public var weekStart: Date = Date(timeIntervalSince1970: 0)
    public var weekEnd: Date = Date(timeIntervalSince1970: 0)
    public var generatedAt: Date
    public var patients: [ReviewedPatient]
    public var handoffsProduced: Int
    public var handoffsAcknowledgedOnTime: Int
    public var handoffsAcknowledgedLate: Int
    public var handoffsUnacknowledged: Int

    /// The patients who need a decision.
    public var listed: [ReviewedPatient] { patients.filter { $0.assessment.isListed } }
}

extension CareStore {
    /// Gathers a team's week for the case review and judges each patient by the domain's rules.
    /// Team members with a clinical role (or service accounts that may read clinical records)
    /// and the compliance role may; others get 403, strangers 404. It runs with the server's
    /// rights and explicit team filters (never reading a note's text), and is audited as a read
    /// of each listed patient.
    ///
    /// `fromReplica`: read the facts on `reportPool` (a standby) when there is one; the token is
    /// looked up and the read audited on the primary. A standby that cannot be reached is
    /// passed over for the primary, with a warning.
    public func weeklyReview(
        teamID: UUID, week: ISOWeek, now: Date = Date(), by caller: Caller, fromReplica: Bool = false
    ) async throws -> TeamWeekReview {
        if fromReplica, let reportPool, let actor = caller.request {
            do {
                return try await weeklyReviewOnReplica(reportPool, actor, teamID: teamID, week: week, now: now)
            } catch let error as PQError where error.kind == .connection || error.kind == .poolTimeout {
                logger.warning(
                    "the report replica cannot be reached; reading the weekly report from the primary",
                    metadata: ["error": "\(error)"])
                count("carerelay_report_replica_fallbacks_total", by: 1)
            }
        }
        return try await command(caller, asService: true, isolation: .repeatableRead, claimsKey: false) { context in
            try context.authorizeReport(teamID)
            let review = try await ReviewGatherer(context: context, teamID: teamID, week: week, now: now).gather()
            context.trail.touch(review.listed.map(\.id))
            return review
        }
    }
}

extension CareStore {
    /// The weekly review read on a standby (docs/operations.md, "Reports from a replica"):
    /// 1. the token is looked up on the primary (the lookup notes when it was last used);
    /// 2. the facts are read on the standby, in one REPEATABLE READ snapshot, with the server's
    ///    rights and the same gate and team filters as on the primary;
    /// 3. the read is audited on the primary before anything is answered.
    func weeklyReviewOnReplica(_ replica: PQPool, _ actor: RequestActor, teamID: UUID, week: ISOWeek, now: Date)
        async throws -> TeamWeekReview
    {
        guard try await authenticate(actor.credential) != nil else { throw AuthenticationFailed() }
        let caller = Caller.request(actor)
        let trail = AuditTrail()
        let review: TeamWeekReview
        do {
            review = try await replica.withIsolatedTransaction(isolation: .repeatableRead, retries: 5) { connection in
                let context = CommandContext(
                    connection: connection, caller: caller, trail: trail, referenceCache: referenceCache)
                try context.authorizeReport(teamID)
                return try await ReviewGatherer(context: context, teamID: teamID, week: week, now: now).gather()
            }
        } catch let error as StoreError {
            await auditRefused(error, actor: actor, trail: trail)
            throw error
        }
        trail.touch(review.listed.map(\.id))
        try await requestPool.withIsolatedTransaction { connection in
            let context = CommandContext(
                connection: connection, caller: caller, trail: trail, referenceCache: referenceCache)
            try await context.enter(actor)
            await context.writeAudit(outcome: "allowed")
        }
        count("carerelay_audit_entries_total", [("outcome", "allowed")], by: max(trail.patients.count, 1))
        return review
    }
}

extension CommandContext {
    func authorizeReport(_ teamID: UUID) throws {
        try authorize(.readReport, teamID: teamID, patientID: nil)
    }
}

struct ReviewGatherer {
    let context: CommandContext
    let teamID: UUID
    let week: ISOWeek
    let now: Date

    var connection: PQConnection { context.connection }

    typealias Score = ReviewFacts.DatedScore

    struct Row {
        var id: UUID, mrn: String, name: String, status: String, enrolledOn: Date, episodeStart: Date, psychotic: Bool
        var baseline: Score?, latest: Score?, trend: [Score]
        var safetyThisWeek: Bool, lastContact: Date?, contactsThisWeek: Int
    }

    func gather() async throws -> TeamWeekReview {
        let team = try await connection.query("SELECT name, time_zone FROM teams WHERE id = \(teamID)").firstRow
        guard let team else { throw StoreError.notFound("team \(teamID.lowercasedString)") }
        let (teamName, timeZone) = try team.decode(String.self, String.self)
        // The week, "this week" and its contacts are the team's calendar (docs/time-zones.md).
        let zone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        let start = week.start(in: zone)
        let end = week.end(in: zone)
        let asOf = min(end, now)
        let reference = try await context.referenceData()

        // Each patient's scores and contacts: bounded reads through (patient, instrument, time)
        // indexes, so old history costs nothing.
        let rows = try await connection.query(
            """
            SELECT p.id, p.mrn, p.display_name, p.status, p.enrolled_on, coalesce(p.episode_started_on, p.enrolled_on),
                p.psychotic_features,
                   b.total, b.taken_at, l.total, l.taken_at,
                   (SELECT string_agg(x.total::text || ' ' || extract(epoch FROM x.taken_at)::text || ' ' ||
                       x.safety_signal::int::text, ',' ORDER BY x.taken_at)
                    FROM (SELECT total, taken_at, safety_signal FROM measurements m WHERE m.patient_id = p.id AND
                        m.entered_in_error_at IS NULL AND m.instrument = 'PHQ-9' AND m.taken_at < \(asOf)
                          ORDER BY m.taken_at DESC LIMIT 12) x),
                   -- (An aggregate, not EXISTS: PostgreSQL turns that EXISTS into one scan of every measurement.)
                   coalesce((SELECT bool_or(m.safety_signal) FROM measurements m WHERE m.patient_id = p.id AND
                       m.entered_in_error_at IS NULL AND m.instrument = 'PHQ-9'
                             AND m.taken_at >= \(start) AND m.taken_at < \(asOf)), false),
                   greatest((SELECT max(m.taken_at) FROM measurements m WHERE m.patient_id = p.id AND
                       m.entered_in_error_at IS NULL AND m.taken_at < \(asOf)),
                            (SELECT max(n.created_at) FROM notes n WHERE n.patient_id = p.id AND n.entered_in_error_at
                                IS NULL AND n.kind <> 'psychotherapy' AND n.created_at < \(asOf))),
                   (SELECT count(*) FROM measurements m WHERE m.patient_id = p.id AND m.entered_in_error_at IS NULL AND
                       m.taken_at >= \(start) AND m.taken_at < \(asOf))
                   + (SELECT count(*) FROM notes n WHERE n.patient_id = p.id AND n.entered_in_error_at IS NULL AND
                       n.kind <> 'psychotherapy' AND n.created_at >= \(start) AND n.created_at < \(asOf))
            FROM patients p
            LEFT JOIN LATERAL (SELECT total, taken_at FROM measurements m
                               WHERE m.patient_id = p.id AND m.instrument = 'PHQ-9' AND m.entered_in_error_at IS NULL
                                 AND m.taken_at >= (coalesce(p.episode_started_on, p.enrolled_on)::timestamp AT TIME
                                     ZONE \(timeZone)::text)
                                 AND m.taken_at < \(asOf) ORDER BY m.taken_at LIMIT 1) b ON true
            LEFT JOIN LATERAL (SELECT total, taken_at FROM measurements m
                               WHERE m.patient_id = p.id AND m.instrument = 'PHQ-9' AND m.entered_in_error_at IS NULL
                                   AND m.taken_at < \(asOf)
                               ORDER BY m.taken_at DESC LIMIT 1) l ON true
            WHERE p.team_id = \(teamID) AND p.status <> 'discharged' AND (p.enrolled_on::timestamp AT TIME ZONE
                \(timeZone)::text) < \(asOf)
            ORDER BY p.display_name, p.id
            """
        ).map { row -> Row in
            let (id, mrn, name, status, enrolled, episode, psychotic) = try row.decode(
                UUID.self, String.self, String.self, String.self, Date.self, Date.self, Bool.self)
            let baselineTotal = try row.decode(Int?.self, at: 7), baselineAt = try row.decode(Date?.self, at: 8)
            let latestTotal = try row.decode(Int?.self, at: 9), latestAt = try row.decode(Date?.self, at: 10)
            // "total epoch safety,total epoch safety,...": one text value is far cheaper to read than an array.
            let trend = try (row.decode(String?.self, at: 11) ?? "").split(separator: ",").compactMap {
                entry -> Score? in
                let parts = entry.split(separator: " ")
                guard parts.count == 3, let total = Int(parts[0]), let seconds = Double(parts[1]) else { return nil }
                return Score(total: total, takenAt: Date(timeIntervalSince1970: seconds), safetySignal: parts[2] == "1")
            }
            return Row(
                id: id, mrn: mrn, name: name, status: status, enrolledOn: enrolled, episodeStart: episode,
                psychotic: psychotic,
                baseline: Self.score(baselineTotal, baselineAt), latest: Self.score(latestTotal, latestAt),
                trend: trend, safetyThisWeek: try row.decode(Bool.self, at: 12),
                lastContact: try row.decode(Date?.self, at: 13),
                contactsThisWeek: try row.decode(Int.self, at: 14))
        }

        // Trials of the current episode (and any still running); few per patient.
        struct TrialRow {
            var kind: TrialKind; var drug: String?; var therapy: String?; var started: Date; var stopped: Date?;
            var outcome: String?
            var isFailed: Bool; var bilateral: Bool; var drugClass: DrugClass?; var updated: Date
        }
        var trials: [UUID: [TrialRow]] = [:]
        for row in try await connection.query(
            """
            SELECT t.patient_id, t.kind, t.drug, t.therapy, t.started_on, t.stopped_on, t.outcome, t.is_failed,
                t.is_bilateral_ect, d.drug_class, t.updated_at
            FROM trials t JOIN patients p ON p.id = t.patient_id LEFT JOIN dose_table d ON d.drug = t.drug
            WHERE p.team_id = \(teamID) AND p.status <> 'discharged' AND (t.started_on::timestamp AT TIME ZONE
                \(timeZone)::text) < \(asOf) AND t.entered_in_error_at IS NULL
              AND (t.started_on >= coalesce(p.episode_started_on, p.enrolled_on) OR t.stopped_on IS NULL)
            ORDER BY t.started_on
            """)
        {
            let (patient, kind, drug, therapy, started, stopped, outcome, failed, bilateral, drugClass, updated) =
                try row.decode(
                    UUID.self, String.self, String?.self, String?.self, Date.self, Date?.self, String?.self, Bool.self,
                    Bool.self, String?.self, Date.self)
            trials[patient, default: []].append(
                TrialRow(
                    kind: try TrialKind(column: "trials.kind", kind), drug: drug, therapy: therapy, started: started,
                    stopped: stopped, outcome: outcome, isFailed: failed, bilateral: bilateral,
                    drugClass: try drugClass.map { try DrugClass(column: "dose_table.drug_class", $0) },
                    updated: updated))
        }

        var referrals: [UUID: [ReviewFacts.Referral]] = [:]
        for row in try await connection.query(
            """
            SELECT r.patient_id, r.kind, r.status, r.target_clinic, r.created_at, a.status, a.since
            FROM referrals r JOIN patients p ON p.id = r.patient_id
            LEFT JOIN LATERAL (
                SELECT coalesce(d.status, 'drafted') AS status, coalesce(d.decided_at, pk.made_at) AS since
                FROM prior_auth_packets pk
                LEFT JOIN LATERAL (SELECT dd.status, dd.decided_at FROM prior_auth_decisions dd WHERE dd.packet_id =
                    pk.id
                                   AND dd.decided_at < \(asOf) ORDER BY dd.decided_at DESC LIMIT 1) d ON true
                WHERE pk.referral_id = r.id AND pk.made_at < \(asOf) ORDER BY pk.made_at DESC LIMIT 1
            ) a ON true
            WHERE p.team_id = \(teamID) AND p.status <> 'discharged' AND r.created_at < \(asOf) AND
                r.entered_in_error_at IS NULL
              AND (r.status NOT IN ('completed', 'declined', 'cancelled') OR r.created_at >= \(start))
            ORDER BY r.created_at
            """)
        {
            let (patient, kind, status, clinic, created, authorisation, since) = try row.decode(
                UUID.self, String.self, String.self, String.self, Date.self, String?.self, Date?.self)
            referrals[patient, default: []].append(
                ReviewFacts.Referral(
                    kind: kind, status: status, targetClinic: clinic, createdAt: created,
                    authorisation: authorisation.flatMap(PriorAuthStatus.init(rawValue:)), authorisationSince: since))
        }

        var tasks: [UUID: [OpenTask]] = [:]
        for row in try await connection.query(
            """
            SELECT t.patient_id, t.title, t.status, t.priority, coalesce(m.display_name, t.pool_role, ''), t.due_at
            FROM tasks t JOIN patients p ON p.id = t.patient_id LEFT JOIN members m ON m.id = t.owner_id
            WHERE p.team_id = \(teamID) AND p.status <> 'discharged' AND t.status NOT IN ('completed', 'cancelled',
                'failed')
              AND t.handoff_id IS NULL
            ORDER BY t.due_at NULLS LAST
            """)
        {
            let (patient, title, status, priority, assignee, due) = try row.decode(
                UUID.self, String.self, String.self, String.self, String.self, Date?.self)
            tasks[patient, default: []].append(
                OpenTask(
                    title: title, status: try TaskStatus(column: "tasks.status", status),
                    priority: try TaskPriority(column: "tasks.priority", priority), assignee: assignee, dueAt: due,
                    overdue: due.map { $0 < asOf } ?? false))
        }

        var handoffs: [UUID: [OpenHandoff]] = [:]
        var openSafety: Set<UUID> = []
        for row in try await connection.query(
            """
            SELECT h.patient_id, h.role, h.reason, h.due_at, h.escalated_at IS NOT NULL, h.step_key, t.title
            FROM handoffs h JOIN patients p ON p.id = h.patient_id JOIN tasks t ON t.id = h.task_id
            WHERE p.team_id = \(teamID) AND p.status <> 'discharged' AND h.acknowledged_at IS NULL AND h.superseded_at
                IS NULL
              AND t.status NOT IN ('completed', 'cancelled', 'failed') AND h.created_at < \(asOf)
            ORDER BY h.due_at
            """)
        {
            let (patient, role, reason, due, escalated, step) = try row.decode(
                UUID.self, String.self, String.self, Date.self, Bool.self, String.self)
            handoffs[patient, default: []].append(
                OpenHandoff(
                    role: try Role(column: "handoffs.role", role), title: try row.decode(String.self, at: 6),
                    reason: reason, dueAt: due, overdue: due < asOf, escalated: escalated))
            if step.hasPrefix("safety.") { openSafety.insert(patient) }
        }

        let handoffCounts = try await connection.query(
            """
            SELECT count(*), count(*) FILTER (WHERE h.acknowledged_at <= h.due_at), count(*) FILTER (WHERE
                h.acknowledged_at > h.due_at),
                   count(*) FILTER (WHERE h.acknowledged_at IS NULL)
            FROM patients p JOIN handoffs h ON h.patient_id = p.id AND h.created_at >= \(start) AND h.created_at <
                \(asOf)
            -- Work whose cause was withdrawn before anyone acknowledged it was never owed.
            WHERE p.team_id = \(teamID) AND NOT (h.superseded_at IS NOT NULL AND h.acknowledged_at IS NULL)
            """)[0].decode(Int.self, Int.self, Int.self, Int.self)

        // Each patient: the store gathers the facts, the domain judges them (WeeklyReview).
        let rules = ReviewRules(response: reference.responseRules, trials: reference.trialRules)
        let window = ReviewWindow(start: start, asOf: asOf, calendar: LocalCalendar(zone))
        let patients = try rows.map { row in
            let facts = ReviewFacts(
                enrolledOn: row.enrolledOn, episodeStart: row.episodeStart,
                status: try PatientStatus(column: "patients.status", row.status),
                psychoticFeatures: row.psychotic, baseline: row.baseline, latest: row.latest,
                safetySignalThisWeek: row.safetyThisWeek, unacknowledgedSafetyHandoff: openSafety.contains(row.id),
                trials: (trials[row.id] ?? []).map {
                    ReviewFacts.Trial(
                        kind: $0.kind, name: $0.drug ?? $0.therapy ?? $0.kind.rawValue, drug: $0.drug,
                        therapy: $0.therapy,
                        outcome: $0.outcome, isFailed: $0.isFailed, drugClass: $0.drugClass,
                        isBilateralECT: $0.bilateral,
                        startedOn: $0.started, stoppedOn: $0.stopped, updatedAt: $0.updated)
                },
                referrals: referrals[row.id] ?? [],
                overdueHandoffs: (handoffs[row.id] ?? []).filter(\.overdue).count,
                overdueTasks: (tasks[row.id] ?? []).filter(\.overdue).count,
                lastContact: row.lastContact)
            return ReviewedPatient(
                id: row.id, mrn: row.mrn, displayName: row.name, status: facts.status, facts: facts,
                assessment: WeeklyReview.assess(facts, window: window, rules: rules), trend: row.trend,
                openHandoffs: handoffs[row.id] ?? [], openTasks: tasks[row.id] ?? [],
                contactsThisWeek: row.contactsThisWeek)
        }
        return TeamWeekReview(
            teamID: teamID, teamName: teamName, week: week, window: window, timeZone: timeZone, weekStart: start,
            weekEnd: end, generatedAt: now, patients: patients,
            handoffsProduced: handoffCounts.0, handoffsAcknowledgedOnTime: handoffCounts.1,
            handoffsAcknowledgedLate: handoffCounts.2, handoffsUnacknowledged: handoffCounts.3)
    }

    static func score(_ total: Int?, _ at: Date?) -> Score? {
        guard let total, let at else { return nil }
        return Score(total: total, takenAt: at)
    }

}

// MARK: Snapshots and recommendations

public struct ReportSnapshot: Sendable, Equatable {
    public var id: UUID
    public var teamID: UUID
    public var isoWeek: String
    public var takenBy: UUID
    public var takenAt: Date
    /// The report as the JSON format showed it (the data it was built from).
    public var report: Data
    public var html: String
    public var markdown: String
}

public struct ReportSnapshotBrief: Sendable, Equatable {
    public var id: UUID
    public var isoWeek: String
    public var takenBy: UUID
    public var takenAt: Date
    public var recommendations: Int
}

public struct Recommendation: Sendable, Equatable {
    public var id: UUID
    public var snapshotID: UUID
    public var patientID: UUID
    public var noteID: UUID
    public var taskID: UUID?
}

extension CareStore {
    /// Keeps a report exactly as shown (its data, HTML and Markdown); immutable from then on.
    /// For the team's clinicians (the meeting), not the compliance role.
    public func keepSnapshot(
        teamID: UUID, isoWeek: String, patients: [UUID], json: Data, html: String, markdown: String, by caller: Caller
    ) async throws -> ReportSnapshot {
        return try await command(caller, asService: true) { context in
            let takenBy = try Self.member(caller, "keeps a snapshot")
            try context.authorize(.keepReportSnapshot, teamID: teamID, patientID: nil)
            let row = try await context.connection.query(
                """
                INSERT INTO report_snapshots (team_id, iso_week, taken_by, report, html, markdown)
                VALUES (\(teamID), \(isoWeek), \(takenBy), \(String(decoding: json, as: UTF8.self))::jsonb, \(html),
                    \(markdown))
                RETURNING id, taken_at
                """)[0]
            let (id, takenAt) = try row.decode(UUID.self, Date.self)
            context.trail.touch(patients)
            return ReportSnapshot(
                id: id, teamID: teamID, isoWeek: isoWeek, takenBy: takenBy, takenAt: takenAt, report: json,
                html: html, markdown: markdown)
        }
    }

    /// A kept snapshot, audited as a read of each patient it lists.
    public func snapshot(_ id: UUID, by caller: Caller) async throws -> ReportSnapshot {
        try await command(caller, asService: true) { context in
            let rows = try await context.connection.query(
                """
                SELECT team_id, iso_week, taken_by, taken_at, report::text, html, markdown,
                       ARRAY(SELECT (p->>'id') FROM jsonb_array_elements(report->'patients') p)
                FROM report_snapshots WHERE id = \(id)
                """)
            guard let row = rows.firstRow else { throw StoreError.notFound("snapshot \(id.lowercasedString)") }
            let (team, week, takenBy, takenAt, report, html, markdown, patients) = try row.decode(
                UUID.self, String.self, UUID.self, Date.self, String.self, String.self, String.self, [String].self)
            do {
                try context.authorizeReport(team)
            } catch StoreError.notFound {
                throw StoreError.notFound("snapshot \(id.lowercasedString)")
            }
            context.trail.touch(patients.compactMap(UUID.init(uuidString:)))
            return ReportSnapshot(
                id: id, teamID: team, isoWeek: week, takenBy: takenBy, takenAt: takenAt, report: Data(report.utf8),
                html: html, markdown: markdown)
        }
    }

    /// The snapshots kept of a team's report for a week, oldest first.
    public func snapshots(teamID: UUID, week: ISOWeek, by caller: Caller) async throws -> [ReportSnapshotBrief] {
        try await command(caller, asService: true) { context in
            try context.authorizeReport(teamID)
            return try await context.connection.query(
                """
                SELECT s.id, s.iso_week, s.taken_by, s.taken_at, (SELECT count(*) FROM report_recommendations r WHERE
                    r.snapshot_id = s.id)
                FROM report_snapshots s WHERE s.team_id = \(teamID) AND s.iso_week = \(week.description) ORDER BY
                    s.taken_at, s.id
                """
            ).map { row in
                let (id, week, takenBy, takenAt, count) = try row.decode(
                    UUID.self, String.self, UUID.self, Date.self, Int.self)
                return ReportSnapshotBrief(
                    id: id, isoWeek: week, takenBy: takenBy, takenAt: takenAt, recommendations: count)
            }
        }
    }

    /// A recommendation from the meeting: a case-review note on the patient and, when asked,
    /// a task for a named role, both tied to the snapshot; one transaction, as the caller.
    public func recommend(
        snapshotID: UUID, patientID: UUID, text: String, task: (title: String, role: Role, dueAt: Date?)?,
        by caller: Caller
    ) async throws -> Recommendation {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw StoreError.invalid("a recommendation needs its text") }
        if let task {
            guard !task.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw StoreError.invalid("the task needs a title")
            }
            guard Role.clinical.contains(task.role) else {
                throw StoreError.invalid(
                    "tasks go to a clinical role's pool (psychiatrist, psychologist, social_worker, care_manager)")
            }
        }
        return try await command(caller) { context in
            let actorID = try Self.member(caller, "records a recommendation")
            // Recommendations are the meeting's: the team's clinicians record them.
            let teamID = try await context.patientTeam(patientID, for: .keepReportSnapshot)
            let snapshot = try await context.connection.query(
                "SELECT team_id, iso_week FROM report_snapshots WHERE id = \(snapshotID)")
            guard let row = snapshot.firstRow, try row.decode(UUID.self, at: 0) == teamID else {
                throw StoreError.notFound("snapshot \(snapshotID.lowercasedString) of this patient's team")
            }
            let week = try row.decode(String.self, at: 1)
            if task != nil { try context.authorize(.workTasks, teamID: teamID, patientID: patientID) }
            let noteID = try await context.connection.query(
                """
                INSERT INTO notes (patient_id, author_id, kind, body) VALUES (\(patientID), \(actorID), 'case-review',
                    \("Case review \(week): \(text)"))
                RETURNING id
                """)[0].decode(UUID.self, at: 0)
            try await context.append(
                .noteAdded, teamID: teamID, patientID: patientID, actorID: actorID,
                payload: ["note_id": noteID.lowercasedString, "kind": NoteKind.caseReview.rawValue])
            var taskID: UUID?
            if let task {
                taskID = try await context.connection.query(
                    """
                    INSERT INTO tasks (patient_id, title, description, pool_role, priority, due_at, created_by, status)
                    VALUES (\(patientID), \(task.title.trimmingCharacters(in: .whitespacesAndNewlines)),
                        \("From the case review of \(week): \(text)"),
                            \(task.role.rawValue), 'routine', \(task.dueAt), \(actorID), 'requested')
                    RETURNING id
                    """)[0].decode(UUID.self, at: 0)
                try await context.append(
                    .taskCreated, teamID: teamID, patientID: patientID, actorID: actorID,
                    payload: ["task_id": taskID!.lowercasedString])
            }
            let id = try await context.connection.query(
                """
                INSERT INTO report_recommendations (snapshot_id, patient_id, note_id, task_id, made_by)
                VALUES (\(snapshotID), \(patientID), \(noteID), \(taskID), \(actorID)) RETURNING id
                """)[0].decode(UUID.self, at: 0)
            return Recommendation(id: id, snapshotID: snapshotID, patientID: patientID, noteID: noteID, taskID: taskID)
        }
    }
}
