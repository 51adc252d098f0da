-- Apply worker verdicts, each fenced by its claim token: a verdict made under a claim that no
-- longer holds the event (reclaimed after its lease expired, released, or replaced by a newer
-- claim) matches no row and is dropped. Every applied verdict gets its attempts row in the same
-- statement, unless the row was written when the attempt timed out (already_recorded).
-- `released` (shutdown, an open breaker) hands the event back without counting the attempt.
-- Destinations: an event with deliveries is processed only when they all succeeded too, so a
-- processed or ignored verdict leaves it `delivering` while any remain, `dead` when one is dead
-- (the sweep, list-delivering-events.sql then settle-events.sql, catches a delivery verdict
-- committed meanwhile).
-- statement_timestamp(), not now(): inside a handler's transaction (ctx.tx) now() is when the
-- transaction began, before the handler ran; outside one the two are the same.
WITH t AS (SELECT coalesce($11::timestamptz, statement_timestamp()) AS now),
input AS (
  SELECT *
  FROM unnest(
    $2::text[], $3::integer[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bigint[],
    $8::text[], $9::bigint[], $10::boolean[]
  ) AS i (event_id, token, outcome, started_at, finished_at, duration_ms, error, retry_delay_ms, already_recorded)
),
-- destinations: begin
deliveries_of AS (
  SELECT d.event_id,
    CASE
      WHEN bool_or(d.status = 'dead') THEN 'dead'
      WHEN bool_and(d.status = 'succeeded') THEN 'processed'
      ELSE 'delivering'
    END AS status_after_handlers
  FROM deliveries d
  WHERE d.event_id = ANY ($2::text[])
  GROUP BY d.event_id
),
verdicts AS (
  SELECT i.*,
    CASE
      WHEN i.outcome = 'released' THEN 'pending'
      WHEN i.outcome IN ('processed', 'ignored') THEN coalesce(o.status_after_handlers, i.outcome)
      ELSE i.outcome
    END AS new_status
  FROM input i
  LEFT JOIN deliveries_of o ON o.event_id = i.event_id
),
-- destinations: end
finished AS (
  UPDATE events e SET
    status = i.new_status,
    attempts = CASE i.outcome WHEN 'released' THEN e.attempts - 1 ELSE e.attempts END,
    next_attempt_at = CASE
      WHEN i.outcome IN ('failed', 'released') THEN t.now + i.retry_delay_ms * interval '1 millisecond'
      ELSE e.next_attempt_at
    END,
    processed_at = CASE WHEN i.new_status IN ('processed', 'ignored') THEN t.now ELSE e.processed_at END,
    last_error = CASE
      WHEN i.new_status = 'dead' AND i.outcome IN ('processed', 'ignored') THEN 'a delivery of this event is dead'
      WHEN i.outcome = 'processed' THEN NULL
      WHEN i.outcome = 'released' THEN e.last_error
      ELSE i.error
    END,
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = t.now
  FROM verdicts i, t
  WHERE e.id = i.event_id
    AND e.claim_token = i.token
    AND e.status = 'processing'
  RETURNING
    e.id, e.attempts, e.claim_token, i.outcome, i.started_at, i.finished_at, i.duration_ms, i.error,
    i.already_recorded
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT
    id,
    -- A release gave the attempt back, so the attempt that ran was the one before the decrement.
    CASE outcome WHEN 'released' THEN attempts + 1 ELSE attempts END,
    $1, started_at, finished_at, duration_ms, outcome, error
  FROM finished
  WHERE NOT already_recorded
)
SELECT id, claim_token FROM finished
