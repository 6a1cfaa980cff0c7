-- Least privilege for care_app, the role requests run as (docs/architecture.md, "One gate").
--
-- care_app writes clinical records only. Teams, members, memberships and tokens are written with
-- the server's own rights, after the store's permission gate has checked the caller in the same
-- transaction; the dose table, playbook and rule settings are changed by migrations only. So a
-- request that slipped past a check still cannot add itself to another team, un-revoke a token,
-- read token hashes, or change the rules.
REVOKE INSERT, UPDATE, DELETE ON teams, members, memberships, api_tokens, dose_table, playbook_steps, rule_settings FROM care_app;
REVOKE SELECT ON api_tokens FROM care_app;

-- Audit entries cannot be forged: what a request inserts names the member, token and request id
-- the transaction was entered with (set_config by the store), whatever the statement says.
CREATE FUNCTION care_audit_from_settings() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF current_user = 'care_app' THEN
        NEW.member_id := care_member();
        NEW.token_id := nullif(current_setting('carerelay.token_id', true), '')::uuid;
        NEW.request_id := nullif(current_setting('carerelay.request_id', true), '');
        NEW.at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_entries_from_settings BEFORE INSERT ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION care_audit_from_settings();
