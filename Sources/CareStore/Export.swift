import CareDomain
import CoreFormats
import Foundation
import PQ

/// A bulk export job (FHIR Bulk Data, docs/fhir.md "Bulk export"): who asked, for what, how far
/// it has come, and its files once complete. The store knows nothing of FHIR: `types` are the
/// API's names, kept and handed back.
public struct ExportJob: Sendable, Equatable {
    public enum Status: String, Sendable {
        case accepted, inProgress = "in-progress", complete, failed
    }

    public struct File: Sendable, Equatable {
        public var part: Int
        public var type: String
        public var lines: Int
    }

    public var id: UUID
    public var memberID: UUID
    public var tokenID: UUID
    public var requestID: String?
    public var teamIDs: [UUID]
    /// The patients asked for (Bulk Data's `patient`), or nil for every patient of the teams.
    public var patientIDs: [UUID]?
    /// Bulk Data's `_typeFilter` queries, as checked at the kick-off, or nil.
    public var typeFilters: [String]?
    public var types: [String]
    public var since: Date?
    public var requestURL: String
    public var status: Status
    public var transactionTime: Date
    public var progress: String?
    public var resources: Int
    public var attempts: Int
    public var expiresAt: Date?
    public var error: String?
    public var files: [File] = []
}

/// One patient as the export writes it.
public struct ExportPatient: Sendable, Equatable {
    public var id: UUID
    public var teamID: UUID
    public var mrn: String
    public var displayName: String
    public var status: PatientStatus
    public var enrolledOn: Date
    /// Whether the patient's own row changed after the export's `since` (always, without one).
    public var changed: Bool
    public var updatedAt: Date
}

/// What the export reads: CareRelay's records, by kind.
public enum ExportRecords: String, Sendable, CaseIterable {
    case patients, carePlans, measurements, trials, referrals, tasks, notes
}

/// A batch of patients and their records, read in one transaction as the requester.
public struct ExportChunk: Sendable {
    public var patients: [ExportPatient] = []
    /// Each patient's active care plan (changed since `since`) with its open tasks' ids.
    public var carePlans: [(plan: CarePlan, openTasks: [UUID])] = []
    public var measurements: [(patientID: UUID, item: MeasurementItem)] = []
    public var trials: [(patientID: UUID, trial: TrialSummary)] = []
    public var referrals: [(patientID: UUID, referral: ReferralSummary)] = []
    public var tasks: [TaskSummary] = []
    /// Team-visible notes only: never psychotherapy notes, not even the requester's own.
    public var notes: [(patientID: UUID, note: NoteSummary)] = []
    /// The last patient of the batch when the team has more.
    public var next: UUID?
}

extension CareStore {
    static let exportJobColumns: PQQuery = """
        j.id, j.member_id, j.token_id, j.request_id, j.team_ids, j.types, j.since, j.request_url, j.status,
        j.transaction_time, j.progress, j.resources, j.attempts, j.expires_at, j.error, j.patient_ids,
        j.type_filters
        """

    static func exportJob(_ row: PQRow) throws -> ExportJob {
        let (id, member, token, requestID, teams, types, since, url, status, time, progress, resources, attempts) =
            try row.decode(
                UUID.self, UUID.self, UUID.self, String?.self, [UUID].self, [String].self, Date?.self, String.self,
                String.self, Date.self, String?.self, Int.self, Int.self)
        guard let status = ExportJob.Status(rawValue: status) else {
            throw PQError(.decoding, "export \(id.lowercasedString) has an unknown status \(status)")
        }
        return ExportJob(
            id: id, memberID: member, tokenID: token, requestID: requestID, teamIDs: teams,
            patientIDs: try row.decode([UUID]?.self, at: 15), typeFilters: try row.decode([String]?.self, at: 16),
            types: types,
            since: since, requestURL: url, status: status, transactionTime: time, progress: progress,
            resources: resources, attempts: attempts, expiresAt: try row.decode(Date?.self, at: 13),
            error: try row.decode(String?.self, at: 14))
    }

