-- Retention, first stage: empty the body of finished events processed before @before, oldest
-- first, at most @limit per call (-1 is no limit). Everything else stays: metadata, headers,
-- the body's hash, the attempts.
UPDATE events SET
  body = X'',
  body_scrubbed_at = @now,
  updated_at = @now
WHERE id IN (
  SELECT id FROM events
  WHERE status IN ('processed', 'ignored') AND processed_at < @before AND body_scrubbed_at IS NULL
  ORDER BY processed_at
  LIMIT @limit
)
