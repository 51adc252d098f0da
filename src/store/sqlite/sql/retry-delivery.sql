-- A failed or dead delivery back to pending, due now, with a fresh attempt budget.
UPDATE deliveries SET
  status = 'pending', attempts = 0, next_attempt_at = @now, finished_at = NULL, updated_at = @now
WHERE id = @id AND status IN ('failed', 'dead')
RETURNING *
