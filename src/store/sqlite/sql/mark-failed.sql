-- A failure counted outside the worker: one more attempt, dead once the budget is spent, due
-- after @retryDelayMs otherwise. The caller writes the `manual` attempts row.
UPDATE events SET
  attempts = attempts + 1,
  status = CASE WHEN attempts + 1 >= @maxAttempts THEN 'dead' ELSE 'failed' END,
  last_error = @error,
  next_attempt_at = @now + @retryDelayMs,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE id = @id AND status <> 'processed'
RETURNING id, status, attempts
