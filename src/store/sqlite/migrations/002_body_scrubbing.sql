-- Retention may empty the body of old processed events while keeping their metadata, headers,
-- hash and attempts (Store.scrubBodiesBefore); body_scrubbed_at says when (epoch ms). NULL: the
-- body is the one stored at ingest.
ALTER TABLE events ADD COLUMN body_scrubbed_at INTEGER;

-- Scrubbing reads finished events not scrubbed yet, oldest first; without this index each run
-- would step over every already-scrubbed row first.
CREATE INDEX events_unscrubbed ON events (processed_at)
  WHERE status IN ('processed', 'ignored') AND body_scrubbed_at IS NULL;
