-- A failure counted outside the worker: one more attempt, dead once the budget ($4) is spent,
-- due after $3 ms otherwise, with a `manual` attempts row.
WITH t AS (SELECT coalesce($5::timestamptz, now()) AS now),
failed AS (
  UPDATE events e SET
    attempts = e.attempts + 1,
    status = CASE WHEN e.attempts + 1 >= $4 THEN 'dead' ELSE 'failed' END,
    last_error = $2,
    next_attempt_at = t.now + $3::bigint * interval '1 millisecond',
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = t.now
  FROM t
  WHERE e.id = $1 AND e.status <> 'processed'
  RETURNING e.id, e.status, e.attempts, e.last_error, t.now AS now
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT id, attempts, 'manual', now, now, 0, status, last_error FROM failed
)
SELECT id FROM failed
