-- pgbench: the statements care-server runs for POST /v1/trials/{id}/outcome (a failed adequate
-- medication trial), in the same order and the same round trips, as care_app with the acting
-- member set: BEGIN, becoming care_app and the token's lookup (migration 0014's function, which
-- sets the acting member) in one pipeline; the locked trial and the failed trials so far in one
-- pipeline; the trial's update with the first event; the trial.failed event; the patient's lock
-- with its open one-per-patient handoffs (none here); the three handoffs' inserts (each with its
-- task, its cause and its handoff.created event) in one pipeline; the audit entry with COMMIT. (The server keeps the dose table, playbook and settings cached, so it does
-- not read them here.) Variables: :hash (the token's SHA-256, hex), :member, :stopped (the stop
-- date); :base, :clients and :k (0) pick each client's unused trials from bench_pg_trials:
-- pgbench's own bookkeeping, looked up by primary key where the server has the ids at hand
-- (\gset cannot be used inside a pipeline).
\set n :base + 1 + :client_id + :k * :clients
\set k :k + 1
\startpipeline
BEGIN;
SELECT set_config('role', 'care_app', true);
SELECT a.*, set_config('carerelay.member_id', a.member_id::text, true), set_config('carerelay.token_id', a.token_id::text, true),
       set_config('carerelay.request_id', 'pgbench', true)
 FROM care_authenticate(decode(:hash, 'hex'), now(), now() - interval '60 seconds') a;
\endpipeline
\startpipeline
SELECT t.patient_id, p.team_id, t.kind, t.drug, t.dose_steps, t.started_on, t.outcome, t.sessions, t.is_bilateral_ect,
       t.entered_in_error_at, p.enrolled_on, t.therapy
 FROM trials t JOIN patients p ON p.id = t.patient_id WHERE t.id = (SELECT trial_id FROM bench_pg_trials WHERE n = :n) FOR UPDATE OF t, p;
SELECT t.kind, d.drug_class, t.is_bilateral_ect, t.id FROM trials t JOIN patients p ON p.id = t.patient_id LEFT JOIN dose_table d ON d.drug = t.drug
 WHERE t.patient_id = (SELECT patient_id FROM trials WHERE id = (SELECT trial_id FROM bench_pg_trials WHERE n = :n))
   AND t.is_failed AND t.entered_in_error_at IS NULL AND t.started_on >= coalesce(p.episode_started_on, p.enrolled_on);
\endpipeline
\startpipeline
UPDATE trials SET outcome = 'non-response', stopped_on = :stopped::date, adherence = 0.9, stop_reason = NULL, is_failed = true, sessions = NULL,
    outcome_recorded_by = :member, updated_at = now()
 WHERE id = (SELECT trial_id FROM bench_pg_trials WHERE n = :n);
INSERT INTO events (type, team_id, patient_id, actor_id, payload)
 VALUES ('trial.outcome_recorded', (SELECT team_id FROM bench_pg_trials WHERE n = :n), (SELECT patient_id FROM bench_pg_trials WHERE n = :n), :member,
         jsonb_build_object('trial_id', (SELECT trial_id FROM bench_pg_trials WHERE n = :n)::text, 'outcome', 'non-response', 'adequate', 'true'))
 RETURNING id, occurred_at;
\endpipeline
INSERT INTO events (type, team_id, patient_id, actor_id, payload)
 VALUES ('trial.failed', (SELECT team_id FROM bench_pg_trials WHERE n = :n), (SELECT patient_id FROM bench_pg_trials WHERE n = :n), :member,
         jsonb_build_object('trial_id', (SELECT trial_id FROM bench_pg_trials WHERE n = :n)::text))
 RETURNING id AS ev, occurred_at, team_id AS team, patient_id AS pid, gen_random_uuid() AS h1, gen_random_uuid() AS h2, gen_random_uuid() AS h3 \gset
\startpipeline
SELECT 1 FROM patients WHERE id = :pid FOR UPDATE;
SELECT h.id, h.step_key, (SELECT count(*) FROM handoff_causes c WHERE c.handoff_id = h.id AND c.withdrawn_at IS NULL)::int
 FROM handoffs h JOIN tasks t ON t.id = h.task_id
 WHERE h.patient_id = :pid AND h.step_key = ANY('{trial-failed.next-step,trial-failed.psychotherapy-review,trial-failed.barriers}'::text[]) AND h.superseded_at IS NULL
   AND t.status NOT IN ('completed', 'cancelled', 'failed')
 ORDER BY h.created_at;
\endpipeline
\startpipeline
INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id) VALUES (:h1, :pid, 'Plan the next treatment step', 'psychiatrist', 'urgent', now() + interval '72 hours', 'handoff', :h1);
INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at) VALUES (:h1, :ev, 'trial-failed.next-step', :pid, 'psychiatrist', :h1, 'sertraline: non-response', now() + interval '72 hours');
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary) VALUES (:h1, :ev, 'trial-failed.next-step', :pid, (SELECT trial_id FROM bench_pg_trials WHERE n = :n), 'sertraline: non-response');
INSERT INTO events (type, team_id, patient_id, actor_id, payload) VALUES ('handoff.created', :team, :pid, NULL, jsonb_build_object('handoff_id', :h1::text, 'task_id', :h1::text, 'role', 'psychiatrist', 'step', 'trial-failed.next-step', 'cause_event_id', :ev::text));
INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id) VALUES (:h2, :pid, 'Review psychotherapy', 'psychologist', 'routine', now() + interval '168 hours', 'handoff', :h2);
INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at) VALUES (:h2, :ev, 'trial-failed.psychotherapy-review', :pid, 'psychologist', :h2, 'sertraline: non-response', now() + interval '168 hours');
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary) VALUES (:h2, :ev, 'trial-failed.psychotherapy-review', :pid, (SELECT trial_id FROM bench_pg_trials WHERE n = :n), 'sertraline: non-response');
INSERT INTO events (type, team_id, patient_id, actor_id, payload) VALUES ('handoff.created', :team, :pid, NULL, jsonb_build_object('handoff_id', :h2::text, 'task_id', :h2::text, 'role', 'psychologist', 'step', 'trial-failed.psychotherapy-review', 'cause_event_id', :ev::text));
INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id) VALUES (:h3, :pid, 'Screen for barriers', 'social_worker', 'routine', now() + interval '168 hours', 'handoff', :h3);
INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at) VALUES (:h3, :ev, 'trial-failed.barriers', :pid, 'social_worker', :h3, 'sertraline: non-response', now() + interval '168 hours');
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary) VALUES (:h3, :ev, 'trial-failed.barriers', :pid, (SELECT trial_id FROM bench_pg_trials WHERE n = :n), 'sertraline: non-response');
INSERT INTO events (type, team_id, patient_id, actor_id, payload) VALUES ('handoff.created', :team, :pid, NULL, jsonb_build_object('handoff_id', :h3::text, 'task_id', :h3::text, 'role', 'social_worker', 'step', 'trial-failed.barriers', 'cause_event_id', :ev::text));
\endpipeline
\startpipeline
INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id, detail)
 SELECT :member, NULL, 'trial.outcome', p, '/v1/trials/' || (SELECT trial_id FROM bench_pg_trials WHERE n = :n)::text || '/outcome', 'allowed', 'pgbench', NULL
 FROM unnest(ARRAY[:pid]::uuid[]) AS p;
COMMIT;
\endpipeline
