-- Audit rows for attempts that ended while their handler still runs (a timeout): written now,
-- fenced by the claim token, while the event stays held until the handler settles. The event's
-- last_error says why; its status and lease are left alone.
WITH input AS (
  SELECT *
  FROM unnest($2::text[], $3::integer[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[])
    AS i (event_id, token, outcome, started_at, finished_at, error)
),
held AS (
  UPDATE events e SET last_error = i.error, updated_at = coalesce($8::timestamptz, now())
  FROM input i
  WHERE e.id = i.event_id AND e.claim_token = i.token AND e.status = 'processing'
  RETURNING e.id, e.attempts, e.claim_token, i.outcome, i.started_at, i.finished_at, i.error
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT
    id, attempts, $1, started_at, finished_at,
    greatest(round(extract(epoch FROM finished_at - started_at) * 1000), 0)::bigint,
    outcome, error
  FROM held
)
SELECT id, claim_token FROM held
