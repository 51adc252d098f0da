-- Received-to-processed latency of events processed in the window, read from their processed
-- attempts (attempts_finished_at finds them; no index on events.processed_at is needed).
SELECT round(extract(epoch FROM a.finished_at - e.received_at) * 1000)::float8 AS latency
FROM attempts a
JOIN events e ON e.id = a.event_id
WHERE a.outcome = 'processed' AND a.finished_at >= $1 AND a.finished_at <= $2
ORDER BY a.finished_at DESC
LIMIT $3
