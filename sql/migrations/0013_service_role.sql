-- care_service: the server's own work, apart from the owner (docs/operations.md, "Database roles").
--
-- care-server logs in as care_server (NOINHERIT, owns nothing) and its sessions become
-- care_service; each request's transaction then becomes care_app under row-level security.
-- care_service reads and writes rows, and nothing more: it creates, alters and drops nothing,
-- changes no reference data (the dose table, the playbook, rule settings: migrations do), and
-- cannot update or delete an audit entry. Migrations run as the owner of the schema.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'care_service') THEN
        BEGIN
            CREATE ROLE care_service NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the role care_service does not exist and % may not create it', current_user
                USING HINT = 'create it first: CREATE ROLE care_service NOLOGIN; (docs/operations.md, "Database roles")';
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO care_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO care_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO care_service;
REVOKE INSERT, UPDATE, DELETE ON dose_table, playbook_steps, rule_settings, care_schema_migrations FROM care_service;
REVOKE UPDATE, DELETE ON audit_entries FROM care_service;

-- Row-level security holds care_app to the acting member's teams; care_service works across
-- teams (the escalation job, webhooks, the weekly report after the gate has checked the caller).
DO $$
DECLARE
    target regclass;
BEGIN
    FOR target IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relrowsecurity
    LOOP
        EXECUTE format('CREATE POLICY service_rows ON %s TO care_service USING (true) WITH CHECK (true)', target);
    END LOOP;
END
$$;
