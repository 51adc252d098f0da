-- Columns are listed, not *, so a prepared statement in a running process keeps its result
-- shape when a later migration adds a column.
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  headers, body, body_sha256, updated_at
FROM events
WHERE source = $1 AND dedupe_key = $2
