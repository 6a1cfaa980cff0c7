-- Authentication inside a request's own transaction (docs/architecture.md, "The path of a write").
--
-- A request's first statement, after becoming care_app, looks its bearer token up with this
-- function and sets the acting member from what it returns, so the token lookup, the
-- Idempotency-Key, the command and its audit entries share one transaction on one connection.
-- care_app may not read api_tokens (migration 0012); this function, owned by the schema's owner,
-- answers only for the token whose SHA-256 the caller presents, and never returns a hash.
--
-- last_used_at is written at most once per p_stale_before window, and only when no other
-- transaction is writing it (SKIP LOCKED): a request never waits on another request's token row.
CREATE FUNCTION care_authenticate(p_hash bytea, p_now timestamptz, p_stale_before timestamptz)
    RETURNS TABLE (
        token_id uuid, member_id uuid, display_name text, is_service_account boolean, scopes text[],
        memberships text[]
    )
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
    WITH found AS (
        SELECT t.id, t.member_id, t.scopes, t.last_used_at FROM api_tokens t
        WHERE t.token_hash = p_hash AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > p_now)
    ), touched AS (
        UPDATE api_tokens t SET last_used_at = p_now
        WHERE t.id IN (
            SELECT s.id FROM api_tokens s JOIN found f ON f.id = s.id
            WHERE f.last_used_at IS NULL OR f.last_used_at < p_stale_before
            FOR UPDATE OF s SKIP LOCKED)
    )
    SELECT f.id, m.id, m.display_name, m.is_service_account, f.scopes,
        ARRAY(SELECT ms.team_id::text || ' ' || ms.role FROM memberships ms WHERE ms.member_id = m.id)
    FROM found f JOIN members m ON m.id = f.member_id
    $$;

REVOKE ALL ON FUNCTION care_authenticate(bytea, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION care_authenticate(bytea, timestamptz, timestamptz) TO care_app, care_service;
