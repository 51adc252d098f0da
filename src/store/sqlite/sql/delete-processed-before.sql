-- Retention: finished events processed before @before, oldest events first (by id: the primary
-- key serves the walk), at most @limit per call (-1 is no limit). The caller deletes the bodies
-- and attempts of the ids this returns, in the same transaction.
DELETE FROM events
WHERE id IN (
  SELECT id FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at < @before
  ORDER BY id
  LIMIT @limit
)
RETURNING id
