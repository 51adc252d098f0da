-- Core v2: a narrow hot row and claims fenced by a token.
--
-- Claims, lease renewals and outcomes rewrite an `events` row many times; the body and
-- headers are written once. So they move to `event_bodies`, and `events` is rebuilt as a
-- WITHOUT ROWID table clustered on its ULID (one b-tree, not a rowid table plus a key index).
-- Every index left names the query it serves (docs/benchmarks.md has the measured cost):
--   primary key (id)       get by id, list newest first, the cursor, received-time filters
--                          (ids are ULIDs: a time bound is an id bound)
--   unique (source, key)   ingest's dedupe upsert; list and search by source
--   events_claimable       claims (due pending/failed rows), also lists those statuses
--   events_held            lease renewal and reclaim, held counts (the few processing rows)
--   events_dead            the dead-letter list and count (rare rows)
-- No foreign keys: each insert would pay a lookup in events; deletions go through Hookbox's
-- own statements, which delete bodies and attempts with their events. The attempts table is
-- rebuilt first, without its reference, so dropping the old events table cascades nothing.

CREATE TABLE attempts_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL
    CHECK (outcome IN ('processed', 'failed', 'dead', 'ignored', 'lease_expired', 'released')),
  error TEXT
) STRICT;
INSERT INTO attempts_v2 (id, event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
SELECT id, event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v2 RENAME TO attempts;
CREATE INDEX attempts_event_id ON attempts (event_id);
CREATE INDEX attempts_finished_at ON attempts (finished_at);

CREATE TABLE event_bodies (
  event_id TEXT NOT NULL PRIMARY KEY,
  headers TEXT NOT NULL CHECK (json_valid(headers)),
  body BLOB NOT NULL,
  body_sha256 TEXT NOT NULL,
  body_scrubbed_at INTEGER
) STRICT;
INSERT INTO event_bodies (event_id, headers, body, body_sha256, body_scrubbed_at)
SELECT id, headers, body, body_sha256, body_scrubbed_at FROM events;

CREATE TABLE events_v2 (
  id TEXT NOT NULL PRIMARY KEY,
  source TEXT NOT NULL CHECK (length(source) > 0),
  provider TEXT NOT NULL,
  dedupe_key TEXT NOT NULL CHECK (length(dedupe_key) > 0),
  event_type TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'ignored')),
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
INSERT INTO events_v2 (
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  updated_at
)
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  updated_at
FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;

CREATE INDEX events_claimable ON events (next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX events_held ON events (id) WHERE status = 'processing';
CREATE INDEX events_dead ON events (id) WHERE status = 'dead';
