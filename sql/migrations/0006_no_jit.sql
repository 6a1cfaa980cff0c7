-- CareRelay's queries are short OLTP statements. PostgreSQL's JIT compiler, on by default,
-- compiles any plan whose estimated cost passes jit_above_cost, which row-level security
-- subplans easily do: 40-60 ms of compiling for a query that runs in 5. Off for this database
-- (new connections pick it up). An operator can turn it back on per role or session.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'could not turn JIT off for database %: not its owner', current_database();
END
$$;
