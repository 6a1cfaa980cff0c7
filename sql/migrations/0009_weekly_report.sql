-- The weekly case-review report reads, per patient, the first and the latest scores, the last
-- few, this week's, the open work: these indexes keep every such read to the rows it needs,
-- however long the history behind them.
CREATE INDEX measurements_patient_instrument ON measurements (patient_id, instrument, taken_at);
CREATE INDEX tasks_open_patient ON tasks (patient_id) WHERE status NOT IN ('completed', 'cancelled', 'failed');
CREATE INDEX handoffs_open_patient ON handoffs (patient_id) WHERE acknowledged_at IS NULL;
CREATE INDEX handoffs_patient_created ON handoffs (patient_id, created_at);
CREATE INDEX referrals_patient_created ON referrals (patient_id, created_at);
CREATE INDEX trials_patient_started ON trials (patient_id, started_on);

-- A report kept exactly as it was shown in the meeting: the data it was built from (the JSON
-- format) and its HTML and Markdown. Never changed, never deleted.
CREATE TABLE report_snapshots (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id     uuid NOT NULL REFERENCES teams(id),
    iso_week    text NOT NULL CHECK (iso_week ~ '^[0-9]{4}-W[0-9]{2}$'),
    taken_by    uuid NOT NULL REFERENCES members(id),
    taken_at    timestamptz NOT NULL DEFAULT now(),
    report      jsonb NOT NULL,
    html        text NOT NULL,
    markdown    text NOT NULL
);
CREATE INDEX report_snapshots_team_week ON report_snapshots (team_id, iso_week, taken_at);

CREATE FUNCTION care_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
CREATE TRIGGER report_snapshots_immutable BEFORE UPDATE OR DELETE ON report_snapshots
    FOR EACH ROW EXECUTE FUNCTION care_immutable();
CREATE TRIGGER report_snapshots_no_truncate BEFORE TRUNCATE ON report_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION care_immutable();

-- A recommendation made in the meeting: a case-review note, and a task for a named role,
-- tied to the snapshot of the report the team was looking at.
CREATE TABLE report_recommendations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    snapshot_id  uuid NOT NULL REFERENCES report_snapshots(id),
    patient_id   uuid NOT NULL REFERENCES patients(id),
    note_id      uuid NOT NULL REFERENCES notes(id),
    task_id      uuid REFERENCES tasks(id),
    made_by      uuid NOT NULL REFERENCES members(id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_recommendations_snapshot ON report_recommendations (snapshot_id, created_at);

-- Reports are built and kept with the server's rights after the store has checked the caller
-- (team members and the compliance role); recommendations are written as care_app, like the
-- notes and tasks they make.
GRANT SELECT ON report_snapshots TO care_app;
GRANT SELECT, INSERT ON report_recommendations TO care_app;
ALTER TABLE report_snapshots ENABLE ROW LEVEL SECURITY;
CREATE POLICY report_snapshots_of_my_teams ON report_snapshots FOR SELECT TO care_app
    USING (team_id IN (SELECT m.team_id FROM memberships m WHERE m.member_id = care_member()));
ALTER TABLE report_recommendations ENABLE ROW LEVEL SECURITY;
CREATE POLICY report_recommendations_of_my_patients ON report_recommendations TO care_app
    USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = report_recommendations.patient_id AND m.member_id = care_member()
          AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager')))
    WITH CHECK (made_by = care_member());
