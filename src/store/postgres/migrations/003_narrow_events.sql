-- Core v2: a narrow hot row and claims fenced by a token.
--
-- Claims, lease renewals and outcomes rewrite an `events` row many times; the body and
-- headers are written once. So they move to `event_bodies`, and every index left on `events`
-- names the query it serves (docs/benchmarks.md has the measured cost of each):
--   events_pkey           get by id, list newest first, the cursor, received-time filters
--                         (ids are ULIDs: a time bound is an id bound)
--   events_source_..._key ingest's dedupe upsert; list and search by source
--   events_claimable      claims (due pending/failed rows), also lists those statuses
--   events_held           lease renewal and reclaim, held counts (the few processing rows)
--   events_dead           the dead-letter list and count (rare rows)
-- Nothing indexes locked_until, delivery_count or updated_at, so a lease renewal and a
-- duplicate delivery's count are HOT updates (fillfactor leaves room on the page for them).
-- No foreign keys: each insert would pay a lookup in events; deletions go through Hookbox's
-- own statements, which delete bodies and attempts with their events.

CREATE TABLE event_bodies (
  event_id text COLLATE "C" PRIMARY KEY,
  headers jsonb NOT NULL CHECK (jsonb_typeof(headers) = 'object'),
  body bytea NOT NULL,
  body_sha256 text NOT NULL,
  body_scrubbed_at timestamptz
);

INSERT INTO event_bodies (event_id, headers, body, body_sha256, body_scrubbed_at)
SELECT id, headers, body, body_sha256, body_scrubbed_at FROM events;

ALTER TABLE attempts DROP CONSTRAINT attempts_event_id_fkey;

DROP INDEX events_status_id;
DROP INDEX events_source_id;
DROP INDEX events_received_at;
DROP INDEX events_dedupe_key;
DROP INDEX events_finished;
DROP INDEX events_body_sha256;
DROP INDEX events_redelivered;
DROP INDEX events_unscrubbed;
DROP INDEX events_leases;
DROP INDEX events_processing_since;

ALTER TABLE events
  DROP COLUMN headers,
  DROP COLUMN body,
  DROP COLUMN body_sha256,
  DROP COLUMN body_scrubbed_at,
  ADD COLUMN claim_token integer NOT NULL DEFAULT 0;
-- Rows rewritten from now on leave a fifth of each page free for HOT updates.
ALTER TABLE events SET (fillfactor = 80);

CREATE INDEX events_held ON events (id) WHERE status = 'processing';
CREATE INDEX events_dead ON events (id) WHERE status = 'dead';
