-- Retention, first stage: empty the body of finished events processed before $1, walking
-- events in id order after the cursor $3, at most $4 per call (NULL is no limit). Everything
-- else stays: metadata, headers, the body's hash, the attempts. Returns the rows scrubbed and
-- the last id looked at, so the caller goes on from there instead of stepping over the
-- already-scrubbed rows again.
WITH candidates AS (
  SELECT e.id, e.status, e.processed_at
  FROM events e
  WHERE e.id > $3
  ORDER BY e.id
  LIMIT $4
),
scrubbed AS (
  UPDATE event_bodies b SET body = ''::bytea, body_scrubbed_at = coalesce($2::timestamptz, now())
  FROM candidates c
  WHERE b.event_id = c.id
    AND c.status IN ('processed', 'ignored')
    AND c.processed_at < $1
    AND b.body_scrubbed_at IS NULL
  RETURNING b.event_id
)
SELECT (SELECT count(*) FROM scrubbed) AS count, (SELECT max(id) FROM candidates) AS last_id
