-- Ordering per key (docs/ordering.md). An ordered event carries its key, its place in the key
-- (the provider's event time, else receipt; ties by id) and what a dead head does to the key.
-- Unordered rows leave all four NULL. A new status `waiting`: behind an earlier event of its
-- key; not claimable, so the claimable index (pending/failed) and the claims of unordered rows
-- are exactly what they were.
--   events_ordering_queue  each key's unfinished events in key order: the head is its first
--                          entry (sql/promote-ordering-key*.sql); the blocked-keys list counts
--                          a key's waiting events with it
--   events_ordering_live   each key's pending, failed, processing, delivering and dead events
--                          (normally one or none per key): whether a key is stopped (an event
--                          processing or delivering, a dead head blocking) and which events to demote, found without
--                          reading the key's waiting events; the blocked-keys list and unblock
-- Only ordered rows enter them (ordering_key IS NOT NULL): unordered events pay nothing.
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE events ADD COLUMN ordered_at INTEGER;
ALTER TABLE events ADD COLUMN ordering_on_dead TEXT CHECK (ordering_on_dead IN ('block', 'skip'));
ALTER TABLE events ADD COLUMN ordering_released_at INTEGER;

-- Widen the status check by `waiting`, whatever else it lists (another migration may have
-- widened it too). SQLite cannot alter a CHECK; its documented procedure for a change that
-- leaves every stored row valid is to edit the schema text (https://sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes"). The migration runner allows that for a
-- migration that switches writable_schema on, and bumps schema_version after it so other
-- connections re-read the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (status IN (', 'CHECK (status = ''waiting'' OR status IN (')
WHERE type = 'table' AND name = 'events';
PRAGMA writable_schema = OFF;

CREATE INDEX events_ordering_queue ON events (source, ordering_key, ordered_at, id)
  WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed', 'waiting');
CREATE INDEX events_ordering_live ON events (source, ordering_key, status)
  WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed', 'processing', 'delivering', 'dead');
