-- Archive: finished events processed before $1, in id order after the cursor $2, $3 at a time,
-- with their bodies and headers.
SELECT
  e.id, e.source, e.provider, e.dedupe_key, e.event_type, e.status, e.attempts, e.next_attempt_at,
  e.locked_until, e.locked_by, e.locked_at, e.received_at, e.delivery_count, e.last_delivery_at,
  e.processed_at, e.last_error, e.updated_at, b.headers, b.body, b.body_sha256, b.body_scrubbed_at
FROM events e
JOIN event_bodies b ON b.event_id = e.id
WHERE e.status IN ('processed', 'ignored')
  AND e.processed_at < $1
  AND e.id > $2
ORDER BY e.id
LIMIT $3
