-- One expired lease back to failed (due after the worker's backoff delay) or dead, fenced by
-- its claim token and re-checked: a holder that renewed in the meantime keeps its event. The
-- caller writes the lease_expired attempts row.
UPDATE events SET
  status = @outcome,
  next_attempt_at = @now + @retryDelayMs,
  last_error = @error,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE id = @eventId
  AND claim_token = @token
  AND status = 'processing'
  AND locked_until <= @now
RETURNING id, attempts
