-- Manual completion of every listed event not processed yet. An already processed event is
-- not touched at all (its updated_at stays). The caller writes a `manual` attempt row per id.
UPDATE events SET
  status = 'processed',
  processed_at = @now,
  last_error = NULL,
  locked_by = NULL,
  locked_until = NULL,
  locked_at = NULL,
  updated_at = @now
WHERE id IN (SELECT value FROM json_each(@ids))
  AND status <> 'processed'
RETURNING id, attempts
