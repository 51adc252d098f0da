-- A delivery whose lease ran out goes back to failed, due now (the lost attempt counts).
UPDATE deliveries SET
  status = 'failed', next_attempt_at = @now, last_error = @error,
  locked_by = NULL, locked_at = NULL, locked_until = NULL, updated_at = @now
WHERE id = @id AND status = 'processing' AND locked_until < @now
