SELECT processed_at - received_at AS latency
FROM events
WHERE status = 'processed' AND processed_at >= @since AND processed_at <= @until
ORDER BY processed_at DESC
LIMIT @limit
