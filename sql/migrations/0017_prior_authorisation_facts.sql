-- What a payer's prior-authorisation criteria read that CareRelay did not record yet
-- (docs/prior-authorisation.md): the patient's date of birth, the psychiatrist's contraindication
-- screen as a checklist, and statements the team documents for a payer (a need for a rapid
-- response, the anaesthesia work-up, why no psychotherapy was possible).

ALTER TABLE patients ADD COLUMN birth_date date
    CONSTRAINT patients_birth_date_plausible CHECK (birth_date >= DATE '1900-01-01');

-- A completed screen: every question of its treatment's checklist answered (CareDomain's
-- ContraindicationScreen.validate checks it before it is written). Insert-only: a new screen
-- supersedes the last one for the same treatment.
CREATE TABLE contraindication_screens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id    uuid NOT NULL REFERENCES patients(id),
    treatment     text NOT NULL CHECK (treatment IN ('tms', 'ect')),
    -- {"seizure-history": false, "pregnancy": false, ...}: true where the contraindication is present.
    answers       jsonb NOT NULL CHECK (jsonb_typeof(answers) = 'object'),
    note          text NOT NULL DEFAULT '',
    -- The screening handoff's task it completed, when it came through one.
    task_id       uuid REFERENCES tasks(id),
    completed_by  uuid NOT NULL REFERENCES members(id),
    completed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contraindication_screens_patient ON contraindication_screens (patient_id, completed_at);

-- Documented statements, by key; the latest of a key is the one read. Insert-only.
CREATE TABLE prior_auth_statements (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id   uuid NOT NULL REFERENCES patients(id),
    key          text NOT NULL CHECK (key ~ '^[a-z][a-z0-9-]{0,63}$'),
    text         text NOT NULL CHECK (length(btrim(text)) > 0 AND length(text) <= 2000),
    recorded_by  uuid NOT NULL REFERENCES members(id),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prior_auth_statements_patient ON prior_auth_statements (patient_id, key, recorded_at);

GRANT SELECT, INSERT ON contraindication_screens, prior_auth_statements TO care_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON contraindication_screens, prior_auth_statements TO care_service;

ALTER TABLE contraindication_screens ENABLE ROW LEVEL SECURITY;
CREATE POLICY contraindication_screens_of_my_patients ON contraindication_screens TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')))
    WITH CHECK (completed_by = care_member());
CREATE POLICY service_rows ON contraindication_screens TO care_service USING (true) WITH CHECK (true);

ALTER TABLE prior_auth_statements ENABLE ROW LEVEL SECURITY;
CREATE POLICY prior_auth_statements_of_my_patients ON prior_auth_statements TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')))
    WITH CHECK (recorded_by = care_member());
CREATE POLICY service_rows ON prior_auth_statements TO care_service USING (true) WITH CHECK (true);
