-- The dose table, playbook and rule settings are cached by care-server; a change to any of them
-- tells every server at once (LISTEN care_reference_changed) to read them again.
CREATE FUNCTION care_reference_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('care_reference_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER dose_table_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dose_table
    FOR EACH STATEMENT EXECUTE FUNCTION care_reference_changed();
CREATE TRIGGER playbook_steps_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON playbook_steps
    FOR EACH STATEMENT EXECUTE FUNCTION care_reference_changed();
CREATE TRIGGER rule_settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rule_settings
    FOR EACH STATEMENT EXECUTE FUNCTION care_reference_changed();
