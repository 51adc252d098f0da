UPDATE events SET
  status = 'pending',
  next_attempt_at = @now,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE status = 'processing' AND locked_at < @lockedBefore
