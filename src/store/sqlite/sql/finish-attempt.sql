-- Apply one worker verdict, fenced by the lock holder: if the lease was reclaimed or another
-- worker holds the event now, nothing changes and no row comes back.
-- `released` (shutdown) hands the event back without counting the attempt.
UPDATE events SET
  status = CASE @outcome WHEN 'released' THEN 'pending' ELSE @outcome END,
  attempts = CASE @outcome WHEN 'released' THEN attempts - 1 ELSE attempts END,
  next_attempt_at = CASE @outcome
    WHEN 'failed' THEN coalesce(@nextAttemptAt, @now)
    WHEN 'released' THEN coalesce(@nextAttemptAt, @now)
    ELSE next_attempt_at
  END,
  processed_at = CASE WHEN @outcome IN ('processed', 'ignored') THEN @now ELSE processed_at END,
  last_error = CASE @outcome WHEN 'processed' THEN NULL WHEN 'released' THEN last_error ELSE @error END,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE id = @eventId
  AND locked_by = @workerId
  AND status = 'processing'
RETURNING id, attempts
