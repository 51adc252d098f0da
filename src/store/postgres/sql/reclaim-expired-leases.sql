-- Expired leases back to failed (due after the worker's backoff delay for that attempt) or dead
-- once the attempt budget is spent, each with a lease_expired attempts row. Fenced by the claim
-- token and re-checked: a holder that renewed in the meantime keeps its event.
WITH t AS (SELECT coalesce($1::timestamptz, now()) AS now),
input AS (
  SELECT *
  FROM unnest($2::text[], $3::integer[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[])
    AS i (event_id, token, outcome, retry_delay_ms, locked_by, locked_at)
),
reclaimed AS (
  UPDATE events e SET
    status = i.outcome,
    next_attempt_at = t.now + i.retry_delay_ms * interval '1 millisecond',
    last_error = 'lease expired (worker ' || coalesce(i.locked_by, 'unknown') || ' stopped before finishing)',
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = t.now
  FROM input i, t
  WHERE e.id = i.event_id
    AND e.claim_token = i.token
    AND e.status = 'processing'
    AND e.locked_until <= t.now
  RETURNING e.id, e.attempts, e.last_error, i.locked_by, i.locked_at, t.now AS now
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT
    id,
    attempts,
    coalesce(locked_by, 'unknown'),
    coalesce(locked_at, now),
    now,
    greatest(round(extract(epoch FROM now - coalesce(locked_at, now)) * 1000), 0)::bigint,
    'lease_expired',
    last_error
  FROM reclaimed
)
SELECT id FROM reclaimed ORDER BY id
