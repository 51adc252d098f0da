-- Destinations (docs/destinations.md): each (event, destination) is a delivery with its own
-- status, attempts, lease and dead letter; destination_states holds what operators (or a 410)
-- changed, an absent row meaning active. Every index names the query it serves:
--   deliveries_event_destination  one row per (event, destination); an event's deliveries (verdicts,
--                                 the event's delivery summary, replay)
--   deliveries_claimable          claims, per destination, due rows in receipt order
--   deliveries_held               lease renewal and reclaim (the few processing rows)
--   deliveries_dead               the dead-letter list per destination (rare rows)
--   delivery_attempts_delivery    a delivery's attempts
--   events_delivering             the sweep that settles events whose last delivery finished
-- Events gain the status `delivering` (handlers done, deliveries remain). A CHECK cannot be
-- altered in SQLite, so `events` is rebuilt as 003 left it, with the longer status list.

CREATE TABLE events_v4 (
  id TEXT NOT NULL PRIMARY KEY,
  source TEXT NOT NULL CHECK (length(source) > 0),
  provider TEXT NOT NULL,
  dedupe_key TEXT NOT NULL CHECK (length(dedupe_key) > 0),
  event_type TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'ignored', 'delivering')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  claim_token INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  locked_until INTEGER,
  locked_by TEXT,
  locked_at INTEGER,
  received_at INTEGER NOT NULL,
  delivery_count INTEGER NOT NULL DEFAULT 1 CHECK (delivery_count >= 1),
  last_delivery_at INTEGER NOT NULL,
  processed_at INTEGER,
  last_error TEXT,
  updated_at INTEGER NOT NULL,
  UNIQUE (source, dedupe_key)
) STRICT, WITHOUT ROWID;
INSERT INTO events_v4 SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, claim_token, next_attempt_at,
  locked_until, locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at,
  last_error, updated_at
FROM events;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_claimable ON events (next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX events_held ON events (id) WHERE status = 'processing';
CREATE INDEX events_dead ON events (id) WHERE status = 'dead';
CREATE INDEX events_delivering ON events (id) WHERE status = 'delivering';

CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  source TEXT NOT NULL,
  destination TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  claim_token INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  locked_by TEXT,
  locked_at INTEGER,
  locked_until INTEGER,
  last_status_code INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
) STRICT;
CREATE UNIQUE INDEX deliveries_event_destination ON deliveries (event_id, destination);
CREATE INDEX deliveries_claimable ON deliveries (source, destination, next_attempt_at, event_id)
  WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_held ON deliveries (locked_until) WHERE status = 'processing';
CREATE INDEX deliveries_dead ON deliveries (source, destination, id) WHERE status = 'dead';

CREATE TABLE delivery_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id INTEGER NOT NULL,
  attempt_number INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
  status_code INTEGER,
  response_excerpt BLOB NOT NULL CHECK (length(response_excerpt) <= 1024),
  error_code TEXT,
  error TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'dead', 'disabled', 'lease_expired'))
) STRICT;
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

CREATE TABLE destination_states (
  source TEXT NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'disabled')),
  reason TEXT,
  changed_at INTEGER NOT NULL,
  PRIMARY KEY (source, name)
) STRICT, WITHOUT ROWID;
