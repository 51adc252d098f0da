-- A failure counted outside the worker: one more attempt, dead once the budget ($4) is spent,
-- with a `manual` attempts row.
WITH failed AS (
  UPDATE events SET
    attempts = attempts + 1,
    status = CASE WHEN attempts + 1 >= $4 THEN 'dead' ELSE 'failed' END,
    last_error = $2,
    next_attempt_at = $3,
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = $5
  WHERE id = $1 AND status <> 'processed'
  RETURNING
    id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
    locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
    headers, body, body_sha256, updated_at
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT id, attempts, 'manual', $5, $5, 0, status, last_error FROM failed
)
SELECT
  id, source, provider, dedupe_key, event_type, status, attempts, next_attempt_at, locked_until,
  locked_by, locked_at, received_at, delivery_count, last_delivery_at, processed_at, last_error,
  headers, body, body_sha256, updated_at
FROM failed
