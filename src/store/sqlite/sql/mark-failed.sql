-- A failure counted outside the worker: one more attempt, dead once the budget is spent.
UPDATE events SET
  attempts = attempts + 1,
  status = CASE WHEN attempts + 1 >= @maxAttempts THEN 'dead' ELSE 'failed' END,
  last_error = @error,
  next_attempt_at = @nextAttemptAt,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE id = @id AND status <> 'processed'
RETURNING
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  headers, body, body_sha256, updated_at
