-- Scores carry their patient's team, and row-level security on them compares that column with
-- the member's clinical teams: no subquery on patients per statement or per row.
--
-- Why (BENCHMARKS.md, bench/fhir, session 19): 0005's policy asks, for each score, whether a
-- patient of one of the member's teams has its patient_id (EXISTS, correlated). PostgreSQL may
-- run that either once per row (two index lookups) or as a hash of every patient of the
-- member's teams, built once per statement; it costs the per-row lookups as if each read a page
-- from disk, so for a patient with a few dozen scores it chose the hash. A patient's scores then
-- cost 3.2 ms (5,000 patients hashed to check 78 rows) instead of 0.35, and since that plan
-- depends on how many scores the patient has, each connection planned the statement again on
-- every call (0.6 ms more). Checking every score per row instead (a scalar subquery) made a
-- team-wide read four times slower (134 ms to 530 ms for 200,000 scores). With the team on the
-- row, a patient's scores read in 0.12 ms and the team-wide read in 52-76 ms.
--
-- A patient never changes team (nothing in CareRelay moves one; the trigger on patients below
-- makes that a rule), so the copy cannot go stale. The trigger fills it from the patient on
-- every insert and refuses any other value; it runs as the owner, so it reads the patient
-- whatever row-level security shows the caller, and the policy then decides.

ALTER TABLE measurements ADD COLUMN team_id uuid;
UPDATE measurements m SET team_id = p.team_id FROM patients p WHERE p.id = m.patient_id;
ALTER TABLE measurements ALTER COLUMN team_id SET NOT NULL,
    ADD CONSTRAINT measurements_team_fkey FOREIGN KEY (team_id) REFERENCES teams(id);

CREATE FUNCTION care_measurement_team() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
DECLARE
    patient_team uuid;
BEGIN
    SELECT team_id INTO patient_team FROM patients WHERE id = NEW.patient_id;
    IF NEW.team_id IS NOT NULL AND NEW.team_id IS DISTINCT FROM patient_team THEN
        RAISE EXCEPTION 'a score''s team is its patient''s team'
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.team_id := patient_team;
    RETURN NEW;
END
$$;
CREATE TRIGGER measurements_team BEFORE INSERT OR UPDATE OF patient_id, team_id ON measurements
    FOR EACH ROW EXECUTE FUNCTION care_measurement_team();

CREATE FUNCTION care_patient_team_final() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.team_id IS DISTINCT FROM OLD.team_id THEN
        RAISE EXCEPTION 'patient % belongs to team %; a patient does not move between teams', OLD.id, OLD.team_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER patients_team_final BEFORE UPDATE OF team_id ON patients
    FOR EACH ROW EXECUTE FUNCTION care_patient_team_final();

DROP POLICY measurements_of_my_patients ON measurements;
CREATE POLICY measurements_of_my_patients ON measurements TO care_app USING (team_id IN (
        SELECT m.team_id FROM memberships m
        WHERE m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));
