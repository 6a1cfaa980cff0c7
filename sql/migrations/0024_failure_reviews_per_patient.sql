-- One open piece of work per decision (docs/domain.md): after a second failed trial the
-- psychologist's psychotherapy review and the social worker's barriers screen are the same
-- decisions as after the first, so while one is open a later failure joins it as one more cause
-- (handoff.cause_added, "(2 causes)") instead of making a second task. Tasks already open
-- twice stay as they are; the next cause joins the older one.
UPDATE playbook_steps SET one_per_patient = true
WHERE key IN ('trial-failed.psychotherapy-review', 'trial-failed.barriers');
