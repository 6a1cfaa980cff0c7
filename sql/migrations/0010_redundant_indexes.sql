-- Indexes that a later one made redundant: handoffs (patient_id, created_at) and trials
-- (patient_id, started_on), both from 0009, serve every lookup by patient the single-column
-- ones did (and the foreign-key checks on patient_id). Each failed trial inserts three handoffs;
-- an index nobody reads only makes those inserts dearer.
DROP INDEX handoffs_patient;
DROP INDEX trials_patient;
