-- Apply one worker verdict, fenced by its claim token: a verdict made under a claim that no
-- longer holds the event (reclaimed, released, replaced by a newer claim) changes nothing
-- (changes = 0; no RETURNING on this hot path). `released` (shutdown, an open breaker) hands
-- the event back without counting the attempt.
UPDATE events SET
  status = CASE @outcome WHEN 'released' THEN 'pending' ELSE @outcome END,
  attempts = CASE @outcome WHEN 'released' THEN attempts - 1 ELSE attempts END,
  next_attempt_at = CASE WHEN @outcome IN ('failed', 'released') THEN @now + @retryDelayMs ELSE next_attempt_at END,
  processed_at = CASE WHEN @outcome IN ('processed', 'ignored') THEN @now ELSE processed_at END,
  last_error = CASE @outcome WHEN 'processed' THEN NULL WHEN 'released' THEN last_error ELSE @error END,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE id = @eventId
  AND claim_token = @token
  AND status = 'processing'
