-- Sync mode: take one named event under a lease now, whatever its next_attempt_at, if no
-- worker holds it and it is not finished.
UPDATE events SET
  status = 'processing',
  locked_by = @workerId,
  locked_at = @now,
  locked_until = @lockedUntil,
  attempts = attempts + 1,
  updated_at = @now
WHERE id = @id AND status IN ('pending', 'failed')
RETURNING
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  headers, body, body_sha256, updated_at