    // MARK: The requester's side

    /// Records a bulk export kick-off for `teamIDs` (nil: every team on which the caller may
    /// export). The caller needs the export permission on each team (another team: 404).
    public func startExport(
        teamIDs: [UUID]?, patientIDs: [UUID]? = nil, types: [String], typeFilters: [String]? = nil, since: Date?,
        requestURL: String, by caller: Caller
    ) async throws -> ExportJob {
        try await command(caller, asService: true) { context in
            let teams: [UUID]
            if let teamIDs {
                for team in teamIDs { try context.authorize(.exportBulk, teamID: team, patientID: nil) }
                teams = teamIDs
            } else {
                teams = context.teams(allowing: .exportBulk)
                guard !teams.isEmpty else { throw StoreError.forbidden(Permission.exportBulk.refusal) }
            }
            guard let actor = context.acting else {
                throw StoreError.invalid("a bulk export is asked for by a member's or service account's token")
            }
            if let patientIDs {
                // Each patient asked for is on the export's teams; one that is not (another team's,
                // or none) is named, as if it did not exist.
                let found = Set(
                    try await context.connection.query(
                        "SELECT id FROM patients WHERE id = ANY(\(patientIDs)) AND team_id = ANY(\(teams))"
                    ).column(UUID.self))
                if let missing = patientIDs.first(where: { !found.contains($0) }) {
                    throw StoreError.notFound(
                        teamIDs == nil
                            ? "patient \(missing.lowercasedString) is not one of your teams' patients"
                            : "patient \(missing.lowercasedString) is not in this group")
                }
            }
            let active = try await context.connection.query(
                """
                SELECT count(*) FROM fhir_export_jobs WHERE member_id = \(actor.principal.memberID) AND status IN
                    ('accepted', 'in-progress')
                """
            )[0].decode(Int.self, at: 0)
            guard active < Self.activeExportsPerMember else {
                throw StoreError.tooMany(
                    """
                    \(active) exports of yours are still running; wait for one to finish or delete one (DELETE its \
                    status URL)
                    """
                )
            }
            let row = try await context.connection.query(
                """
                INSERT INTO fhir_export_jobs AS j (member_id, token_id, request_id, team_ids, types, since, request_url,
                    patient_ids, type_filters)
                VALUES (\(actor.principal.memberID), \(actor.principal.tokenID), \(actor.requestID), \(teams), \(types),
                    \(since), \(requestURL), \(patientIDs.map { Array(Set($0)) }), \(typeFilters))
                RETURNING \(fragment: Self.exportJobColumns)
                """)[0]
            return try Self.exportJob(row)
        }
    }

    /// How many unfinished exports one member may have at once.
    public static let activeExportsPerMember = 3

    /// A job with its files, to the member who asked for it (anyone else: 404, as for none);
    /// an expired one is gone.
    public func exportJob(_ id: UUID, by caller: Caller) async throws -> ExportJob {
        try await command(caller, asService: true) { context in
            context.trail.skipWhenNoPatient = true
            return try await context.ownExport(id)
        }
    }

    /// Deletes a job and its files (a running one stops at its next part).
    public func deleteExport(_ id: UUID, by caller: Caller) async throws {
        try await command(caller, asService: true) { context in
            let job = try await context.ownExport(id)
            try await context.connection.query("DELETE FROM fhir_export_jobs WHERE id = \(job.id)")
        }
    }

    /// One NDJSON file of a complete job, to the member who asked for it.
    public func exportFile(_ id: UUID, part: Int, by caller: Caller) async throws -> (type: String, body: String) {
        try await command(caller, asService: true) { context in
            let job = try await context.ownExport(id)
            guard job.status == .complete,
                let row = try await context.connection.query(
                    "SELECT type, body FROM fhir_export_files WHERE job_id = \(job.id) AND part = \(part)"
                ).firstRow
            else {
                throw StoreError.notFound("file \(part) of export \(id.lowercasedString)")
            }
            return try row.decode(String.self, String.self)
        }
    }

