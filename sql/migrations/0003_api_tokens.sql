-- Bearer tokens for members and service accounts. Only the SHA-256 of a token is stored; the
-- token itself is shown once, when it is issued.
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id     uuid NOT NULL REFERENCES members(id),
    token_hash    bytea NOT NULL CONSTRAINT api_tokens_hash_unique UNIQUE CHECK (length(token_hash) = 32),
    -- The first characters, to recognise a token in lists ("crt_Ab12...").
    display_prefix text NOT NULL,
    name          text NOT NULL DEFAULT '',
    -- Service-account scopes; empty for a member's personal token (their roles decide).
    scopes        text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_tokens_member ON api_tokens (member_id);

-- Service accounts belong to a team through the integration role.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check
    CHECK (role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'admin', 'integration'));

GRANT SELECT, INSERT, UPDATE ON api_tokens TO care_app;
