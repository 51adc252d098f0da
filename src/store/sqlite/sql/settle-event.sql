-- settle-delivering-events.sql for one event (@eventId), run shortly after its deliveries finished.
UPDATE events SET
  status = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status = 'dead') THEN 'dead'
    ELSE 'processed'
  END,
  processed_at = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status = 'dead') THEN processed_at
    ELSE @now
  END,
  last_error = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status = 'dead')
    THEN 'a delivery of this event is dead'
  END,
  updated_at = @now
WHERE id = @eventId
  AND status = 'delivering'
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId)
  AND (
    EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status = 'dead')
    OR NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status <> 'succeeded')
  )