    // MARK: The worker's side (the system)

    /// Claims the oldest job waiting, or one whose worker's lease ran out (its instance died):
    /// its files so far are deleted and it starts again.
    public func claimExport(lease: Duration) async throws -> ExportJob? {
        try await command(.system()) { context in
            let rows = try await context.connection.query(
                """
                UPDATE fhir_export_jobs j SET status = 'in-progress', attempts = attempts + 1, progress = NULL,
                    resources = 0,
                    started_at = now(), lease_until = now() + \(lease.inSeconds) * interval '1 second'
                WHERE j.id = (SELECT id FROM fhir_export_jobs
                              WHERE status = 'accepted' OR (status = 'in-progress' AND lease_until < now())
                              ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING \(fragment: Self.exportJobColumns)
                """)
            guard let row = rows.firstRow else { return nil }
            let job = try Self.exportJob(row)
            try await context.connection.query("DELETE FROM fhir_export_files WHERE job_id = \(job.id)")
            return job
        }
    }

    /// The principal a job acts for: its token's member with their roles now; nil when the
    /// token has been revoked or has expired (the export stops).
    public func exportPrincipal(_ job: ExportJob) async throws -> Principal? {
        try await Principal(
            row: pool.query(
                """
                SELECT t.id, m.id, m.display_name, m.is_service_account, t.scopes,
                       ARRAY(SELECT ms.team_id::text || ' ' || ms.role FROM memberships ms WHERE ms.member_id = m.id)
                FROM api_tokens t JOIN members m ON m.id = t.member_id
                WHERE t.id = \(job.tokenID) AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
                """
            ).firstRow)
    }

    /// Writes one file of a job and renews its lease; false when the job is gone (deleted by
    /// its requester, or taken over by another worker after this one's lease ran out).
    public func writeExportFile(
        _ job: ExportJob, part: Int, type: String, lines: Int, body: String, progress: String, lease: Duration
    ) async throws -> Bool {
        try await command(.system()) { context in
            let owned = try await context.connection.query(
                """
                UPDATE fhir_export_jobs SET lease_until = now() + \(lease.inSeconds) * interval '1 second',
                    progress = \(progress), resources = resources + \(lines)
                WHERE id = \(job.id) AND status = 'in-progress' AND attempts = \(job.attempts)
                RETURNING id
                """)
            guard owned.firstRow != nil else { return false }
            try await context.connection.query(
                """
                INSERT INTO fhir_export_files (job_id, part, type, lines, body) VALUES (\(job.id), \(part), \(type),
                    \(lines), \(body))
                """)
            return true
        }
    }

    /// Renews a job's lease while a long batch is read; false when the job is gone.
    public func renewExport(_ job: ExportJob, progress: String, lease: Duration) async throws -> Bool {
        try await pool.query(
            """
            UPDATE fhir_export_jobs SET lease_until = now() + \(lease.inSeconds) * interval '1 second', progress =
                \(progress)
            WHERE id = \(job.id) AND status = 'in-progress' AND attempts = \(job.attempts) RETURNING id
            """
        ).firstRow != nil
    }

    /// Ends a job: complete (its files are kept for `retention`) or failed with `error`.
    public func finishExport(_ job: ExportJob, error: String?, retention: Duration) async throws {
        try await pool.query(
            """
            UPDATE fhir_export_jobs SET status = \(error == nil ? "complete" : "failed"), error = \(error), completed_at
                = now(),
                expires_at = now() + \(retention.inSeconds) * interval '1 second', lease_until = NULL,
                progress = CASE WHEN \(error)::text IS NULL THEN 'complete' ELSE 'failed' END
            WHERE id = \(job.id) AND status = 'in-progress' AND attempts = \(job.attempts)
            """)
    }

    /// Deletes the jobs (and files) whose time is up; how many.
    public func expireExports(now: Date = Date()) async throws -> Int {
        try await pool.query(
            """
            WITH gone AS (DELETE FROM fhir_export_jobs WHERE expires_at < \(now) RETURNING 1) SELECT count(*) FROM gone
            """
        )[0].decode(Int.self, at: 0)
    }

