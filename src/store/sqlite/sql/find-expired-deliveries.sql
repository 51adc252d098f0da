SELECT id, attempts, locked_by, locked_at FROM deliveries INDEXED BY deliveries_held
WHERE status = 'processing' AND locked_until < @now
ORDER BY locked_until
LIMIT @limit
