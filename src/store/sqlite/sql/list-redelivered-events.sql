-- An on-demand report: no index on delivery_count, so counting a duplicate costs no index write.
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  updated_at
FROM events
WHERE delivery_count > 1
ORDER BY delivery_count DESC, id DESC
LIMIT @limit
