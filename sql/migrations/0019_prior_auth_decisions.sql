-- The authorisation's life (docs/prior-authorisation.md): a packet is drafted when made, then
-- submitted to the payer, then approved (with the sessions authorised) or denied (with the
-- payer's reason). Each move is a row here (insert-only: the packet itself never changes) and an
-- event; a denial makes the playbook's handoffs (a peer-to-peer review for the psychiatrist, an
-- appeal for the social worker), and a new packet for the referral answers it.
CREATE TABLE prior_auth_decisions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    packet_id            uuid NOT NULL REFERENCES prior_auth_packets(id),
    patient_id           uuid NOT NULL REFERENCES patients(id),
    status               text NOT NULL CHECK (status IN ('submitted', 'approved', 'denied')),
    sessions_authorised  integer CHECK (sessions_authorised BETWEEN 1 AND 1000),
    reason               text CHECK (reason IS NULL OR length(btrim(reason)) > 0),
    event_id             bigint REFERENCES events(id),
    decided_by           uuid NOT NULL REFERENCES members(id),
    decided_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT prior_auth_decisions_once UNIQUE (packet_id, status),
    CONSTRAINT prior_auth_decisions_approved_sessions CHECK (status <> 'approved' OR sessions_authorised IS NOT NULL),
    CONSTRAINT prior_auth_decisions_denied_reason CHECK (status <> 'denied' OR reason IS NOT NULL)
);
CREATE INDEX prior_auth_decisions_packet ON prior_auth_decisions (packet_id, decided_at);

-- A packet made after a denial says which denial it answers.
ALTER TABLE prior_auth_packets ADD COLUMN answers_packet_id uuid REFERENCES prior_auth_packets(id);

GRANT SELECT, INSERT ON prior_auth_decisions TO care_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON prior_auth_decisions TO care_service;
ALTER TABLE prior_auth_decisions ENABLE ROW LEVEL SECURITY;
CREATE POLICY prior_auth_decisions_of_my_patients ON prior_auth_decisions TO care_app USING (patient_id IN (
    SELECT pt.id FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
    WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager')))
    WITH CHECK (decided_by = care_member());
CREATE POLICY service_rows ON prior_auth_decisions TO care_service USING (true) WITH CHECK (true);

-- The denial's handoffs (CareDomain's Playbook.default holds the same steps).
INSERT INTO playbook_steps (position, key, event, condition, role, title, priority, due_in_hours) VALUES
    (15, 'prior-auth-denied.peer-review', 'prior_auth.denied', '{"always": {}}', 'psychiatrist',
        'Request a peer-to-peer review with the payer about the denied prior authorisation', 'urgent', 72),
    (16, 'prior-auth-denied.appeal', 'prior_auth.denied', '{"always": {}}', 'social_worker',
        'Appeal the denied prior authorisation: answer the payer''s reason with a new packet', 'urgent', 72);
