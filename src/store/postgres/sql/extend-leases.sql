-- Fenced by the lock holder: a worker that lost an event cannot extend its lease.
UPDATE events SET locked_until = $3, updated_at = $4
WHERE id = ANY ($2::text[])
  AND locked_by = $1
  AND status = 'processing'
RETURNING id
