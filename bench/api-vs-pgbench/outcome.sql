-- pgbench: the statements care-server runs for POST /v1/trials/{id}/outcome (a failed adequate
-- medication trial), in the same order and the same round trips, as care_app with the acting
-- member set (since session 21, two round trips; session 20, three; before, seven). First
-- pipeline: BEGIN, becoming care_app and the token's lookup (migration 0014's function, which
-- sets the acting member; the server sends it with the command's first statements once it has
-- seen the token, and checks it before using anything else of the round trip), the locked trial
-- with its patient and team, the failed trials so far, the patient's open one-per-patient
-- handoffs (none here) and two event ids taken from the log's sequence with the transaction's
-- time. Second: the trial's update, its two events (with those ids), the three handoffs'
-- inserts (each with its task, its cause and its handoff.created event), the audit entry and
-- COMMIT. (The server keeps the dose table, playbook and settings cached, so it does not read
-- them here.) Variables: :hash (the token's SHA-256, hex), :member, :stopped (the stop date);
-- :base, :clients and :k (0) pick each client's unused trials from bench_pg_trials: pgbench's
-- own bookkeeping. \gset cannot be used inside a pipeline, so what the server has at hand (the
-- trial's, patient's and team's ids: one lookup by primary key, sent with the token's), reads
-- from the first pipeline (the event ids) or generates itself (the handoffs' ids) pgbench keeps
-- in settings of the transaction and reads back with current_setting() (a lookup in memory; a
-- subquery per use cost PostgreSQL about 0.5 ms more a transaction).
\set n :base + 1 + :client_id + :k * :clients
\set k :k + 1
\startpipeline
BEGIN;
SELECT set_config('role', 'care_app', true);
SELECT a.*, set_config('carerelay.member_id', a.member_id::text, true), set_config('carerelay.token_id', a.token_id::text, true),
       set_config('carerelay.request_id', 'pgbench', true)
 FROM care_authenticate(decode(:hash, 'hex'), now(), now() - interval '60 seconds') a;
SELECT set_config('bench.trial', trial_id::text, true), set_config('bench.patient', patient_id::text, true),
       set_config('bench.team', team_id::text, true)
 FROM bench_pg_trials WHERE n = :n;
SELECT t.patient_id, p.team_id, t.kind, t.drug, t.dose_steps, t.started_on, t.outcome, t.sessions, t.is_bilateral_ect,
       t.entered_in_error_at, p.enrolled_on, t.therapy, tm.time_zone
 FROM trials t JOIN patients p ON p.id = t.patient_id JOIN teams tm ON tm.id = p.team_id
 WHERE t.id = current_setting('bench.trial')::uuid FOR UPDATE OF t, p;
SELECT t.kind, d.drug_class, t.is_bilateral_ect, t.id FROM trials t JOIN patients p ON p.id = t.patient_id LEFT JOIN dose_table d ON d.drug = t.drug
 WHERE t.patient_id = (SELECT patient_id FROM trials WHERE id = current_setting('bench.trial')::uuid)
   AND t.is_failed AND t.entered_in_error_at IS NULL AND t.started_on >= coalesce(p.episode_started_on, p.enrolled_on);
SELECT h.id, h.step_key, (SELECT count(*) FROM handoff_causes c WHERE c.handoff_id = h.id AND c.withdrawn_at IS NULL)::int
 FROM handoffs h JOIN tasks t ON t.id = h.task_id
 WHERE h.patient_id = (SELECT patient_id FROM trials WHERE id = current_setting('bench.trial')::uuid)
   AND h.step_key = ANY('{trial-failed.next-step,trial-failed.psychotherapy-review,trial-failed.barriers,trd.evaluate-neuromodulation}'::text[])
   AND h.superseded_at IS NULL AND t.status NOT IN ('completed', 'cancelled', 'failed')
 ORDER BY h.created_at;
SELECT set_config('bench.ev' || g, nextval('events_id_seq')::text, true), now(),
       set_config('bench.h' || g, gen_random_uuid()::text, true), set_config('bench.h' || (g + 2), gen_random_uuid()::text, true)
 FROM generate_series(1, 2) g;
\endpipeline
\startpipeline
UPDATE trials SET outcome = 'non-response', stopped_on = :stopped::date, adherence = 0.9, stop_reason = NULL, is_failed = true, sessions = NULL,
    outcome_recorded_by = :member, updated_at = now()
 WHERE id = current_setting('bench.trial')::uuid;
INSERT INTO events (id, type, team_id, patient_id, actor_id, payload) OVERRIDING SYSTEM VALUE
 VALUES (current_setting('bench.ev1')::bigint, 'trial.outcome_recorded', current_setting('bench.team')::uuid, current_setting('bench.patient')::uuid, :member,
         jsonb_build_object('trial_id', current_setting('bench.trial')::uuid::text, 'outcome', 'non-response', 'adequate', 'true'));
INSERT INTO events (id, type, team_id, patient_id, actor_id, payload) OVERRIDING SYSTEM VALUE
 VALUES (current_setting('bench.ev2')::bigint, 'trial.failed', current_setting('bench.team')::uuid, current_setting('bench.patient')::uuid, :member,
         jsonb_build_object('trial_id', current_setting('bench.trial')::uuid::text));
INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id) VALUES (current_setting('bench.h1')::uuid, current_setting('bench.patient')::uuid, 'Plan the next treatment step', 'psychiatrist', 'urgent', now() + interval '72 hours', 'handoff', current_setting('bench.h1')::uuid);
INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at) VALUES (current_setting('bench.h1')::uuid, current_setting('bench.ev2')::bigint, 'trial-failed.next-step', current_setting('bench.patient')::uuid, 'psychiatrist', current_setting('bench.h1')::uuid, 'sertraline: non-response', now() + interval '72 hours');
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary) VALUES (current_setting('bench.h1')::uuid, current_setting('bench.ev2')::bigint, 'trial-failed.next-step', current_setting('bench.patient')::uuid, current_setting('bench.trial')::uuid, 'sertraline: non-response');
INSERT INTO events (type, team_id, patient_id, actor_id, payload) VALUES ('handoff.created', current_setting('bench.team')::uuid, current_setting('bench.patient')::uuid, NULL, jsonb_build_object('handoff_id', current_setting('bench.h1'), 'task_id', current_setting('bench.h1'), 'role', 'psychiatrist', 'step', 'trial-failed.next-step', 'cause_event_id', current_setting('bench.ev2')));
INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id) VALUES (current_setting('bench.h2')::uuid, current_setting('bench.patient')::uuid, 'Review psychotherapy', 'psychologist', 'routine', now() + interval '168 hours', 'handoff', current_setting('bench.h2')::uuid);
INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at) VALUES (current_setting('bench.h2')::uuid, current_setting('bench.ev2')::bigint, 'trial-failed.psychotherapy-review', current_setting('bench.patient')::uuid, 'psychologist', current_setting('bench.h2')::uuid, 'sertraline: non-response', now() + interval '168 hours');
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary) VALUES (current_setting('bench.h2')::uuid, current_setting('bench.ev2')::bigint, 'trial-failed.psychotherapy-review', current_setting('bench.patient')::uuid, current_setting('bench.trial')::uuid, 'sertraline: non-response');
INSERT INTO events (type, team_id, patient_id, actor_id, payload) VALUES ('handoff.created', current_setting('bench.team')::uuid, current_setting('bench.patient')::uuid, NULL, jsonb_build_object('handoff_id', current_setting('bench.h2'), 'task_id', current_setting('bench.h2'), 'role', 'psychologist', 'step', 'trial-failed.psychotherapy-review', 'cause_event_id', current_setting('bench.ev2')));
INSERT INTO tasks (id, patient_id, title, pool_role, priority, due_at, origin, handoff_id) VALUES (current_setting('bench.h3')::uuid, current_setting('bench.patient')::uuid, 'Screen for barriers', 'social_worker', 'routine', now() + interval '168 hours', 'handoff', current_setting('bench.h3')::uuid);
INSERT INTO handoffs (id, event_id, step_key, patient_id, role, task_id, reason, due_at) VALUES (current_setting('bench.h3')::uuid, current_setting('bench.ev2')::bigint, 'trial-failed.barriers', current_setting('bench.patient')::uuid, 'social_worker', current_setting('bench.h3')::uuid, 'sertraline: non-response', now() + interval '168 hours');
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary) VALUES (current_setting('bench.h3')::uuid, current_setting('bench.ev2')::bigint, 'trial-failed.barriers', current_setting('bench.patient')::uuid, current_setting('bench.trial')::uuid, 'sertraline: non-response');
INSERT INTO events (type, team_id, patient_id, actor_id, payload) VALUES ('handoff.created', current_setting('bench.team')::uuid, current_setting('bench.patient')::uuid, NULL, jsonb_build_object('handoff_id', current_setting('bench.h3'), 'task_id', current_setting('bench.h3'), 'role', 'social_worker', 'step', 'trial-failed.barriers', 'cause_event_id', current_setting('bench.ev2')));
INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id, detail)
 SELECT :member, NULL, 'trial.outcome', p, '/v1/trials/' || current_setting('bench.trial')::uuid::text || '/outcome', 'allowed', 'pgbench', NULL
 FROM unnest(ARRAY[current_setting('bench.patient')::uuid]::uuid[]) AS p;
COMMIT;
\endpipeline
