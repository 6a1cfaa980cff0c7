-- A bulk export's `_typeFilter` (docs/fhir.md, "Bulk export"): the FHIR search queries a
-- resource of a filtered type must match (Observation?code=, ServiceRequest?status=,
-- Task?status=), as the kick-off sent them and checked them. NULL: no filter.
ALTER TABLE fhir_export_jobs ADD COLUMN type_filters text[]
    CONSTRAINT fhir_export_jobs_type_filters_listed CHECK (type_filters IS NULL OR cardinality(type_filters) > 0);