    // MARK: Reading a batch

    /// The next `limit` patients of `teamID` after `after` (by id; only those of `patients` when
    /// given) and the records of `kinds` changed after `since`, read in one transaction as the
    /// caller (row-level security, one audit entry per patient). Psychotherapy notes are never read.
    public func exportChunk(
        teamID: UUID, patients: [UUID]? = nil, after: UUID?, limit: Int, kinds: Set<ExportRecords>, since: Date?,
        by caller: Caller
    ) async throws -> ExportChunk {
        try await command(caller) { context in
            try context.authorize(.exportBulk, teamID: teamID, patientID: nil)
            var chunk = ExportChunk()
            let rows = try await context.connection.query(
                """
                SELECT id, mrn, display_name, status, enrolled_on, (\(since)::timestamptz IS NULL OR updated_at >
                    \(since)),
                       updated_at
                FROM patients WHERE team_id = \(teamID) AND id >
                    \(after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
                  AND (\(patients)::uuid[] IS NULL OR id = ANY(\(patients)::uuid[]))
                ORDER BY id LIMIT \(limit + 1)
                """)
            for row in rows {
                let (id, mrn, name, status, enrolled, changed) = try row.decode(
                    UUID.self, String.self, String.self, String.self, Date.self, Bool.self)
                chunk.patients.append(
                    ExportPatient(
                        id: id, teamID: teamID, mrn: mrn, displayName: name,
                        status: try PatientStatus(column: "patients.status", status), enrolledOn: enrolled,
                        changed: changed, updatedAt: try row.decode(Date.self, at: 6)))
            }
            if chunk.patients.count > limit {
                chunk.patients.removeLast()
                chunk.next = chunk.patients.last?.id
            }
            let ids = chunk.patients.map(\.id)
            guard !ids.isEmpty else { return chunk }
            context.trail.touch(ids)
            try await context.records(of: ids, kinds: kinds, since: since, into: &chunk)
            return chunk
        }
    }
}

/// One patient's whole team-visible record, read in one transaction (Patient/$everything).
public struct PatientRecord: Sendable {
    public var patient: ExportPatient
    public var teamName: String
    public var members: [TeamMemberItem]
    public var records: ExportChunk
}

extension CareStore {
    /// The patient, their team and every team-visible record of theirs (never a psychotherapy
    /// note), in one transaction: one audit entry, one visit to one connection.
    public func patientRecord(_ patientID: UUID, by caller: Caller) async throws -> PatientRecord {
        try await command(caller) { context in
            // The permission gate's team, the patient, the team's members and every kind of
            // record: one round trip. The gate decides before anything read is used.
            context.trail.touch(patientID)
            var records = ExportChunk()
            let along = try await context.records(
                of: [patientID], kinds: Set(ExportRecords.allCases), since: nil, into: &records,
                along: [
                    CommandContext.teamOf(patientID),
                    """
                    SELECT p.id, p.mrn, p.display_name, p.status, p.enrolled_on, p.updated_at, t.name
                    FROM patients p JOIN teams t ON t.id = p.team_id WHERE p.id = \(patientID)
                    """,
                    CommandContext.membersQuery(teamOf: patientID),
                ])
            let teamID = try context.checkTeam(along[0], patientID, for: .readClinical)
            guard let row = along[1].firstRow else { throw StoreError.notFound("patient \(patientID)") }
            let (id, mrn, name, status, enrolled, updated, teamName) = try row.decode(
                UUID.self, String.self, String.self, String.self, Date.self, Date.self, String.self)
            return PatientRecord(
                patient: ExportPatient(
                    id: id, teamID: teamID, mrn: mrn, displayName: name,
                    status: try PatientStatus(column: "patients.status", status), enrolledOn: enrolled, changed: true,
                    updatedAt: updated),
                teamName: teamName, members: try along[2].map(CommandContext.member), records: records)
        }
    }
}

