-- Columns are listed, not *, so a prepared statement in a running process keeps its result
-- shape when a later migration adds a column.
SELECT id, event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error
FROM attempts
WHERE event_id = $1
ORDER BY id
