-- Received-to-processed latency of events processed in the window, read from their processed
-- attempts (attempts_finished_at finds them; no index on events.processed_at is needed).
SELECT a.finished_at - e.received_at AS latency
FROM attempts a
JOIN events e ON e.id = a.event_id
WHERE a.outcome = 'processed' AND a.finished_at >= @since AND a.finished_at <= @until
ORDER BY a.finished_at DESC
LIMIT @limit
