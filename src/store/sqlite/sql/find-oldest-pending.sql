SELECT id, source, event_type, received_at
FROM events
WHERE status IN ('pending', 'failed', 'processing')
ORDER BY received_at, id
LIMIT 1
