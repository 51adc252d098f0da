-- The safety net beside the verdicts (as on PostgreSQL, where verdicts on different processes
-- may not see each other): delivering events whose deliveries all succeeded become processed,
-- those with a dead delivery dead. Walks them in id order after @afterId, @limit at a time.
UPDATE events SET
  status = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'dead') THEN 'dead'
    ELSE 'processed'
  END,
  processed_at = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'dead') THEN processed_at
    ELSE @now
  END,
  last_error = CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'dead')
    THEN 'a delivery of this event is dead'
  END,
  updated_at = @now
WHERE id IN (
  SELECT id FROM events INDEXED BY events_delivering
  WHERE status = 'delivering' AND id > @afterId
  ORDER BY id
  LIMIT @limit
)
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)
  AND (
    EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'dead')
    OR NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status <> 'succeeded')
  )
RETURNING id
