-- Payers' own prior-authorisation criteria (docs/prior-authorisation.md, "Payers' criteria"):
-- a team's admins add a payer's set for a treatment, and edit it by adding a new version; every
-- version is kept (a packet names the version it was made against). The defaults (CareDomain's
-- CriteriaSet.defaults) are built in and not stored.
CREATE TABLE prior_auth_criteria_sets (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id             uuid NOT NULL REFERENCES teams(id),
    name                text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    version             integer NOT NULL CHECK (version > 0),
    treatment           text NOT NULL CHECK (treatment IN ('tms', 'ect', 'esketamine')),
    -- CareDomain's [Criterion], as JSON (each with its "type").
    criteria            jsonb NOT NULL CHECK (jsonb_typeof(criteria) = 'array'),
    sessions_requested  integer CHECK (sessions_requested BETWEEN 1 AND 1000),
    created_by          uuid NOT NULL REFERENCES members(id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT prior_auth_criteria_sets_version UNIQUE (team_id, name, version)
);

-- Written with the server's own rights after the gate has checked the admin (like memberships,
-- migration 0012); read by the team's clinicians' checks and packets.
GRANT SELECT ON prior_auth_criteria_sets TO care_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON prior_auth_criteria_sets TO care_service;
ALTER TABLE prior_auth_criteria_sets ENABLE ROW LEVEL SECURITY;
CREATE POLICY prior_auth_criteria_sets_of_my_teams ON prior_auth_criteria_sets TO care_app
    USING (team_id IN (SELECT m.team_id FROM memberships m WHERE m.member_id = care_member()));
CREATE POLICY service_rows ON prior_auth_criteria_sets TO care_service USING (true) WITH CHECK (true);

ALTER TABLE prior_auth_packets ADD COLUMN criteria_version integer;