extension CommandContext {
    /// A job of the acting member's; anyone else's (or an expired one) is 404.
    func ownExport(_ id: UUID) async throws -> ExportJob {
        guard let member = caller.memberID,
            let row = try await connection.query(
                """
                SELECT \(fragment: CareStore.exportJobColumns) FROM fhir_export_jobs j
                WHERE j.id = \(id) AND j.member_id = \(member) AND (j.expires_at IS NULL OR j.expires_at > now())
                """
            ).firstRow
        else {
            throw StoreError.notFound("export \(id.lowercasedString)")
        }
        var job = try CareStore.exportJob(row)
        if job.status == .complete {
            job.files = try await connection.query(
                "SELECT part, type, lines FROM fhir_export_files WHERE job_id = \(id) ORDER BY part"
            ) { row in
                let (part, type, lines) = try row.decode(Int.self, String.self, Int.self)
                return ExportJob.File(part: part, type: type, lines: lines)
            }
        }
        return job
    }

    /// Each handoff's task with its causes, as `task(_:by:)` gives them.
    func attachCauses(_ tasks: inout [TaskSummary]) async throws {
        let handoffs = tasks.compactMap(\.handoffID)
        guard !handoffs.isEmpty else { return }
        let rows = try await connection.query(
            """
            SELECT hc.handoff_id, \(fragment: HandoffCause.columns)
            FROM handoff_causes hc JOIN events e ON e.id = hc.event_id
            WHERE hc.handoff_id = ANY(\(handoffs)) ORDER BY hc.added_at, hc.event_id
            """)
        try Self.attach(causes: rows, to: &tasks)
    }

    /// Rows of (handoff id, `HandoffCause.columns`) onto each handoff's task.
    static func attach(causes rows: PQRows, to tasks: inout [TaskSummary]) throws {
        var causes: [UUID: [HandoffCause]] = [:]
        for row in rows {
            causes[try row.decode(UUID.self, at: 0), default: []].append(try HandoffCause.from(row, at: 1))
        }
        for index in tasks.indices {
            if let handoff = tasks[index].handoffID { tasks[index].causes = causes[handoff] ?? [] }
        }
    }
}

