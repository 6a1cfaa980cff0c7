-- Defence in depth for patient data: requests run as care_app with the acting member set per
-- transaction (set_config('carerelay.member_id', ..., true)), and row-level security shows
-- care_app only the patients of that member's teams, whatever a query forgets to filter.
-- The database owner (migrations, the escalation job, `care-server admin`) is not subject to
-- these policies; care_app owns nothing and has no BYPASSRLS.

-- A compliance role reads the audit trail of its team's patients and no clinical content.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check
    CHECK (role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'admin', 'integration', 'compliance'));

-- The server's login role must be able to become care_app.
-- (Roles are cluster-wide: another database's migration may be granting it at the same moment.)
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'care_app', 'MEMBER') THEN
        EXECUTE format('GRANT care_app TO %I', current_user);
    END IF;
EXCEPTION WHEN unique_violation OR duplicate_object THEN
    NULL;
WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE NOTICE 'could not grant care_app to %; grant it by hand', current_user;
END
$$;

-- The acting member, or NULL outside a request (then care_app sees no patient at all).
CREATE FUNCTION care_member() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('carerelay.member_id', true), '')::uuid $$;

-- Audit entries record the patient asked for, even one that does not exist (a denial).
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_patient_id_fkey;
ALTER TABLE audit_entries ADD COLUMN detail text;
ALTER TABLE audit_entries ADD COLUMN token_id uuid;
CREATE INDEX audit_member ON audit_entries (member_id, at);

-- Patients: visible on teams where the member holds a role other than admin (clinical roles,
-- integration service accounts, compliance). Admins manage teams and members only.
ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
CREATE POLICY patients_of_my_teams ON patients TO care_app
    USING (team_id IN (SELECT m.team_id FROM memberships m WHERE m.member_id = care_member() AND m.role <> 'admin'));

-- Clinical tables: rows of visible patients, and only for clinical roles and integrations.
-- Each policy is an uncorrelated IN (one hashed lookup per query, not a subquery per row).
ALTER TABLE care_plans ENABLE ROW LEVEL SECURITY;
CREATE POLICY care_plans_of_my_patients ON care_plans TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tasks_of_my_patients ON tasks TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));
ALTER TABLE handoffs ENABLE ROW LEVEL SECURITY;
CREATE POLICY handoffs_of_my_patients ON handoffs TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));
ALTER TABLE measurements ENABLE ROW LEVEL SECURITY;
CREATE POLICY measurements_of_my_patients ON measurements TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));
ALTER TABLE trials ENABLE ROW LEVEL SECURITY;
CREATE POLICY trials_of_my_patients ON trials TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));
ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
CREATE POLICY referrals_of_my_patients ON referrals TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

-- Notes: psychotherapy notes exist for their author alone.
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_of_my_patients ON notes TO care_app
    USING ((kind <> 'psychotherapy' OR author_id = care_member()) AND patient_id IN (
        SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')))
    WITH CHECK (author_id = care_member() AND patient_id IN (
        SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

-- Events: those of visible patients, and team events (no patient) of the member's teams;
-- the events of psychotherapy notes only for their author.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_of_my_patients ON events TO care_app
    USING (NOT (type IN ('note.added', 'note.amended') AND payload->>'kind' = 'psychotherapy' AND actor_id IS DISTINCT FROM care_member()))
    WITH CHECK (true);
CREATE POLICY events_of_my_patients_scope ON events AS RESTRICTIVE TO care_app
    USING ((patient_id IS NULL AND team_id IN (SELECT m.team_id FROM memberships m WHERE m.member_id = care_member()))
        OR patient_id IN (
            SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
            WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

-- Audit: anyone acting writes entries about themselves; only compliance reads them.
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_write_own ON audit_entries FOR INSERT TO care_app
    WITH CHECK (member_id = care_member());
CREATE POLICY audit_read_compliance ON audit_entries FOR SELECT TO care_app
    USING (patient_id IN (
        SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE m.member_id = care_member() AND m.role = 'compliance'));

-- Idempotency keys for POST: the first response is kept and replayed for 24 hours at least.
-- The key row is written in the same transaction as the change it guards, so a change and
-- its key commit together; the response is recorded just after.
CREATE TABLE idempotency_keys (
    member_id        uuid NOT NULL REFERENCES members(id),
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    response_status  integer,
    response_body    bytea,
    response_type    text,
    response_headers jsonb,
    PRIMARY KEY (member_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
GRANT SELECT, INSERT, UPDATE ON idempotency_keys TO care_app;
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_own ON idempotency_keys TO care_app USING (member_id = care_member());
