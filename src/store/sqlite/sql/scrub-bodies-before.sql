-- Retention, first stage: empty the body of finished events processed before @before among the
-- events after the cursor @afterId in id order, at most @limit of them per call (-1 is no
-- limit). Everything else stays: metadata, headers, the body's hash, the attempts. The caller
-- reads the last id looked at (last-scrub-candidate.sql) and goes on from there, instead of
-- stepping over the already-scrubbed rows again.
UPDATE event_bodies SET body = X'', body_scrubbed_at = @now
WHERE event_id IN (
  SELECT e.id FROM (SELECT id, status, processed_at FROM events WHERE id > @afterId ORDER BY id LIMIT @limit) e
  WHERE e.status IN ('processed', 'ignored') AND e.processed_at < @before
)
  AND body_scrubbed_at IS NULL
