-- pgbench: the statements care-server runs for GET /v1/tasks (my queue, first page of 50), as
-- care_app with the acting member set, in the same round trips (since session 21, two: BEGIN,
-- becoming care_app, the token's lookup, which sets the acting member, and the query, sent
-- together once the server has seen the token; then the audit entries with COMMIT). Variables: :hash, :member, :pids (the page's patients,
-- for the audit entries, as the server writes them), :teams (the member's teams, as the server
-- knows them from the token; `run` writes them into this statement as constants, as the server does,
-- so that each set of teams is its own prepared statement).
\startpipeline
BEGIN;
SELECT set_config('role', 'care_app', true);
SELECT a.*, set_config('carerelay.member_id', a.member_id::text, true), set_config('carerelay.token_id', a.token_id::text, true),
       set_config('carerelay.request_id', 'pgbench', true)
 FROM care_authenticate(decode(:hash, 'hex'), now(), now() - interval '60 seconds') a;
SELECT t.id, t.patient_id, t.title, t.status, t.priority, t.owner_id, t.pool_role, t.due_at, t.not_before, t.handoff_id, t.status_reason FROM tasks t JOIN patients p ON p.id = t.patient_id
 WHERE p.team_id = ANY(:teams::uuid[])
   AND t.status = ANY(:statuses::text[])
   AND (t.not_before IS NULL OR t.not_before <= now())
   AND (t.owner_id = :member::uuid
        OR (t.owner_id IS NULL AND t.status = 'requested' AND EXISTS (
             SELECT 1 FROM memberships m WHERE m.member_id = :member::uuid AND m.team_id = p.team_id AND m.role = t.pool_role)))
 ORDER BY array_position(ARRAY['stat', 'asap', 'urgent', 'routine'], t.priority), t.due_at NULLS LAST, t.created_at, t.id
 LIMIT 51 OFFSET 0;
\endpipeline
\startpipeline
INSERT INTO audit_entries (member_id, token_id, action, patient_id, resource, outcome, request_id, detail)
 SELECT :member, NULL, 'queue.read', p, '/v1/tasks', 'allowed', 'pgbench', NULL FROM unnest(:pids::uuid[]) AS p;
COMMIT;
\endpipeline
