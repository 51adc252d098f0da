SELECT id, event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error
FROM attempts
WHERE event_id = @eventId
ORDER BY id
