-- Apply worker verdicts, each fenced by the lock holder ($1): a result whose lease was
-- reclaimed, or whose event another worker holds now, matches no row and is skipped. Every
-- applied verdict gets its attempts row in the same statement. `released` (shutdown) hands
-- the event back without counting the attempt.
WITH input AS (
  SELECT *
  FROM unnest(
    $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::text[], $8::timestamptz[]
  ) AS t (event_id, outcome, started_at, finished_at, duration_ms, error, next_attempt_at)
),
finished AS (
  UPDATE events e SET
    status = CASE i.outcome WHEN 'released' THEN 'pending' ELSE i.outcome END,
    attempts = CASE i.outcome WHEN 'released' THEN e.attempts - 1 ELSE e.attempts END,
    next_attempt_at = CASE i.outcome
      WHEN 'failed' THEN coalesce(i.next_attempt_at, $9)
      WHEN 'released' THEN coalesce(i.next_attempt_at, $9)
      ELSE e.next_attempt_at
    END,
    processed_at = CASE WHEN i.outcome IN ('processed', 'ignored') THEN $9 ELSE e.processed_at END,
    last_error = CASE i.outcome WHEN 'processed' THEN NULL WHEN 'released' THEN e.last_error ELSE i.error END,
    locked_by = NULL,
    locked_until = NULL,
    locked_at = NULL,
    updated_at = $9
  FROM input i
  WHERE e.id = i.event_id
    AND e.locked_by = $1
    AND e.status = 'processing'
  RETURNING e.id, e.attempts, i.outcome, i.started_at, i.finished_at, i.duration_ms, i.error
),
recorded AS (
  INSERT INTO attempts (event_id, attempt_number, worker_id, started_at, finished_at, duration_ms, outcome, error)
  SELECT
    id,
    -- A release gave the attempt back, so the attempt that ran was the one before the decrement.
    CASE outcome WHEN 'released' THEN attempts + 1 ELSE attempts END,
    $1, started_at, finished_at, duration_ms, outcome, error
  FROM finished
)
SELECT id FROM finished
