-- Ordering (docs/ordering.md): ordered delivering events the sweep can settle (every delivery
-- succeeded, or one is dead), with their keys, so settle-events.sql can settle them under the
-- keys' locks. Up to $1, through events_delivering (migration 004).
SELECT e.id, e.source, e.ordering_key
FROM events e
WHERE e.status = 'delivering' AND e.ordering_key IS NOT NULL
  AND (
    EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'dead')
    OR NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status <> 'succeeded')
  )
ORDER BY e.id
LIMIT $1
