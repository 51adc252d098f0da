SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  updated_at
FROM events
WHERE status = 'failed' AND next_attempt_at <= coalesce($1::timestamptz, now())
ORDER BY next_attempt_at, id
LIMIT $2
