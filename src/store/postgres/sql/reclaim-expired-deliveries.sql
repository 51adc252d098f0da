-- Deliveries whose lease ran out (their process died or stopped answering) go back to failed,
-- due now, with a lease_expired attempts row; the lost attempt counts. SKIP LOCKED: a row being
-- finished right now by its holder is left to that verdict.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
expired AS (
  SELECT d.id, d.locked_by, d.locked_at
  FROM deliveries d, t
  WHERE d.status = 'processing' AND d.locked_until < t.now
  ORDER BY d.locked_until
  LIMIT $2
  FOR UPDATE OF d SKIP LOCKED
),
reclaimed AS (
  UPDATE deliveries d SET
    status = 'failed',
    next_attempt_at = t.now,
    last_error = 'lease expired (worker ' || coalesce(d.locked_by, 'unknown') || ' stopped before finishing)',
    locked_by = NULL, locked_at = NULL, locked_until = NULL, updated_at = t.now
  FROM expired x, t
  WHERE d.id = x.id
  RETURNING d.id, d.attempts, d.last_error, x.locked_by, x.locked_at
),
recorded AS (
  INSERT INTO delivery_attempts (
    delivery_id, attempt_number, worker_id, started_at, duration_ms, status_code, response_excerpt,
    error_code, error, outcome
  )
  SELECT r.id, r.attempts, coalesce(r.locked_by, 'unknown'), coalesce(r.locked_at, t.now),
    greatest(0, (extract(epoch FROM (t.now - coalesce(r.locked_at, t.now))) * 1000)::integer),
    NULL, ''::bytea, 'lease_expired', r.last_error, 'lease_expired'
  FROM reclaimed r, t
)
SELECT count(*) AS count FROM reclaimed
