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
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    found_token api_tokens%ROWTYPE;
BEGIN
    -- PL/pgSQL keeps these plans for the session: every request calls this.
    SELECT * INTO found_token FROM api_tokens t
    WHERE t.token_hash = p_hash AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > p_now);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF found_token.last_used_at IS NULL OR found_token.last_used_at < p_stale_before THEN
        UPDATE api_tokens t SET last_used_at = p_now
        WHERE t.id = (SELECT s.id FROM api_tokens s WHERE s.id = found_token.id FOR UPDATE SKIP LOCKED);
    END IF;
    RETURN QUERY
        SELECT found_token.id, m.id, m.display_name, m.is_service_account, found_token.scopes,
            ARRAY(SELECT ms.team_id::text || ' ' || ms.role FROM memberships ms WHERE ms.member_id = m.id)
        FROM members m WHERE m.id = found_token.member_id;
END
$$;

REVOKE ALL ON FUNCTION care_authenticate(bytea, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION care_authenticate(bytea, timestamptz, timestamptz) TO care_app, care_service;
