-- Sync mode: take one named event under a lease now, whatever its next_attempt_at, if no
-- worker holds it and it is not finished. A concurrent claimer waits on the row lock and then
-- finds it processing, so only one of them gets it.
UPDATE events SET
  status = 'processing',
  locked_by = $2,
  locked_at = $3,
  locked_until = $4,
  attempts = attempts + 1,
  updated_at = $3
WHERE id = $1 AND status IN ('pending', 'failed')
RETURNING
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  headers, body, body_sha256, updated_at
