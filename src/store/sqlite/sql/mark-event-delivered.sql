-- A delivering event whose deliveries have all succeeded is processed.
UPDATE events SET status = 'processed', processed_at = @now, last_error = NULL, updated_at = @now
WHERE id = @eventId
  AND status = 'delivering'
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = @eventId AND d.status <> 'succeeded')
