import CareDomain
import CareStore
import Foundation
import PQ
import Testing
import TestSupport

@Suite("The care schema")
struct SchemaTests {
    @Test("the seeded dose table, playbook and settings equal CareDomain's defaults")
    func seedsMatchDomainDefaults() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let data = try await pool.withConnection { try await ReferenceData.load($0) }
            #expect(
                data.doseTable.entries.sorted { $0.drug < $1.drug }
                    == DoseTable.default.entries.sorted { $0.drug < $1.drug })
            #expect(data.playbook == Playbook.default)
            #expect(data.trialRules == TrialRules())
            #expect(data.responseRules == ResponseRules())
        }
    }

    @Test("an admin's edit of the playbook and settings is what the rules then use")
    func editedReferenceData() async throws {
        try await MigratedDatabase.withPool { pool, database in
            // Reference data is changed by migrations (the owner), never by the server's login.
            _ = try await database.superuser(
                pool, "UPDATE playbook_steps SET is_active = false WHERE key = 'trial-failed.barriers'")
            _ = try await database.superuser(
                pool,
                """
                UPDATE rule_settings SET value = jsonb_set(value, '{trdRequiresDifferentClasses}', 'true') WHERE name \
                = 'trial'
                """
            )
            let data = try await pool.withConnection { try await ReferenceData.load($0) }
            #expect(!data.playbook.steps.contains { $0.key == "trial-failed.barriers" })
            #expect(data.trialRules.trdRequiresDifferentClasses)
            #expect(data.trialRules.trdFailedTrials == 2)
        }
    }

    /// Runs `sql` as care_app, the role requests run as.
    func asApp(_ pool: PQPool, _ sql: String, member: UUID? = nil) async throws {
        try await pool.withTransaction { connection in
            try await connection.execute("SET LOCAL ROLE care_app")
            if let member {
                try await connection.execute("SET LOCAL carerelay.member_id = '\(member.uuidString.lowercased())'")
            }
            try await connection.execute(sql)
        }
    }

    @Test(
        "care_app cannot UPDATE or DELETE events, notes or audit entries",
        arguments: [
            "UPDATE events SET type = 'x.y'", "DELETE FROM events",
            "UPDATE notes SET body = 'rewritten'", "DELETE FROM notes",
            "UPDATE audit_entries SET outcome = 'allowed'", "DELETE FROM audit_entries",
        ])
    func appendOnly(sql: String) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let error = await #expect(throws: PQError.self) { try await asApp(pool, sql) }
            #expect(error?.sqlState == SQLState.insufficientPrivilege)
        }
    }

    @Test("care_app appends events and audit entries as the acting member, and owns no table")
    func appCanAppend() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let team = try await pool.query("INSERT INTO teams (name) VALUES ('North') RETURNING id")[0].decode(
                UUID.self, at: 0)
            let member = try await pool.query("INSERT INTO members (display_name) VALUES ('Dr. Rao') RETURNING id")[0]
                .decode(UUID.self, at: 0)
            try await pool.query(
                "INSERT INTO memberships (team_id, member_id, role) VALUES (\(team), \(member), 'psychiatrist')")
            let teamID = team.uuidString.lowercased(), memberID = member.uuidString.lowercased()
            try await asApp(
                pool, "INSERT INTO events (type, team_id) VALUES ('system.started', '\(teamID)')", member: member)
            try await asApp(
                pool,
                """
                INSERT INTO audit_entries (member_id, action, resource, outcome) VALUES ('\(memberID)', 'read', \
                'patient', 'allowed')
                """,
                member: member)
            // Without an acting member (or as someone else) row-level security refuses.
            for sql in [
                "INSERT INTO events (type, team_id) VALUES ('system.started', '\(teamID)')",
                """
                INSERT INTO audit_entries (member_id, action, resource, outcome) VALUES ('\(memberID)', 'read', \
                'patient', 'allowed')
                """,
            ] {
                let error = await #expect(throws: PQError.self) { try await asApp(pool, sql) }
                #expect(error?.sqlState == "42501")
            }
            let owned = try await pool.query(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'care_app'")
            #expect(try owned[0].decode(Int.self, at: 0) == 0)
            let role = try await pool.query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'care_app'")
            let (superuser, bypass) = try role[0].decode(Bool.self, Bool.self)
            #expect(!superuser && !bypass)
        }
    }

    func seedPatient(_ pool: PQPool) async throws -> (team: UUID, patient: UUID) {
        let team = try await pool.query("INSERT INTO teams (name) VALUES ('North') RETURNING id")[0].decode(
            UUID.self, at: 0)
        let patient = try await pool.query(
            """
            INSERT INTO patients (team_id, mrn, display_name, enrolled_on) VALUES (\(team), 'MRN-1', 'A. Patient',
                '2026-09-01')
            RETURNING id
            """)[0].decode(UUID.self, at: 0)
        return (team, patient)
    }

    @Test("a score carries its patient's team, which row-level security checks, and a patient keeps their team")
    func scoreTeam() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let (north, patient) = try await seedPatient(pool)
            let south = try await pool.query("INSERT INTO teams (name) VALUES ('South') RETURNING id")[0].decode(
                UUID.self, at: 0)
            var members: [UUID] = []
            for team in [north, south] {
                let member = try await pool.query(
                    "INSERT INTO members (display_name) VALUES ('Dr. Rao') RETURNING id")[0].decode(UUID.self, at: 0)
                try await pool.query(
                    "INSERT INTO memberships (team_id, member_id, role) VALUES (\(team), \(member), 'psychiatrist')")
                members.append(member)
            }
            // The team is filled in from the patient; naming another one is refused.
            let team = try await pool.query(
                """
                INSERT INTO measurements (patient_id, instrument, total, taken_at) VALUES (\(patient), 'PHQ-9', 14,
                    now()) RETURNING team_id
                """)[0].decode(UUID.self, at: 0)
            #expect(team == north)
            let wrongTeam = await #expect(throws: PQError.self) {
                try await pool.query(
                    """
                    INSERT INTO measurements (patient_id, instrument, total, taken_at, team_id) VALUES (\(patient),
                        'PHQ-9', 9, now(), \(south))
                    """)
            }
            #expect(wrongTeam?.sqlState == SQLState.checkViolation)
            // A member of the patient's team sees the score; a member of another team does not.
            var seen: [Int] = []
            for member in members {
                seen.append(
                    try await pool.withTransaction { connection in
                        try await connection.execute("SET LOCAL ROLE care_app")
                        try await connection.execute(
                            "SET LOCAL carerelay.member_id = '\(member.uuidString.lowercased())'")
                        return try await connection.query("SELECT count(*) FROM measurements")[0].decode(
                            Int.self, at: 0)
                    })
            }
            #expect(seen == [1, 0])
            let moved = await #expect(throws: PQError.self) {
                try await pool.query("UPDATE patients SET team_id = \(south) WHERE id = \(patient)")
            }
            #expect(moved?.sqlState == "55000")
        }
    }

    @Test("the database allows one active care plan per patient")
    func oneActivePlan() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let (_, patient) = try await seedPatient(pool)
            try await pool.query("INSERT INTO care_plans (patient_id, version) VALUES (\(patient), 1)")
            let error = await #expect(throws: PQError.self) {
                try await pool.query("INSERT INTO care_plans (patient_id, version) VALUES (\(patient), 2)")
            }
            #expect(error?.constraint == "care_plans_one_active")
            try await pool.withTransaction { connection in
                try await connection.query("UPDATE care_plans SET is_active = false WHERE patient_id = \(patient)")
                try await connection.query("INSERT INTO care_plans (patient_id, version) VALUES (\(patient), 2)")
            }
        }
    }

    @Test("a handoff exists once per (event, playbook step)")
    func handoffOncePerStep() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let (_, patient) = try await seedPatient(pool)
            let event = try await pool.query(
                "INSERT INTO events (type, patient_id) VALUES ('trial.failed', \(patient)) RETURNING id")[0].decode(
                    Int.self, at: 0)
            func insertHandoff() async throws {
                try await pool.withTransaction { connection in
                    let task = try await connection.query(
                        """
                        INSERT INTO tasks (patient_id, title, pool_role, origin) VALUES (\(patient), 'Plan',
                            'psychiatrist', 'handoff') RETURNING id
                        """)[0].decode(UUID.self, at: 0)
                    try await connection.query(
                        """
                        INSERT INTO handoffs (event_id, step_key, patient_id, role, task_id, reason, due_at)
                        VALUES (\(event), 'trial-failed.next-step', \(patient), 'psychiatrist', \(task), 'failed',
                            now())
                        """)
                }
            }
            try await insertHandoff()
            let error = await #expect(throws: PQError.self) { try await insertHandoff() }
            #expect(error?.constraint == "handoffs_once_per_event_step")
            // The failed attempt left no orphan task behind.
            let tasks = try await pool.query("SELECT count(*) FROM tasks")[0].decode(Int.self, at: 0)
            #expect(tasks == 1)
        }
    }

    @Test(
        "statuses outside the domain's values are refused by the database",
        arguments: [
            ("UPDATE tasks SET status = 'done'", "tasks_status_check"),
            ("UPDATE patients SET status = 'gone'", "patients_status_check"),
            (
                """
                INSERT INTO notes (patient_id, author_id, kind, body) SELECT p.id, m.id, 'diary', 'x' FROM patients p, \
                members m
                """,
                "notes_kind_check"
            ),
        ])
    func statusChecks(sql: String, constraint: String) async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let (_, patient) = try await seedPatient(pool)
            try await pool.query(
                "INSERT INTO tasks (patient_id, title, pool_role) VALUES (\(patient), 'Call', 'social_worker')")
            try await pool.query("INSERT INTO members (display_name) VALUES ('Dr. Author')")
            let error = await #expect(throws: PQError.self) { try await pool.query(PQQuery(sql)) }
            #expect(error?.sqlState == SQLState.checkViolation)
            #expect(error?.constraint == constraint)
        }
    }

    @Test("a task needs an owner or a role pool")
    func taskOwnerOrPool() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let (_, patient) = try await seedPatient(pool)
            let error = await #expect(throws: PQError.self) {
                try await pool.query("INSERT INTO tasks (patient_id, title) VALUES (\(patient), 'Orphan')")
            }
            #expect(error?.constraint == "tasks_owner_or_pool")
        }
    }

    @Test("every task and referral status of CareDomain is accepted by the database")
    func domainStatusesAccepted() async throws {
        try await MigratedDatabase.withPool { pool, _ in
            let (_, patient) = try await seedPatient(pool)
            for status in TaskStatus.allCases {
                try await pool.query(
                    """
                    INSERT INTO tasks (patient_id, title, pool_role, status) VALUES (\(patient), 'T', 'psychologist', \
                    \(status.rawValue))
                    """
                )
            }
            for status in ReferralStatus.allCases {
                try await pool.query(
                    """
                    INSERT INTO referrals (patient_id, kind, status, target_clinic) VALUES (\(patient), 'tms', \
                    \(status.rawValue), 'Clinic')
                    """
                )
            }
            for priority in TaskPriority.allCases {
                try await pool.query(
                    """
                    INSERT INTO tasks (patient_id, title, pool_role, priority) VALUES (\(patient), 'T', \
                    'psychologist', \(priority.rawValue))
                    """
                )
            }
        }
    }
}
