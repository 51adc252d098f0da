-- An event delivered again goes back to delivering when it was finished: processed, ignored
-- (@finishedToo = 1, a replay), or dead only through its deliveries (its handlers' last verdict
-- was processed or ignored), and no delivery of it is dead any more.
UPDATE events SET status = 'delivering', last_error = NULL, updated_at = @now
WHERE id = @eventId
  AND (
    (@finishedToo = 1 AND status IN ('processed', 'ignored'))
    OR (
      status = 'dead'
      -- No attempt at all: an event only destinations took (forwardOnly), never handled.
      AND coalesce(
        (SELECT a.outcome FROM attempts a WHERE a.event_id = @eventId ORDER BY a.id DESC LIMIT 1), 'ignored'
      ) IN ('processed', 'ignored')
    )
  )
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status = 'dead')
