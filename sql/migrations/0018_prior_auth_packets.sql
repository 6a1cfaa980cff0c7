-- Prior-authorisation packets (docs/prior-authorisation.md, "The packet"): what was sent to a
-- payer for a referral, kept as made (immutable, like report snapshots): the document itself as
-- JSON, from which the HTML page and the PDF are rendered. Every read is audited.
CREATE TABLE prior_auth_packets (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    referral_id   uuid NOT NULL REFERENCES referrals(id),
    patient_id    uuid NOT NULL REFERENCES patients(id),
    criteria_set  text NOT NULL,
    all_met       boolean NOT NULL,
    content       jsonb NOT NULL CHECK (jsonb_typeof(content) = 'object'),
    made_by       uuid NOT NULL REFERENCES members(id),
    made_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prior_auth_packets_referral ON prior_auth_packets (referral_id, made_at);

GRANT SELECT, INSERT ON prior_auth_packets TO care_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON prior_auth_packets TO care_service;
ALTER TABLE prior_auth_packets ENABLE ROW LEVEL SECURITY;
CREATE POLICY prior_auth_packets_of_my_patients ON prior_auth_packets TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager')))
    WITH CHECK (made_by = care_member());
CREATE POLICY service_rows ON prior_auth_packets TO care_service USING (true) WITH CHECK (true);
