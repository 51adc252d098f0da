UPDATE events SET
  status = CASE WHEN attempts >= @maxAttempts THEN 'dead' ELSE 'failed' END,
  next_attempt_at = @now,
  last_error = 'lease expired (worker ' || coalesce(locked_by, 'unknown') || ' stopped before finishing)',
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE status = 'processing' AND locked_until <= @now
RETURNING id
