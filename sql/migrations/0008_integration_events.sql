-- Integration events: the feed's wake-up call and webhook deliveries kept in an outbox.
--
-- Long-polling feed readers wait on LISTEN care_events; every statement that inserts events
-- notifies once, and PostgreSQL delivers the notification only when (and if) the transaction
-- commits, so a woken reader finds the events it was woken for.
CREATE FUNCTION care_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('care_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION care_events_notify();

-- A subscription belongs to the member (in practice a service account) that made it and gets
-- only events of teams that member may read; `team_id` narrows that to one team.
-- Status: active (sent), paused (kept, not sent until resumed), disabled (the receiver answered
-- 410 Gone, or an operator disabled it: nothing is kept for it until it is resumed).
CREATE TABLE webhook_subscriptions (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id                    uuid NOT NULL REFERENCES members(id),
    url                         text NOT NULL CHECK (url ~ '^https?://'),
    event_types                 text[] NOT NULL CHECK (cardinality(event_types) > 0),
    team_id                     uuid REFERENCES teams(id),
    description                 text NOT NULL DEFAULT '',
    secret                      text NOT NULL CHECK (secret LIKE 'whsec_%'),
    -- After a rotation the previous secret signs too, until it expires, so receivers can switch.
    previous_secret             text CHECK (previous_secret LIKE 'whsec_%'),
    previous_secret_expires_at  timestamptz,
    status                      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
    disabled_reason             text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_id, created_at, id);

-- One row per (subscription, event): written in the event's own transaction by the trigger
-- below, so an event that committed has its deliveries and one that rolled back has none.
-- Status: pending (waiting for its next attempt), sending (claimed by a server until
-- lease_until; a server that died leaves it to be reclaimed after that), succeeded, dead (every
-- attempt failed; redeliver on request), cancelled (its subscription was disabled by a 410).
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id  uuid NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id         bigint NOT NULL REFERENCES events(id),
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'succeeded', 'dead', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_attempt_at  timestamptz,
    last_status      integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_once UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (subscription_id, id);

-- The outbox: runs with the owner's rights (care_app cannot see other members' subscriptions
-- nor write deliveries), in the transaction that inserts the event. Events of psychotherapy
-- notes and events without a team are never delivered.
CREATE FUNCTION care_webhook_outbox() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF NEW.team_id IS NULL
       OR (NEW.type IN ('note.added', 'note.amended') AND NEW.payload->>'kind' = 'psychotherapy') THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (subscription_id, event_id, event_type)
    SELECT s.id, NEW.id, NEW.type FROM webhook_subscriptions s
    WHERE s.status IN ('active', 'paused')
      AND (NEW.type = ANY (s.event_types) OR '*' = ANY (s.event_types))
      AND (s.team_id IS NULL OR s.team_id = NEW.team_id)
      AND EXISTS (SELECT 1 FROM memberships m
                  WHERE m.member_id = s.owner_id AND m.team_id = NEW.team_id
                    AND m.role IN ('psychiatrist', 'psychologist', 'social_worker', 'care_manager', 'integration'));
    IF FOUND THEN
        PERFORM pg_notify('care_webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_webhook_outbox AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION care_webhook_outbox();

-- Requests manage their own subscriptions and read their deliveries; the dispatcher runs with
-- the server's own rights.
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_subscriptions TO care_app;
GRANT SELECT, UPDATE ON webhook_deliveries TO care_app;
ALTER TABLE webhook_subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_subscriptions_own ON webhook_subscriptions TO care_app
    USING (owner_id = care_member()) WITH CHECK (owner_id = care_member());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_own ON webhook_deliveries TO care_app
    USING (EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = webhook_deliveries.subscription_id AND s.owner_id = care_member()));
