-- Retention: finished events, oldest first, at most @limit per call (-1 is no limit in SQLite).
DELETE FROM events
WHERE id IN (
  SELECT id FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at < @before
  ORDER BY processed_at
  LIMIT @limit
)
