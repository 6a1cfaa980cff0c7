-- FHIR Bulk Data export (docs/fhir.md, "Bulk export"): a job per kick-off, and its NDJSON files.
--
-- A kick-off is recorded here and answered 202 at once; a worker in any care-server instance
-- claims the job (a lease, so a job whose instance died is taken up again by another), reads the
-- requester's patients a batch at a time as the requester (care_app under row-level security,
-- each batch audited), and writes the NDJSON a part at a time: no export is ever held whole in
-- memory. Files are kept until expires_at and served only to the member who asked.
-- These tables are the server's own (care_service): the store's gate checks the caller first.
CREATE TABLE fhir_export_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id        uuid NOT NULL REFERENCES members(id),
    -- The token that asked: the worker acts for it, and stops if it is revoked or expires.
    token_id         uuid NOT NULL REFERENCES api_tokens(id),
    request_id       text,
    -- The teams whose patients are exported (a Group export: one).
    team_ids         uuid[] NOT NULL CHECK (cardinality(team_ids) > 0),
    -- FHIR resource types, in the order their files are written.
    types            text[] NOT NULL CHECK (cardinality(types) > 0),
    since            timestamptz,
    request_url      text NOT NULL,
    status           text NOT NULL DEFAULT 'accepted'
                     CHECK (status IN ('accepted', 'in-progress', 'complete', 'failed')),
    -- The instant the export reflects (FHIR's transactionTime): its kick-off.
    transaction_time timestamptz NOT NULL DEFAULT now(),
    progress         text,
    resources        bigint NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    lease_until      timestamptz,
    started_at       timestamptz,
    completed_at     timestamptz,
    expires_at       timestamptz,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fhir_export_jobs_complete_expires CHECK (status NOT IN ('complete', 'failed') OR expires_at IS NOT NULL)
);
CREATE INDEX fhir_export_jobs_waiting ON fhir_export_jobs (created_at) WHERE status IN ('accepted', 'in-progress');
CREATE INDEX fhir_export_jobs_member ON fhir_export_jobs (member_id, created_at);
CREATE INDEX fhir_export_jobs_expiry ON fhir_export_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- One NDJSON file: a part of one resource type's output (a few megabytes at most).
CREATE TABLE fhir_export_files (
    job_id  uuid NOT NULL REFERENCES fhir_export_jobs(id) ON DELETE CASCADE,
    part    integer NOT NULL CHECK (part > 0),
    type    text NOT NULL,
    lines   integer NOT NULL CHECK (lines > 0),
    body    text NOT NULL,
    PRIMARY KEY (job_id, part)
);
-- NDJSON is already compact text; compressing it again on every write costs more than it saves.
ALTER TABLE fhir_export_files ALTER COLUMN body SET STORAGE EXTERNAL;

GRANT SELECT, INSERT, UPDATE, DELETE ON fhir_export_jobs, fhir_export_files TO care_service;
