-- Foundation: the role the application's queries run as, and a schema nobody else writes to.
--
-- Migrations run as the database owner. Request handling runs with the privileges of
-- care_app (granted table by table in later migrations), which owns nothing and cannot
-- bypass row-level security. Roles are cluster-wide, so creating it tolerates a concurrent
-- or earlier creation by another database on the same cluster.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'care_app') THEN
        BEGIN
            CREATE ROLE care_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

-- Only the owner creates objects in public; care_app may use what is granted to it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO care_app;
