-- Fenced by the lock holder: a worker that lost an event cannot extend its lease.
UPDATE events SET locked_until = @lockedUntil, updated_at = @now
WHERE id IN (SELECT value FROM json_each(@ids))
  AND locked_by = @workerId
  AND status = 'processing'
RETURNING id
