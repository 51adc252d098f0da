-- Retention, first stage: empty the body of finished events processed before $1, oldest first,
-- at most $3 per call (NULL is no limit). Everything else stays: metadata, headers, the body's
-- hash, the attempts. The outer conditions repeat the inner ones so an event requeued in the
-- meantime (re-checked under its row lock) keeps its body.
UPDATE events SET
  body = ''::bytea,
  body_scrubbed_at = $2,
  updated_at = $2
WHERE id IN (
  SELECT id FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at < $1 AND body_scrubbed_at IS NULL
  ORDER BY processed_at
  LIMIT $3
)
  AND status IN ('processed', 'ignored')
  AND processed_at < $1
  AND body_scrubbed_at IS NULL
