-- The care domain: teams and members, patients and their shared care plan, tasks, notes,
-- measurements, treatment trials, referrals, the append-only event log, handoffs, the playbook
-- and dose table (data, seeded here), and audit entries.
--
-- Tables belong to the migration role. care_app (the role requests run as) gets only what it
-- needs: it can never UPDATE or DELETE events, notes or audit entries, and owns nothing.
-- Status values match CareDomain's enums (rawValue).

CREATE TABLE teams (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CONSTRAINT teams_name_unique UNIQUE CHECK (length(btrim(name)) > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name        text NOT NULL CHECK (length(btrim(display_name)) > 0),
    email               text CONSTRAINT members_email_unique UNIQUE,
    is_service_account  boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- A member holds one or more roles per team.
CREATE TABLE memberships (
    team_id     uuid NOT NULL REFERENCES teams(id),
    member_id   uuid NOT NULL REFERENCES members(id),
    role        text NOT NULL CONSTRAINT memberships_role_check
                CHECK (role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, member_id, role)
);
CREATE INDEX memberships_member ON memberships (member_id);

CREATE TABLE patients (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id             uuid NOT NULL REFERENCES teams(id),
    mrn                 text NOT NULL CHECK (length(btrim(mrn)) > 0),
    display_name        text NOT NULL CHECK (length(btrim(display_name)) > 0),
    enrolled_on         date NOT NULL,
    status              text NOT NULL DEFAULT 'enrolled' CONSTRAINT patients_status_check
                        CHECK (status IN ('enrolled', 'active', 'relapse-prevention', 'discharged')),
    -- Start of the current depressive episode (Maudsley duration); defaults to enrolment.
    episode_started_on  date,
    psychotic_features  boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT patients_mrn_unique UNIQUE (team_id, mrn)
);
CREATE INDEX patients_team ON patients (team_id);

-- Versioned: every edit is a new row; exactly one active row per patient.
CREATE TABLE care_plans (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id      uuid NOT NULL REFERENCES patients(id),
    version         integer NOT NULL CHECK (version > 0),
    is_active       boolean NOT NULL DEFAULT true,
    goals           jsonb NOT NULL DEFAULT '[]',
    problems        jsonb NOT NULL DEFAULT '[]',
    treatment_line  text NOT NULL DEFAULT '',
    author_id       uuid REFERENCES members(id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT care_plans_version_unique UNIQUE (patient_id, version)
);
CREATE UNIQUE INDEX care_plans_one_active ON care_plans (patient_id) WHERE is_active;

-- The append-only log of every change. tx_id is the writing transaction's id: the feed reads
-- only events of transactions older than every transaction still running (the snapshot's xmin),
-- so an event that a slow transaction commits late can never fall behind a reader's cursor.
CREATE TABLE events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    type         text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    team_id      uuid REFERENCES teams(id),
    patient_id   uuid REFERENCES patients(id),
    actor_id     uuid REFERENCES members(id),
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    payload      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_feed ON events (tx_id, id);
CREATE INDEX events_patient ON events (patient_id, id);

CREATE TABLE tasks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id   uuid NOT NULL REFERENCES patients(id),
    title        text NOT NULL CHECK (length(btrim(title)) > 0),
    description  text NOT NULL DEFAULT '',
    -- Owned by a member, or waiting in a role's pool to be claimed.
    owner_id     uuid REFERENCES members(id),
    pool_role    text CHECK (pool_role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager')),
    status       text NOT NULL DEFAULT 'requested' CONSTRAINT tasks_status_check
                 CHECK (status IN ('requested', 'accepted', 'in-progress', 'on-hold', 'completed', 'cancelled', 'failed')),
    priority     text NOT NULL DEFAULT 'routine' CONSTRAINT tasks_priority_check
                 CHECK (priority IN ('routine', 'urgent', 'asap', 'stat')),
    due_at       timestamptz,
    not_before   timestamptz,
    origin       text NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'handoff')),
    notes        text NOT NULL DEFAULT '',
    evidence     text,
    created_by   uuid REFERENCES members(id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT tasks_owner_or_pool CHECK (owner_id IS NOT NULL OR pool_role IS NOT NULL)
);
CREATE INDEX tasks_patient ON tasks (patient_id);
CREATE INDEX tasks_open_owner ON tasks (owner_id, priority, due_at) WHERE status NOT IN ('completed', 'cancelled', 'failed');
CREATE INDEX tasks_open_pool ON tasks (pool_role, priority, due_at) WHERE owner_id IS NULL AND status NOT IN ('completed', 'cancelled', 'failed');

-- Handoffs: tasks for another role that an event produced, once per (event, playbook step).
CREATE TABLE handoffs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         bigint NOT NULL REFERENCES events(id),
    step_key         text NOT NULL,
    patient_id       uuid NOT NULL REFERENCES patients(id),
    role             text NOT NULL CHECK (role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager')),
    task_id          uuid NOT NULL CONSTRAINT handoffs_task_unique UNIQUE REFERENCES tasks(id),
    reason           text NOT NULL,
    due_at           timestamptz NOT NULL,
    acknowledged_by  uuid REFERENCES members(id),
    acknowledged_at  timestamptz,
    escalated_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT handoffs_once_per_event_step UNIQUE (event_id, step_key),
    CONSTRAINT handoffs_acknowledgement_complete CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);
CREATE INDEX handoffs_patient ON handoffs (patient_id);
CREATE INDEX handoffs_overdue ON handoffs (due_at) WHERE acknowledged_at IS NULL AND escalated_at IS NULL;

ALTER TABLE tasks ADD COLUMN handoff_id uuid REFERENCES handoffs(id) DEFERRABLE INITIALLY DEFERRED;

-- Notes are never edited: an amendment is a new note pointing at the one it amends.
CREATE TABLE notes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id  uuid NOT NULL REFERENCES patients(id),
    author_id   uuid NOT NULL REFERENCES members(id),
    kind        text NOT NULL CONSTRAINT notes_kind_check
                CHECK (kind IN ('progress', 'psychotherapy', 'social', 'case-review')),
    body        text NOT NULL CHECK (length(btrim(body)) > 0),
    amends_id   uuid REFERENCES notes(id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_patient ON notes (patient_id, created_at);

CREATE TABLE measurements (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id     uuid NOT NULL REFERENCES patients(id),
    instrument     text NOT NULL CHECK (instrument IN ('PHQ-9', 'MADRS', 'GAD-7')),
    total          integer NOT NULL,
    items          integer[],
    safety_signal  boolean NOT NULL DEFAULT false,
    taken_at       timestamptz NOT NULL,
    recorded_by    uuid REFERENCES members(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT measurements_total_range CHECK (
        total >= 0 AND total <= CASE instrument WHEN 'PHQ-9' THEN 27 WHEN 'MADRS' THEN 60 ELSE 21 END),
    CONSTRAINT measurements_items_count CHECK (
        items IS NULL OR cardinality(items) = CASE instrument WHEN 'PHQ-9' THEN 9 WHEN 'MADRS' THEN 10 ELSE 7 END)
);
CREATE INDEX measurements_patient ON measurements (patient_id, taken_at);

-- Minimum adequate doses, editable as data (CareDomain's DoseTable.default seeds it).
CREATE TABLE dose_table (
    drug                             text PRIMARY KEY CHECK (drug = lower(drug)),
    drug_class                       text NOT NULL CHECK (drug_class IN ('ssri', 'snri', 'ndri', 'nassa', 'multimodal', 'tca', 'maoi',
                                          'sari', 'melatonergic', 'lithium', 'atypical-antipsychotic')),
    minimum_adequate_daily_dose_mg   double precision NOT NULL CHECK (minimum_adequate_daily_dose_mg > 0)
);

CREATE TABLE trials (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id        uuid NOT NULL REFERENCES patients(id),
    kind              text NOT NULL CHECK (kind IN ('medication', 'augmentation', 'psychotherapy', 'neuromodulation')),
    drug              text REFERENCES dose_table(drug),
    therapy           text,
    is_bilateral_ect  boolean NOT NULL DEFAULT false,
    -- [{"from": "2026-10-01T00:00:00Z", "dailyDoseMg": 50}, ...]
    dose_steps        jsonb NOT NULL DEFAULT '[]',
    started_on        date NOT NULL,
    stopped_on        date,
    adherence         double precision CHECK (adherence BETWEEN 0 AND 1),
    sessions          integer CHECK (sessions >= 0),
    stop_reason       text,
    outcome           text CHECK (outcome IN ('response', 'partial-response', 'non-response', 'intolerance', 'stopped-early')),
    score_before_id   uuid REFERENCES measurements(id),
    score_after_id    uuid REFERENCES measurements(id),
    is_failed         boolean NOT NULL DEFAULT false,
    recorded_by       uuid REFERENCES members(id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trials_drug_for_medication CHECK (kind NOT IN ('medication', 'augmentation') OR drug IS NOT NULL),
    CONSTRAINT trials_dates_in_order CHECK (stopped_on IS NULL OR stopped_on >= started_on)
);
CREATE INDEX trials_patient ON trials (patient_id);

CREATE TABLE referrals (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id     uuid NOT NULL REFERENCES patients(id),
    kind           text NOT NULL CHECK (kind IN ('tms', 'ect', 'esketamine', 'other')),
    status         text NOT NULL DEFAULT 'requested' CONSTRAINT referrals_status_check
                   CHECK (status IN ('requested', 'accepted', 'scheduled', 'in-course', 'completed', 'declined', 'cancelled')),
    target_clinic  text NOT NULL CHECK (length(btrim(target_clinic)) > 0),
    note           text NOT NULL DEFAULT '',
    made_by        uuid REFERENCES members(id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referrals_patient ON referrals (patient_id);

-- The handoff playbook as data (CareDomain's Playbook.default seeds it).
CREATE TABLE playbook_steps (
    key           text PRIMARY KEY,
    event         text NOT NULL,
    -- {"always": {}} | {"referralKind": {"_0": "tms"}} | {"safetySignal": {}}: CareDomain's PlaybookCondition as JSON
    condition     jsonb NOT NULL,
    role          text NOT NULL CHECK (role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager')),
    title         text NOT NULL,
    priority      text NOT NULL CHECK (priority IN ('routine', 'urgent', 'asap', 'stat')),
    due_in_hours  integer NOT NULL CHECK (due_in_hours > 0),
    position      integer NOT NULL,
    is_active     boolean NOT NULL DEFAULT true
);

-- Rule settings as data: {"trdFailedTrials": 2, "trdRequiresDifferentClasses": false, ...}
CREATE TABLE rule_settings (
    name   text PRIMARY KEY,
    value  jsonb NOT NULL
);

-- Who read or changed which patient's data, and whether it was allowed. Insert-only.
CREATE TABLE audit_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    member_id   uuid REFERENCES members(id),
    action      text NOT NULL,
    patient_id  uuid REFERENCES patients(id),
    resource    text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    request_id  text
);
CREATE INDEX audit_patient ON audit_entries (patient_id, at);

-- Seeds: the default dose table and playbook (kept equal to CareDomain's defaults by a test).
INSERT INTO dose_table (drug, drug_class, minimum_adequate_daily_dose_mg) VALUES
    ('citalopram', 'ssri', 20), ('escitalopram', 'ssri', 10), ('fluoxetine', 'ssri', 20),
    ('fluvoxamine', 'ssri', 100), ('paroxetine', 'ssri', 20), ('sertraline', 'ssri', 50),
    ('venlafaxine', 'snri', 150), ('desvenlafaxine', 'snri', 50), ('duloxetine', 'snri', 60),
    ('levomilnacipran', 'snri', 40), ('milnacipran', 'snri', 100),
    ('bupropion', 'ndri', 300), ('mirtazapine', 'nassa', 30),
    ('vortioxetine', 'multimodal', 10), ('vilazodone', 'multimodal', 20),
    ('trazodone', 'sari', 150), ('agomelatine', 'melatonergic', 25),
    ('amitriptyline', 'tca', 150), ('clomipramine', 'tca', 150), ('desipramine', 'tca', 150),
    ('doxepin', 'tca', 150), ('imipramine', 'tca', 150), ('nortriptyline', 'tca', 75),
    ('isocarboxazid', 'maoi', 30), ('phenelzine', 'maoi', 45), ('tranylcypromine', 'maoi', 30),
    ('selegiline-transdermal', 'maoi', 6),
    ('lithium', 'lithium', 600),
    ('aripiprazole', 'atypical-antipsychotic', 2), ('brexpiprazole', 'atypical-antipsychotic', 1),
    ('quetiapine', 'atypical-antipsychotic', 150);

INSERT INTO playbook_steps (position, key, event, condition, role, title, priority, due_in_hours) VALUES
    (1, 'trial-failed.next-step', 'trial.failed', '{"always": {}}', 'psychiatrist',
        'Plan the next treatment step: optimise, switch, augment or refer', 'urgent', 72),
    (2, 'trial-failed.psychotherapy-review', 'trial.failed', '{"always": {}}', 'psychologist',
        'Review psychotherapy: adequacy, augmentation with CBT or behavioural activation', 'routine', 168),
    (3, 'trial-failed.barriers', 'trial.failed', '{"always": {}}', 'social_worker',
        'Screen for barriers: adherence, money, housing, support', 'routine', 168),
    (4, 'trd.evaluate-neuromodulation', 'patient.trd_reached', '{"always": {}}', 'psychiatrist',
        'Evaluate for TMS, ECT or esketamine', 'urgent', 168),
    (5, 'tms.prior-authorisation', 'referral.made', '{"referralKind": {"_0": "tms"}}', 'social_worker',
        'Insurance prior authorisation for TMS: every prior trial with drug, class, dates, dose, weeks at dose, reason stopped, PHQ-9 before and after', 'urgent', 72),
    (6, 'tms.transport', 'referral.made', '{"referralKind": {"_0": "tms"}}', 'social_worker',
        'Arrange transport for daily TMS sessions (20-36 sessions over 4-6 weeks)', 'routine', 168),
    (7, 'tms.contraindications', 'referral.made', '{"referralKind": {"_0": "tms"}}', 'psychiatrist',
        'Screen for TMS contraindications: metal implants, devices, seizure risk, medicines that lower the seizure threshold', 'urgent', 72),
    (8, 'tms.education', 'referral.made', '{"referralKind": {"_0": "tms"}}', 'psychologist',
        'TMS education and continued therapy during the course', 'routine', 168),
    (9, 'ect.authorisation-transport', 'referral.made', '{"referralKind": {"_0": "ect"}}', 'social_worker',
        'ECT prior authorisation, escort and transport (no driving during the course), work or leave letter', 'urgent', 72),
    (10, 'ect.workup', 'referral.made', '{"referralKind": {"_0": "ect"}}', 'psychiatrist',
        'ECT medical and anaesthesia workup, labs, taper of interfering medicines (benzodiazepines, anticonvulsants)', 'urgent', 72),
    (11, 'ect.consent-cognition', 'referral.made', '{"referralKind": {"_0": "ect"}}', 'psychologist',
        'ECT consent support and a baseline cognitive assessment', 'routine', 120),
    (12, 'safety.psychiatrist', 'measurement.recorded', '{"safetySignal": {}}', 'psychiatrist',
        'Urgent safety assessment (PHQ-9 item 9 above 0)', 'stat', 8),
    (13, 'safety.psychologist', 'measurement.recorded', '{"safetySignal": {}}', 'psychologist',
        'Urgent safety assessment (PHQ-9 item 9 above 0)', 'stat', 8),
    (14, 'escalation.follow-up', 'handoff.escalated', '{"always": {}}', 'care_manager',
        'Follow up an overdue handoff with the team', 'urgent', 24);

INSERT INTO rule_settings (name, value) VALUES
    ('trial', '{"adequateWeeks": 6, "minimumAdherence": 0.8, "earlyIntoleranceWeeks": 4, "adequatePsychotherapySessions": 8, "trdFailedTrials": 2, "trdRequiresDifferentClasses": false}'),
    ('response', '{"responseDrop": 0.5, "partialDrop": 0.25}');

-- What care_app may do. No UPDATE or DELETE on events, notes or audit entries.
GRANT SELECT, INSERT ON events, notes, audit_entries TO care_app;
GRANT SELECT, INSERT, UPDATE ON teams, members, patients, care_plans, tasks, handoffs, measurements,
    trials, referrals, playbook_steps, dose_table, rule_settings TO care_app;
GRANT SELECT, INSERT, DELETE ON memberships TO care_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO care_app;
