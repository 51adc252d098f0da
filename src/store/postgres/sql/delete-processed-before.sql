-- Retention: finished events, oldest first, at most $2 per call (NULL is no limit).
DELETE FROM events
WHERE id IN (
  SELECT id FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at < $1
  ORDER BY processed_at
  LIMIT $2
)
