-- A bulk export of some of a group's patients (FHIR Bulk Data 2.0's `patient` parameter, sent
-- with a POST kick-off, docs/fhir.md "Bulk export"): the patients asked for, each checked at the
-- kick-off to be on the export's teams. NULL: every patient of the teams.
ALTER TABLE fhir_export_jobs ADD COLUMN patient_ids uuid[]
    CONSTRAINT fhir_export_jobs_patients_listed CHECK (patient_ids IS NULL OR cardinality(patient_ids) > 0);