extension CommandContext {
    /// The records of `kinds` of the patients `ids` (whom the caller was let read), changed after
    /// `since`: a handful of queries whatever the number of patients (`patient_id = ANY(...)`),
    /// sent in one pipeline (one round trip, every query on the transaction's snapshot).
    /// Psychotherapy notes are never read. `along` goes in front in the same round trip; their
    /// results are returned.
    @discardableResult
    func records(
        of ids: [UUID], kinds: Set<ExportRecords>, since: Date?, into chunk: inout ExportChunk,
        along: [PQQuery] = []
    ) async throws -> [PQRows] {
        typealias Reader = (PQRows, inout ExportChunk) throws -> Void
        let match = Self.matching(ids)
        var queries = along
        var readers: [Reader] = []
        func read(_ query: PQQuery, _ reader: @escaping Reader) {
            queries.append(query)
            readers.append(reader)
        }
        if kinds.contains(.measurements) {
            read(
                """
                SELECT \(fragment: CareStore.measurementColumns), m.patient_id FROM measurements m
                WHERE m.patient_id \(fragment: match)
                  AND (\(since)::timestamptz IS NULL OR greatest(m.created_at, m.entered_in_error_at) > \(since))
                ORDER BY m.patient_id, m.taken_at, m.id
                """
            ) { rows, chunk in
                chunk.measurements = try rows.map { (try $0.decode(UUID.self, at: 11), try CareStore.measurement($0)) }
            }
        }
        if kinds.contains(.trials) {
            let reference = try await referenceData()
            let asOf = Date()
            read(Self.trialsQuery(patients: ids, since: since)) { rows, chunk in
                chunk.trials = try rows.map {
                    let loaded = try Self.loadedTrial($0, reference: reference, asOf: asOf)
                    return (loaded.patientID, loaded.trial.summary)
                }
            }
        }
        if kinds.contains(.referrals) {
            read(Self.referralsQuery(patients: ids, since: since)) { rows, chunk in
                chunk.referrals = try rows.map(Self.referral)
            }
        }
        if kinds.contains(.tasks) {
            let changed: PQQuery = """
                t.patient_id \(fragment: match) AND (\(since)::timestamptz IS NULL OR t.updated_at > \(since))
                """
            read(
                """
                SELECT \(unescaped: CareStore.taskColumns) FROM tasks t WHERE \(fragment: changed)
                ORDER BY t.patient_id, t.created_at, t.id
                """
            ) { rows, chunk in chunk.tasks = try rows.map(CareStore.task) }
            // Each handoff's causes, as `task(_:by:)` gives them (read after the tasks).
            read(
                """
                SELECT hc.handoff_id, \(fragment: HandoffCause.columns)
                FROM handoff_causes hc JOIN events e ON e.id = hc.event_id
                WHERE hc.handoff_id IN (SELECT t.handoff_id FROM tasks t WHERE \(fragment: changed))
                ORDER BY hc.added_at, hc.event_id
                """
            ) { rows, chunk in try Self.attach(causes: rows, to: &chunk.tasks) }
        }
        if kinds.contains(.carePlans) {
            read(
                """
                SELECT p.patient_id, p.version, p.goals, p.problems, p.treatment_line, p.author_id, p.created_at,
                       ARRAY(SELECT t.id FROM tasks t WHERE t.patient_id = p.patient_id
                             AND t.status IN ('requested', 'accepted', 'in-progress', 'on-hold') ORDER BY t.created_at,
                                 t.id)
                FROM care_plans p
                WHERE p.patient_id \(fragment: match) AND p.is_active AND (\(since)::timestamptz IS NULL OR p.created_at
                    > \(since))
                ORDER BY p.patient_id
                """
            ) { rows, chunk in
                chunk.carePlans = try rows.map { row in
                    let (patient, version, goals, problems, line, author, created, open) = try row.decode(
                        UUID.self, Int.self, PQJSON<[String]>.self, PQJSON<[String]>.self, String.self, UUID?.self,
                        Date.self, [UUID].self)
                    return (
                        CarePlan(
                            patientID: patient, version: version,
                            content: CarePlanContent(goals: goals.value, problems: problems.value, treatmentLine: line),
                            authorID: author, updatedAt: created),
                        open
                    )
                }
            }
        }
        if kinds.contains(.notes) {
            read(
                """
                SELECT \(unescaped: CareStore.noteColumns), n.patient_id FROM notes n JOIN members a ON a.id =
                    n.author_id
                WHERE n.patient_id \(fragment: match) AND n.kind <> 'psychotherapy'
                  AND (\(since)::timestamptz IS NULL OR greatest(n.created_at, n.entered_in_error_at) > \(since))
                ORDER BY n.patient_id, n.created_at, n.id
                """
            ) { rows, chunk in
                chunk.notes = try rows.map { (try $0.decode(UUID.self, at: 12), try CareStore.note($0)) }
            }
        }
        let results = try await connection.pipeline(queries)
        for (reader, rows) in zip(readers, results.dropFirst(along.count)) { try reader(rows, &chunk) }
        return Array(results.prefix(along.count))
    }

    /// `= $1` for one patient, `= ANY($1)` for several. PostgreSQL keeps one plan for the first
    /// (planned once per connection), but plans the second anew for every call: its generic plan
    /// for an array of unknown length checks row-level security by reading every patient, so the
    /// planner rightly prefers a plan made for the values, and with the policies' subqueries that
    /// planning costs 0.4 to 1 ms a statement (BENCHMARKS.md, bench/fhir, session 12). One
    /// patient's record ($everything) is read the first way; the export's batches the second.
    static func matching(_ ids: [UUID]) -> PQQuery {
        ids.count == 1 ? "= \(ids[0])" : "= ANY(\(ids))"
    }
}
