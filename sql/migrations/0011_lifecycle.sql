-- Work that follows its cause, records that can be corrected (docs/domain.md, "Lifecycle and
-- corrections").
--
-- A handoff is a task with a cause. Its causes are kept in handoff_causes: the event that made
-- it and, for one-per-patient steps, each later event that attached to it while it was open.
-- When the record a cause is about is withdrawn (a referral declined or cancelled; a score,
-- trial, outcome or referral entered in error) the cause is withdrawn; a handoff left with no
-- cause is superseded: its task is closed as cancelled with the reason and the withdrawing
-- event, never deleted. Work already done stays done.

-- Tasks: why a task was closed (a cancellation's or failure's reason, or the supersession), and
-- the event that withdrew its cause.
ALTER TABLE tasks ADD COLUMN status_reason text;
ALTER TABLE tasks ADD COLUMN superseded_by_event bigint REFERENCES events(id);
-- A handoff's id finds its task too (one id for one piece of work).
CREATE INDEX tasks_handoff ON tasks (handoff_id) WHERE handoff_id IS NOT NULL;

-- Handoffs: given to a named member (reassignment), superseded when their causes are withdrawn.
ALTER TABLE handoffs ADD COLUMN assigned_member_id uuid REFERENCES members(id);
ALTER TABLE handoffs ADD COLUMN superseded_at timestamptz;
ALTER TABLE handoffs ADD COLUMN superseded_by_event bigint REFERENCES events(id);
ALTER TABLE handoffs ADD COLUMN superseded_reason text;
ALTER TABLE handoffs ADD CONSTRAINT handoffs_supersession_complete
    CHECK ((superseded_at IS NULL) = (superseded_reason IS NULL));

CREATE TABLE handoff_causes (
    handoff_id          uuid NOT NULL REFERENCES handoffs(id),
    event_id            bigint NOT NULL REFERENCES events(id),
    step_key            text NOT NULL,
    patient_id          uuid NOT NULL REFERENCES patients(id),
    -- The record the event is about: a trial, referral or score, the handoff an escalation
    -- followed up, or the patient (reaching TRD).
    subject_id          uuid,
    summary             text NOT NULL,
    added_at            timestamptz NOT NULL DEFAULT now(),
    withdrawn_at        timestamptz,
    withdrawn_by_event  bigint REFERENCES events(id),
    PRIMARY KEY (handoff_id, event_id),
    -- Exactly once per (event, playbook step), whether it made a handoff or joined one.
    CONSTRAINT handoff_causes_once_per_event_step UNIQUE (event_id, step_key)
);
CREATE INDEX handoff_causes_subject ON handoff_causes (patient_id, subject_id) WHERE withdrawn_at IS NULL;

-- Every existing handoff has the event that made it as its one cause.
INSERT INTO handoff_causes (handoff_id, event_id, step_key, patient_id, subject_id, summary, added_at)
SELECT h.id, h.event_id, h.step_key, h.patient_id,
       CASE WHEN e.type = 'patient.trd_reached' THEN h.patient_id
            WHEN coalesce(e.payload->>'referral_id', e.payload->>'trial_id', e.payload->>'measurement_id', e.payload->>'handoff_id')
                 ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            THEN coalesce(e.payload->>'referral_id', e.payload->>'trial_id', e.payload->>'measurement_id', e.payload->>'handoff_id')::uuid END,
       h.reason, h.created_at
FROM handoffs h JOIN events e ON e.id = h.event_id;

-- Playbook steps that are one per patient while open.
ALTER TABLE playbook_steps ADD COLUMN one_per_patient boolean NOT NULL DEFAULT false;
UPDATE playbook_steps SET one_per_patient = true WHERE key IN ('trial-failed.next-step', 'trd.evaluate-neuromodulation');

-- The dose table's ceiling: a higher dose is recorded only with a stated reason.
ALTER TABLE dose_table ADD COLUMN maximum_daily_dose_mg double precision;
ALTER TABLE dose_table ADD CONSTRAINT dose_table_maximum_above_minimum
    CHECK (maximum_daily_dose_mg IS NULL OR maximum_daily_dose_mg >= minimum_adequate_daily_dose_mg);
UPDATE dose_table d SET maximum_daily_dose_mg = v.maximum FROM (VALUES
    ('citalopram', 40), ('escitalopram', 20), ('fluoxetine', 80), ('fluvoxamine', 300), ('paroxetine', 60), ('sertraline', 200),
    ('venlafaxine', 375), ('desvenlafaxine', 400), ('duloxetine', 120), ('levomilnacipran', 120), ('milnacipran', 200),
    ('bupropion', 450), ('mirtazapine', 45), ('vortioxetine', 20), ('vilazodone', 40), ('trazodone', 600), ('agomelatine', 50),
    ('amitriptyline', 300), ('clomipramine', 250), ('desipramine', 300), ('doxepin', 300), ('imipramine', 300), ('nortriptyline', 150),
    ('isocarboxazid', 60), ('phenelzine', 90), ('tranylcypromine', 60), ('selegiline-transdermal', 12),
    ('lithium', 1800), ('aripiprazole', 15), ('brexpiprazole', 3), ('quetiapine', 300)
) AS v (drug, maximum) WHERE d.drug = v.drug;

-- How far back a record may reach, how far ahead a clock may run.
INSERT INTO rule_settings (name, value) VALUES ('records', '{"historyWindowDays": 365, "clockSkewMinutes": 5}');

-- Trials: who recorded the outcome, why a dose above the table's maximum was accepted, and the
-- outcomes entered in error (kept, as recorded, for history and audit).
ALTER TABLE trials ADD COLUMN outcome_recorded_by uuid REFERENCES members(id);
ALTER TABLE trials ADD COLUMN high_dose_reason text;
ALTER TABLE trials ADD COLUMN withdrawn_outcomes jsonb NOT NULL DEFAULT '[]';

-- Referrals: why a second open referral of the same kind was made; why it was declined or cancelled.
ALTER TABLE referrals ADD COLUMN reason text;
ALTER TABLE referrals ADD COLUMN status_reason text;

-- Entered in error: the row stays (history and audit show it as such); rules, summaries,
-- reports and exports leave it out. Once marked, the mark is final.
ALTER TABLE measurements ADD COLUMN entered_in_error_at timestamptz,
    ADD COLUMN entered_in_error_by uuid REFERENCES members(id), ADD COLUMN entered_in_error_reason text,
    ADD CONSTRAINT measurements_entered_in_error_complete CHECK ((entered_in_error_at IS NULL) = (entered_in_error_reason IS NULL));
ALTER TABLE trials ADD COLUMN entered_in_error_at timestamptz,
    ADD COLUMN entered_in_error_by uuid REFERENCES members(id), ADD COLUMN entered_in_error_reason text,
    ADD CONSTRAINT trials_entered_in_error_complete CHECK ((entered_in_error_at IS NULL) = (entered_in_error_reason IS NULL));
ALTER TABLE referrals ADD COLUMN entered_in_error_at timestamptz,
    ADD COLUMN entered_in_error_by uuid REFERENCES members(id), ADD COLUMN entered_in_error_reason text,
    ADD CONSTRAINT referrals_entered_in_error_complete CHECK ((entered_in_error_at IS NULL) = (entered_in_error_reason IS NULL));
ALTER TABLE notes ADD COLUMN entered_in_error_at timestamptz,
    ADD COLUMN entered_in_error_by uuid REFERENCES members(id), ADD COLUMN entered_in_error_reason text,
    ADD CONSTRAINT notes_entered_in_error_complete CHECK ((entered_in_error_at IS NULL) = (entered_in_error_reason IS NULL));

CREATE FUNCTION care_entered_in_error_final() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.entered_in_error_at IS NOT NULL AND (NEW.entered_in_error_at IS DISTINCT FROM OLD.entered_in_error_at
        OR NEW.entered_in_error_by IS DISTINCT FROM OLD.entered_in_error_by
        OR NEW.entered_in_error_reason IS DISTINCT FROM OLD.entered_in_error_reason) THEN
        RAISE EXCEPTION '% % is marked entered in error; the mark is final', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER measurements_entered_in_error_final BEFORE UPDATE ON measurements
    FOR EACH ROW EXECUTE FUNCTION care_entered_in_error_final();
CREATE TRIGGER trials_entered_in_error_final BEFORE UPDATE ON trials
    FOR EACH ROW EXECUTE FUNCTION care_entered_in_error_final();
CREATE TRIGGER referrals_entered_in_error_final BEFORE UPDATE ON referrals
    FOR EACH ROW EXECUTE FUNCTION care_entered_in_error_final();
CREATE TRIGGER notes_entered_in_error_final BEFORE UPDATE ON notes
    FOR EACH ROW EXECUTE FUNCTION care_entered_in_error_final();

-- Notes stay append-only for care_app: only the entered-in-error mark may be set, by the author
-- (the notes policy's WITH CHECK already asks author_id = care_member()).
GRANT UPDATE (entered_in_error_at, entered_in_error_by, entered_in_error_reason) ON notes TO care_app;

GRANT SELECT, INSERT, UPDATE ON handoff_causes TO care_app;
ALTER TABLE handoff_causes ENABLE ROW LEVEL SECURITY;
CREATE POLICY handoff_causes_of_my_patients ON handoff_causes TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = handoff_causes.patient_id AND m.member_id = care_member()
          AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

-- A psychotherapy note's entered-in-error event is as private as the note.
DROP POLICY events_of_my_patients ON events;
CREATE POLICY events_of_my_patients ON events TO care_app
    USING (NOT (type IN ('note.added', 'note.amended', 'note.entered_in_error') AND payload->>'kind' = 'psychotherapy'
                AND actor_id IS DISTINCT FROM care_member()))
    WITH CHECK (true);

CREATE OR REPLACE FUNCTION care_webhook_outbox() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF NEW.team_id IS NULL
       OR (NEW.type IN ('note.added', 'note.amended', 'note.entered_in_error') AND NEW.payload->>'kind' = 'psychotherapy') THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (subscription_id, event_id, event_type)
    SELECT s.id, NEW.id, NEW.type FROM webhook_subscriptions s
    WHERE s.status IN ('active', 'paused')
      AND (NEW.type = ANY (s.event_types) OR '*' = ANY (s.event_types))
      AND (s.team_id IS NULL OR s.team_id = NEW.team_id)
      AND EXISTS (SELECT 1 FROM memberships m
                  WHERE m.member_id = s.owner_id AND m.team_id = NEW.team_id
                    AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration'));
    IF FOUND THEN
        PERFORM pg_notify('care_webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
