-- Apply one delivery verdict, fenced by its claim token. `disabled` (a 410) and `released`
-- (shutdown, a pause, a lost claim) put it back to pending; `released` gives the attempt back.
-- Only `failed` moves the due time: the other two keep theirs, and with it their place in
-- receipt order when the destination takes deliveries again.
UPDATE deliveries SET
  status = CASE WHEN @outcome IN ('released', 'disabled') THEN 'pending' ELSE @outcome END,
  attempts = CASE @outcome WHEN 'released' THEN attempts - 1 ELSE attempts END,
  next_attempt_at = CASE WHEN @outcome = 'failed' THEN @now + @retryDelayMs ELSE next_attempt_at END,
  finished_at = CASE WHEN @outcome IN ('succeeded', 'dead') THEN @now END,
  last_status_code = CASE @outcome WHEN 'released' THEN last_status_code ELSE @statusCode END,
  last_error = CASE @outcome WHEN 'succeeded' THEN NULL WHEN 'released' THEN last_error ELSE @error END,
  locked_by = NULL,
  locked_at = NULL,
  locked_until = NULL,
  updated_at = @now
WHERE id = @id AND claim_token = @token AND status = 'processing'
RETURNING id, claim_token, event_id, source, destination, attempts
