import CoreFormats
import ArgumentParser
import CareDomain
import CareStore
import Foundation
import PQ

struct SeededSynthetic: Encodable {
    var team_id: LowercaseID
    var team_name: String
    var patients: Int
    var weeks: Int
    var rows: [String: Int]
}

extension CareServerCommand.Admin {
    /// Realistic synthetic data for trying the report at scale: a team with three clinicians
    /// and N patients enrolled over W weeks, each with fortnightly PHQ-9 scores along a course of
    /// their own (responders, partial responders, non-responders, a few safety signals), monthly
    /// progress and psychotherapy notes, one to three medication trials (ten weeks apart)
    /// (failed ones with their events, handoffs and tasks), TMS and ECT referrals, and open and
    /// overdue work. Made in one transaction with set-based SQL (seconds, not hours).
    struct SeedSynthetic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed-synthetic", abstract: "Make a synthetic team with patients and their history (for the report at scale).",
            discussion: "Example: care-server admin seed-synthetic --patients 5000 --weeks 156 --json")

        @Option(help: "How many patients.") var patients: Int = 500
        @Option(help: "Weeks of history (patients are enrolled across them).") var weeks: Int = 52
        @Option(help: "The team's name (default: Synthetic N×W).") var teamName: String?
        @Option(help: "Seed for the random choices (the same seed makes the same data).") var seed: Double = 0.42
        @OptionGroup var options: AdminOptions

        func validate() throws {
            guard (1...100_000).contains(patients) else { throw ValidationError("--patients must be from 1 to 100000") }
            guard (1...520).contains(weeks) else { throw ValidationError("--weeks must be from 1 to 520") }
            guard (-1...1).contains(seed) else { throw ValidationError("--seed must be from -1 to 1") }
        }

        func run() async throws {
            let name = teamName ?? "Synthetic \(patients)x\(weeks)"
            let (patients, weeks, seed) = (patients, weeks, seed)
            try await options.withStore({ store in
                let team = try await store.createTeam(name: name, by: .system())
                var members: [UUID] = []
                for (person, role) in [("Dr. Synthetic Psychiatrist", Role.psychiatrist), ("Dr. Synthetic Psychologist", .psychologist),
                                       ("Synthetic Social Worker", .socialWorker)] {
                    members.append(try await store.createMember(displayName: "\(person) (\(name))", teamID: team, roles: [role], by: .system()))
                }
                let rows = try await Self.generate(store.pool, team: team, members: members, patients: patients, weeks: weeks, seed: seed)
                return SeededSynthetic(team_id: LowercaseID(team), team_name: name, patients: patients, weeks: weeks, rows: rows)
            }, text: { seeded in
                "Seeded \(seeded.team_name) (\(seeded.team_id)): " + seeded.rows.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + "."
            })
        }

        static func generate(_ pool: PQPool, team: UUID, members: [UUID], patients: Int, weeks: Int, seed: Double) async throws -> [String: Int] {
            let (psychiatrist, psychologist, socialWorker) = (members[0], members[1], members[2])
            let t = team.lowercasedString
            return try await pool.withTransaction { connection in
                try await connection.query("SELECT setseed(\(seed))")
                // Patients: enrolled across the weeks, each with a course: how far and how fast their
                // PHQ-9 falls. The episode is the one they were enrolled in.
                try await connection.execute("""
                    CREATE TEMPORARY TABLE synthetic ON COMMIT DROP AS
                    SELECT gen_random_uuid() AS id, g AS n,
                           (current_date - (random() * \(weeks * 7))::int) AS enrolled_on,
                           12 + (random() * 13)::int AS baseline,
                           (ARRAY[0.7, 0.55, 0.35, 0.15, 0.05])[1 + floor(random() * 5)::int] AS drop,
                           4 + random() * 16 AS weeks_to_effect,
                           random() < 0.04 AS discharged
                    FROM generate_series(1, \(patients)) g;
                    INSERT INTO patients (id, team_id, mrn, display_name, enrolled_on, status, episode_started_on)
                    SELECT id, '\(t)', 'SYN-' || n, 'Patient ' || to_char(n, 'FM000000'), enrolled_on,
                           CASE WHEN discharged THEN 'discharged' WHEN current_date - enrolled_on < 14 THEN 'enrolled' ELSE 'active' END,
                           enrolled_on
                    FROM synthetic;
                    INSERT INTO care_plans (patient_id, version, goals, treatment_line)
                    SELECT id, 1, '["PHQ-9 under 5"]', 'SSRI, then switch or augment' FROM synthetic;
                    -- Fortnightly PHQ-9 from enrolment: an exponential course towards baseline × (1 - drop), with noise.
                    INSERT INTO measurements (patient_id, instrument, total, safety_signal, taken_at, recorded_by)
                    SELECT s.id, 'PHQ-9', v.total, v.total >= 15 AND random() < 0.03,
                           (s.enrolled_on + k * 14)::timestamptz + interval '10 hours', '\(psychiatrist.lowercasedString)'
                    FROM synthetic s, generate_series(0, (current_date - s.enrolled_on) / 14) k,
                         LATERAL (SELECT greatest(0, least(27, round(s.baseline * (1 - s.drop * (1 - exp(-k * 2.0 / s.weeks_to_effect))) + (random() * 4 - 2))))::int AS total) v
                    WHERE s.enrolled_on + k * 14 <= current_date;
                    -- Monthly notes: progress (team-visible) and psychotherapy (their author only).
                    INSERT INTO notes (patient_id, author_id, kind, body, created_at)
                    SELECT s.id, CASE WHEN k % 2 = 0 THEN '\(psychiatrist.lowercasedString)'::uuid ELSE '\(psychologist.lowercasedString)'::uuid END,
                           CASE WHEN k % 2 = 0 THEN 'progress' ELSE 'psychotherapy' END,
                           CASE WHEN k % 2 = 0 THEN 'Reviewed mood, sleep and side effects.' ELSE 'Session notes.' END,
                           (s.enrolled_on + k * 28 + 3)::timestamptz + interval '14 hours'
                    FROM synthetic s, generate_series(0, (current_date - s.enrolled_on) / 28) k
                    WHERE s.enrolled_on + k * 28 + 3 <= current_date;
                    -- Medication trials: one at enrolment and, for those not responding, up to two more, ten weeks apart.
                    CREATE TEMPORARY TABLE synthetic_trials ON COMMIT DROP AS
                    SELECT gen_random_uuid() AS id, s.id AS patient_id, s.drop,
                           (ARRAY['sertraline', 'escitalopram', 'venlafaxine', 'bupropion', 'mirtazapine', 'duloxetine'])[1 + ((k + s.n) % 6)] AS drug,
                           p.episode_started_on + k * 70 AS started_on,
                           CASE WHEN p.episode_started_on + (k + 1) * 70 <= current_date THEN p.episode_started_on + (k + 1) * 70 - 1 END AS stopped_on
                    FROM synthetic s JOIN patients p ON p.id = s.id, generate_series(0, 2) k
                    WHERE p.episode_started_on + k * 70 <= current_date AND (k = 0 OR s.drop < 0.5);
                    INSERT INTO trials (id, patient_id, kind, drug, dose_steps, started_on, stopped_on, adherence, outcome, is_failed, recorded_by, updated_at)
                    SELECT id, patient_id, 'medication', drug,
                           jsonb_build_array(jsonb_build_object('from', to_char(started_on, 'YYYY-MM-DD') || 'T00:00:00Z', 'dailyDoseMg',
                               (SELECT minimum_adequate_daily_dose_mg * 1.5 FROM dose_table d WHERE d.drug = t.drug))),
                           started_on, stopped_on, CASE WHEN stopped_on IS NOT NULL THEN 0.9 END,
                           CASE WHEN stopped_on IS NULL THEN NULL WHEN drop >= 0.5 THEN 'response' WHEN drop >= 0.25 THEN 'partial-response' ELSE 'non-response' END,
                           stopped_on IS NOT NULL AND drop < 0.5, '\(psychiatrist.lowercasedString)', coalesce(stopped_on, started_on)::timestamptz + interval '12 hours'
                    FROM synthetic_trials t;
                    -- Each failed trial: its event, and three handoffs with their tasks (done long ago, open if recent).
                    CREATE TEMPORARY TABLE synthetic_failures ON COMMIT DROP AS
                    SELECT t.id AS trial_id, t.patient_id, t.stopped_on, nextval(pg_get_serial_sequence('events', 'id')) AS event_id FROM trials t
                    JOIN synthetic s ON s.id = t.patient_id WHERE t.is_failed;
                    INSERT INTO events (id, type, team_id, patient_id, actor_id, occurred_at, payload) OVERRIDING SYSTEM VALUE
                    SELECT event_id, 'trial.failed', '\(t)', patient_id, '\(psychiatrist.lowercasedString)', (stopped_on + 1)::timestamptz + interval '9 hours',
                           jsonb_build_object('trial_id', trial_id::text) FROM synthetic_failures;
                    CREATE TEMPORARY TABLE synthetic_handoffs ON COMMIT DROP AS
                    SELECT gen_random_uuid() AS handoff_id, gen_random_uuid() AS task_id, f.event_id, f.patient_id, r.role, r.step, r.title,
                           (f.stopped_on + 1)::timestamptz + interval '9 hours' AS created_at,
                           (f.stopped_on + 1)::timestamptz + interval '9 hours' + r.due AS due_at,
                           current_date - f.stopped_on > 10 AS settled, r.member
                    FROM synthetic_failures f, (VALUES
                        ('psychiatrist', 'trial-failed.next-step', 'Plan the next treatment step', interval '72 hours', '\(psychiatrist.lowercasedString)'::uuid),
                        ('psychologist', 'trial-failed.psychotherapy-review', 'Review psychotherapy', interval '168 hours', '\(psychologist.lowercasedString)'::uuid),
                        ('social_worker', 'trial-failed.barriers', 'Screen for barriers', interval '168 hours', '\(socialWorker.lowercasedString)'::uuid)) r(role, step, title, due, member);
                    INSERT INTO tasks (id, patient_id, title, pool_role, owner_id, status, priority, due_at, origin, handoff_id, created_at, completed_at)
                    SELECT task_id, patient_id, title, role, CASE WHEN settled THEN member END, CASE WHEN settled THEN 'completed' ELSE 'requested' END,
                           CASE WHEN role = 'psychiatrist' THEN 'urgent' ELSE 'routine' END, due_at, 'handoff', handoff_id, created_at,
                           CASE WHEN settled THEN created_at + interval '2 days' END
                    FROM synthetic_handoffs;
                    INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at, acknowledged_by, acknowledged_at, created_at)
                    SELECT handoff_id, event_id, step, patient_id, role, task_id, 'trial.failed: non-response', due_at,
                           CASE WHEN settled THEN member END, CASE WHEN settled THEN created_at + interval '1 day' END, created_at
                    FROM synthetic_handoffs;
                    -- Referrals for some of those with two failures; a manual task now and then, some overdue.
                    INSERT INTO referrals (patient_id, kind, status, target_clinic, made_by, created_at, updated_at)
                    SELECT patient_id, CASE WHEN random() < 0.7 THEN 'tms' ELSE 'ect' END,
                           (ARRAY['requested', 'accepted', 'scheduled', 'in-course', 'completed'])[1 + floor(random() * 5)::int], 'Riverside Neuromodulation',
                           '\(psychiatrist.lowercasedString)', max(stopped_on)::timestamptz + interval '3 days', max(stopped_on)::timestamptz + interval '3 days'
                    FROM synthetic_failures GROUP BY patient_id HAVING count(*) >= 2;
                    INSERT INTO tasks (patient_id, title, pool_role, owner_id, status, priority, due_at, created_at, completed_at)
                    SELECT s.id, 'Check in by phone', 'social_worker', '\(socialWorker.lowercasedString)',
                           CASE WHEN k < (current_date - s.enrolled_on) / 56 THEN 'completed' ELSE 'accepted' END, 'routine',
                           -- The open one is due within the coming weeks, one in ten already overdue.
                           CASE WHEN k < (current_date - s.enrolled_on) / 56 THEN (s.enrolled_on + k * 56 + 7)::timestamptz
                                WHEN random() < 0.1 THEN now() - interval '2 days' ELSE now() + (random() * 21 || ' days')::interval END,
                           (s.enrolled_on + k * 56)::timestamptz,
                           CASE WHEN k < (current_date - s.enrolled_on) / 56 THEN (s.enrolled_on + k * 56 + 5)::timestamptz END
                    FROM synthetic s, generate_series(0, (current_date - s.enrolled_on) / 56) k;
                    """)
                var counts: [String: Int] = [:]
                for table in ["patients", "measurements", "notes", "trials", "referrals", "handoffs", "tasks", "events"] {
                    let owner: PQQuery = table == "patients" || table == "events" ? "x.team_id" : "(SELECT team_id FROM patients p WHERE p.id = x.patient_id)"
                    counts[table] = try await connection.query("SELECT count(*) FROM \(unescaped: table) x WHERE \(fragment: owner) = \(team)")[0].decode(Int.self, at: 0)
                }
                return counts
            }
        }
    }
}
