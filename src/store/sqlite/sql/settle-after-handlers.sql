-- After a processed or ignored handler verdict (finish-attempt.sql, same transaction): an event
-- with deliveries is processed only when they all succeeded, delivering while any remain, dead
-- when one is dead. An event without deliveries is left as the verdict made it.
UPDATE events SET
  status = (
    SELECT CASE
      WHEN max(d.status = 'dead') THEN 'dead'
      WHEN min(d.status = 'succeeded') THEN 'processed'
      ELSE 'delivering'
    END
    FROM deliveries d WHERE d.event_id = @eventId
  ),
  processed_at = CASE
    WHEN NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status <> 'succeeded')
    THEN processed_at
  END,
  last_error = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status = 'dead')
    THEN 'a delivery of this event is dead'
    ELSE last_error
  END
WHERE id = @eventId
  AND status IN ('processed', 'ignored')
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId)
