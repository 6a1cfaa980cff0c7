-- Row-level security, reshaped for point lookups. 0004's policies compared patient_id with the
-- set of every patient of the member's teams (IN (SELECT ...)): a hash of the whole caseload
-- built for every statement, however small. These ask instead whether this row's patient is on
-- one of the member's teams (EXISTS, correlated): two index lookups for the single-patient
-- statements that make up nearly every request. Same rules, same roles.

DROP POLICY care_plans_of_my_patients ON care_plans;
CREATE POLICY care_plans_of_my_patients ON care_plans TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = care_plans.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY tasks_of_my_patients ON tasks;
CREATE POLICY tasks_of_my_patients ON tasks TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = tasks.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY handoffs_of_my_patients ON handoffs;
CREATE POLICY handoffs_of_my_patients ON handoffs TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = handoffs.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY measurements_of_my_patients ON measurements;
CREATE POLICY measurements_of_my_patients ON measurements TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = measurements.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY trials_of_my_patients ON trials;
CREATE POLICY trials_of_my_patients ON trials TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = trials.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY referrals_of_my_patients ON referrals;
CREATE POLICY referrals_of_my_patients ON referrals TO care_app USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = referrals.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY notes_of_my_patients ON notes;
CREATE POLICY notes_of_my_patients ON notes TO care_app
    USING ((kind <> 'psychotherapy' OR author_id = care_member()) AND EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = notes.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')))
    WITH CHECK (author_id = care_member() AND EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = notes.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')));

DROP POLICY events_of_my_patients_scope ON events;
CREATE POLICY events_of_my_patients_scope ON events AS RESTRICTIVE TO care_app
    USING (CASE WHEN patient_id IS NULL
                THEN team_id IN (SELECT m.team_id FROM memberships m WHERE m.member_id = care_member())
                ELSE EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = events.patient_id AND m.member_id = care_member() AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration')) END);

DROP POLICY audit_read_compliance ON audit_entries;
CREATE POLICY audit_read_compliance ON audit_entries FOR SELECT TO care_app
    USING (EXISTS (
        SELECT 1 FROM patients pt JOIN memberships m ON m.team_id = pt.team_id
        WHERE pt.id = audit_entries.patient_id AND m.member_id = care_member() AND m.role IN ('compliance')));
