-- A synthetic caseload for trying the weekly report at scale (care-server admin seed-synthetic).
-- Run in one transaction after the team and its three clinicians exist, with these settings:
-- synthetic.team, synthetic.psychiatrist, synthetic.psychologist, synthetic.social_worker (ids),
-- synthetic.patients and synthetic.weeks (counts); setseed() makes the random choices repeatable.
-- Patients: enrolled across the weeks, each with a course: how far and how fast their PHQ-9
-- falls. The episode is the one they were enrolled in.
CREATE TEMPORARY TABLE synthetic ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, g AS n,
       (current_date - (random() * current_setting('synthetic.weeks')::int * 7)::int) AS enrolled_on,
       12 + (random() * 13)::int AS baseline,
       (ARRAY[0.7, 0.55, 0.35, 0.15, 0.05])[1 + floor(random() * 5)::int] AS drop,
       4 + random() * 16 AS weeks_to_effect,
       random() < 0.04 AS discharged
FROM generate_series(1, current_setting('synthetic.patients')::int) g;
INSERT INTO patients (id, team_id, mrn, display_name, enrolled_on, status, episode_started_on)
SELECT id, current_setting('synthetic.team')::uuid, 'SYN-' || n, 'Patient ' || to_char(n, 'FM000000'), enrolled_on,
       CASE WHEN discharged THEN 'discharged' WHEN current_date - enrolled_on < 14 THEN 'enrolled' ELSE 'active' END,
       enrolled_on
FROM synthetic;
INSERT INTO care_plans (patient_id, version, goals, treatment_line)
SELECT id, 1, '["PHQ-9 under 5"]', 'SSRI, then switch or augment' FROM synthetic;
-- Fortnightly PHQ-9 from enrolment: an exponential course towards baseline × (1 - drop), with noise.
INSERT INTO measurements (patient_id, instrument, total, safety_signal, taken_at, recorded_by)
SELECT s.id, 'PHQ-9', v.total, v.total >= 15 AND random() < 0.03,
       (s.enrolled_on + k * 14)::timestamptz + interval '10 hours', current_setting('synthetic.psychiatrist')::uuid
FROM synthetic s, generate_series(0, (current_date - s.enrolled_on) / 14) k,
     LATERAL (SELECT greatest(0, least(27, round(s.baseline * (1 - s.drop * (1 - exp(-k * 2.0 / s.weeks_to_effect))) + (random() * 4 - 2))))::int AS total) v
WHERE s.enrolled_on + k * 14 <= current_date;
-- Monthly notes: progress (team-visible) and psychotherapy (their author only).
INSERT INTO notes (patient_id, author_id, kind, body, created_at)
SELECT s.id, CASE WHEN k % 2 = 0 THEN current_setting('synthetic.psychiatrist')::uuid ELSE current_setting('synthetic.psychologist')::uuid END,
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
       stopped_on IS NOT NULL AND drop < 0.5, current_setting('synthetic.psychiatrist')::uuid, coalesce(stopped_on, started_on)::timestamptz + interval '12 hours'
FROM synthetic_trials t;
-- Each failed trial: its event, and three handoffs with their tasks (done long ago, open if recent).
CREATE TEMPORARY TABLE synthetic_failures ON COMMIT DROP AS
SELECT t.id AS trial_id, t.patient_id, t.stopped_on, nextval(pg_get_serial_sequence('events', 'id')) AS event_id FROM trials t
JOIN synthetic s ON s.id = t.patient_id WHERE t.is_failed;
INSERT INTO events (id, type, team_id, patient_id, actor_id, occurred_at, payload) OVERRIDING SYSTEM VALUE
SELECT event_id, 'trial.failed', current_setting('synthetic.team')::uuid, patient_id, current_setting('synthetic.psychiatrist')::uuid, (stopped_on + 1)::timestamptz + interval '9 hours',
       jsonb_build_object('trial_id', trial_id::text) FROM synthetic_failures;
CREATE TEMPORARY TABLE synthetic_handoffs ON COMMIT DROP AS
SELECT gen_random_uuid() AS handoff_id, gen_random_uuid() AS task_id, f.event_id, f.patient_id, r.role, r.step, r.title,
       (f.stopped_on + 1)::timestamptz + interval '9 hours' AS created_at,
       (f.stopped_on + 1)::timestamptz + interval '9 hours' + r.due AS due_at,
       current_date - f.stopped_on > 10 AS settled, r.member
FROM synthetic_failures f, (VALUES
    ('psychiatrist', 'trial-failed.next-step', 'Plan the next treatment step', interval '72 hours', current_setting('synthetic.psychiatrist')::uuid),
    ('psychologist', 'trial-failed.psychotherapy-review', 'Review psychotherapy', interval '168 hours', current_setting('synthetic.psychologist')::uuid),
    ('social_worker', 'trial-failed.barriers', 'Screen for barriers', interval '168 hours', current_setting('synthetic.social_worker')::uuid)) r(role, step, title, due, member);
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
       current_setting('synthetic.psychiatrist')::uuid, max(stopped_on)::timestamptz + interval '3 days', max(stopped_on)::timestamptz + interval '3 days'
FROM synthetic_failures GROUP BY patient_id HAVING count(*) >= 2;
INSERT INTO tasks (patient_id, title, pool_role, owner_id, status, priority, due_at, created_at, completed_at)
SELECT s.id, 'Check in by phone', 'social_worker', current_setting('synthetic.social_worker')::uuid,
       CASE WHEN k < (current_date - s.enrolled_on) / 56 THEN 'completed' ELSE 'accepted' END, 'routine',
       -- The open one is due within the coming weeks, one in ten already overdue.
       CASE WHEN k < (current_date - s.enrolled_on) / 56 THEN (s.enrolled_on + k * 56 + 7)::timestamptz
            WHEN random() < 0.1 THEN now() - interval '2 days' ELSE now() + (random() * 21 || ' days')::interval END,
       (s.enrolled_on + k * 56)::timestamptz,
       CASE WHEN k < (current_date - s.enrolled_on) / 56 THEN (s.enrolled_on + k * 56 + 5)::timestamptz END
FROM synthetic s, generate_series(0, (current_date - s.enrolled_on) / 56) k;
