-- A team's time zone (docs/time-zones.md): an IANA name, UTC by default, changed by the team's
-- admins (audited, an event). The weekly report's week, "this week", "today" and date-only
-- inputs are the team's calendar in that zone; instants stay UTC. The server checks the name
-- (Foundation's zone database) before it is written; PostgreSQL knows the same names.
ALTER TABLE teams ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CONSTRAINT teams_time_zone_shape CHECK (time_zone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$');
