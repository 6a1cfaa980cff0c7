-- A note's amendments are looked up by the note they amend (every note list reads them:
-- docs/architecture.md). Without this index each note listed scanned the whole notes table: a
-- bulk export of a three-year caseload read notes at a few hundred a second (BENCHMARKS.md,
-- bench/fhir).
CREATE INDEX notes_amends ON notes (amends_id) WHERE amends_id IS NOT NULL;
