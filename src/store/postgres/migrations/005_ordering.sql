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
ALTER TABLE events
  ADD COLUMN ordering_key text COLLATE "C",
  ADD COLUMN ordered_at timestamptz,
  ADD COLUMN ordering_on_dead text CHECK (ordering_on_dead IN ('block', 'skip')),
  ADD COLUMN ordering_released_at timestamptz;

-- Widen the status check by `waiting`, whatever else it lists (another migration may have
-- widened it too): the new check is the old one OR status = 'waiting'.
DO $$
DECLARE
  definition text;
BEGIN
  SELECT pg_get_constraintdef(c.oid) INTO definition
  FROM pg_constraint c
  WHERE c.conrelid = 'events'::regclass AND c.conname = 'events_status_check';
  IF definition IS NULL THEN
    RAISE EXCEPTION 'events_status_check not found: the events table is not the one migration 001 made';
  END IF;
  ALTER TABLE events DROP CONSTRAINT events_status_check;
  EXECUTE format(
    'ALTER TABLE events ADD CONSTRAINT events_status_check CHECK (status = %L OR %s)',
    'waiting',
    substring(definition FROM '^CHECK \((.*)\)$')
  );
END
$$;

CREATE INDEX events_ordering_queue ON events (source, ordering_key, ordered_at, id)
  WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed', 'waiting');
CREATE INDEX events_ordering_live ON events (source, ordering_key, status)
  WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed', 'processing', 'delivering', 'dead');
