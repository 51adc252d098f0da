-- Leases that ran out without a verdict (the worker crashed or hung): back to failed and due
-- now, or dead once the attempt budget ($2) is spent, with a lease_expired attempts row.
-- The expired CTE keeps the holder's lock columns for that row; SKIP LOCKED leaves rows a
-- worker is finishing right now to that worker.
WITH expired AS (
  SELECT id, locked_by, locked_at
  FROM events
  WHERE status = 'processing' AND locked_until <= $1
  ORDER BY id
  FOR UPDATE SKIP LOCKED
),
reclaimed AS (
  UPDATE events e SET
    status = CASE WHEN e.attempts >= $2 THEN 'dead' ELSE 'failed' END,
    next_attempt_at = $1,
    last_error = 'lease expired (worker ' || coalesce(x.locked_by, 'unknown') || ' stopped before finishing)',
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = $1
  FROM expired x
  WHERE e.id = x.id
  RETURNING e.id, e.attempts, e.last_error, x.locked_by, x.locked_at
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT
    id,
    attempts,
    coalesce(locked_by, 'unknown'),
    coalesce(locked_at, $1),
    $1,
    greatest(round(extract(epoch FROM $1::timestamptz - coalesce(locked_at, $1)) * 1000), 0)::bigint,
    'lease_expired',
    last_error
  FROM reclaimed
)
SELECT id FROM reclaimed ORDER BY id
